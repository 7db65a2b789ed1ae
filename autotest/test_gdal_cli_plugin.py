"""`gdal raster batch-warp`: the gdal_batchwarp engine as a plugin of the
`gdal` program (GDAL >= 3.11), loaded from GDAL_DRIVER_PATH. Its outputs are
identical to gdalwarp's and to the standalone program's."""
import os
import shutil
import subprocess

import pytest
from osgeo import gdal

from conftest import all_files, assert_same_raster, make_small_rasters, read_report

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture(scope="module")
def gdal_cli(batchwarp_bin):
    """Environment that loads the plugin into `gdal`."""
    if int(gdal.VersionInfo("VERSION_NUM")) < 3110000:
        pytest.skip(f"GDAL {gdal.__version__} < 3.11: no `gdal` CLI algorithms, the plugin is not built")
    if shutil.which("gdal") is None:
        pytest.skip("the `gdal` program is not installed")
    plugin_dir = os.environ.get("GDAL_BATCHWARP_GDAL_PLUGIN_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(batchwarp_bin)), "plugin", "gdal_algorithm")
    plugin = os.path.join(plugin_dir, "gdal_BatchWarp.so")
    # GDAL is new enough: the build must have made the plugin.
    assert os.path.exists(plugin), f"{plugin} was not built with GDAL {gdal.__version__}"
    return {**os.environ, "GDAL_DRIVER_PATH": plugin_dir}


def run(argv, env, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=120, **kw)


def test_listed_and_documented(gdal_cli):
    res = run(["gdal", "raster", "--help"], gdal_cli)
    assert "batch-warp" in res.stdout + res.stderr
    res = run(["gdal", "raster", "batch-warp", "--help"], gdal_cli)
    assert res.returncode == 0, res.stderr
    for arg in ("--input", "--output-dir", "--dst-crs", "--resampling", "--num-workers"):
        assert arg in res.stdout, arg


def test_outputs_identical_to_gdalwarp_and_the_program(tmp_path, gdal_cli, run_batchwarp, run_gdalwarp):
    sources = make_small_rasters(tmp_path / "in", 5, size=32)
    report = tmp_path / "report.jsonl"
    res = run(["gdal", "raster", "batch-warp", "--dst-crs", "EPSG:3857", "-r", "bilinear", "-j", "2",
               "--report", report, tmp_path / "in", tmp_path / "via_gdal"], gdal_cli)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(read_report(report)) == 5

    res = run_batchwarp([*WARP, "-q", tmp_path / "in", "-outdir", tmp_path / "via_program"])
    assert res.returncode == 0, res.stderr
    assert all_files(tmp_path / "via_gdal") == all_files(tmp_path / "via_program") == [
        os.path.basename(s) for s in sources]
    for s in sources:
        name = os.path.basename(s)
        ref = tmp_path / f"ref_{name}"
        run_gdalwarp(WARP, s, ref)
        assert_same_raster(tmp_path / "via_gdal" / name, ref)
        assert_same_raster(tmp_path / "via_program" / name, ref)


def test_failure_is_reported(tmp_path, gdal_cli):
    make_small_rasters(tmp_path / "in", 1)
    (tmp_path / "in" / "bad.tif").write_text("not a raster")
    res = run(["gdal", "raster", "batch-warp", "--dst-crs", "EPSG:3857", tmp_path / "in", tmp_path / "out"],
              gdal_cli)
    assert res.returncode != 0
    assert "bad.tif" in res.stderr
    assert all_files(tmp_path / "out") == ["t0000.tif"]
