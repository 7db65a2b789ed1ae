"""The command line as gdalwarp reads it (issue 12 items 3, 6 and 8): options
with optional values, GDAL's own messages and exit codes for what GDAL or a
simple check refuses, and directory sources that do not exist."""
import os
import re

import pytest

from conftest import make_raster


def gdalwarp_messages(gdalwarp_bin, options, src, dst):
    """The ERROR and Warning lines gdalwarp prints for `options src dst`."""
    import subprocess

    res = subprocess.run([gdalwarp_bin, *map(str, options), str(src), str(dst)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    return res.returncode, [m.group(1) for m in re.finditer(r"^(?:ERROR \d+|Warning \d+): (.*)$",
                                                          res.stderr, re.M)]


def planned(res):
    """source -> output pairs of a -dry_run."""
    return [tuple(line.split(" -> ")) for line in res.stdout.splitlines()]


@pytest.mark.parametrize("extra", [["-j", "1"], []])
def test_optional_value_of_refine_gcps_is_not_a_source(tmp_path, run_batchwarp, extra):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp(["-refine_gcps", "0.1", "3", src, *extra, "-outdir", out, "-dry_run"])
    assert res.returncode == 0, res.stderr
    assert planned(res) == [(str(src), str(out / "a.tif"))]
    # Without the optional value, the next word is a source again.
    res = run_batchwarp(["-refine_gcps", "0.1", src, "-outdir", out, "-dry_run"])
    assert res.returncode == 0, res.stderr
    assert planned(res) == [(str(src), str(out / "a.tif"))]


def test_short_tr_before_a_batch_option_gets_gdals_message(tmp_path, run_batchwarp, gdalwarp_bin):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp(["-tr", "30", "-j", "2", src, "-outdir", out])
    assert res.returncode == 2
    assert "Unknown option name '-tr'" not in res.stderr
    # gdalwarp reads "-tr 30 -j" as -tr's two values: its message is ours.
    _, messages = gdalwarp_messages(gdalwarp_bin, ["-tr", "30", "-j", "2"], src, tmp_path / "x.tif")
    assert messages and all(m in res.stderr for m in messages), (messages, res.stderr)
    assert "-tr" in res.stderr
    assert not out.exists()


def test_unknown_input_driver_is_reported_up_front(tmp_path, run_batchwarp, gdalwarp_bin):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    res = run_batchwarp(["-if", "NoSuchDriver", src, "-outdir", tmp_path / "out", "-dry_run"])
    _, messages = gdalwarp_messages(gdalwarp_bin, ["-if", "NoSuchDriver"], src, tmp_path / "x.tif")
    assert "NoSuchDriver is not a recognized driver" in messages
    assert "NoSuchDriver is not a recognized driver" in res.stderr


@pytest.mark.parametrize("options", [["-tap"], ["-tap", "-t_srs", "EPSG:3857"],
                                     ["-tr", "1", "1", "-ts", "4", "4"]])
def test_combinations_gdalwarp_refuses_are_refused_up_front(tmp_path, run_batchwarp, gdalwarp_bin,
                                                            options):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    rc, messages = gdalwarp_messages(gdalwarp_bin, options, src, tmp_path / "x.tif")
    assert rc != 0 and messages
    out = tmp_path / "out"
    res = run_batchwarp([*options, src, "-outdir", out])
    assert res.returncode == 2, res.stderr
    assert messages[0] in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("driver", ["MEM", "WMTS"])
def test_formats_that_write_no_file_are_refused(tmp_path, run_batchwarp, driver):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp(["-of", driver, src, "-outdir", out])
    assert res.returncode == 2, res.stderr
    assert f"'{driver}'" in res.stderr and "no file" in res.stderr
    assert not out.exists()


def test_f_is_of(tmp_path, run_batchwarp):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp(["-f", "VRT", src, "-outdir", out, "-dry_run"])
    assert res.returncode == 0, res.stderr
    assert planned(res) == [(str(src), str(out / "a.vrt"))]


@pytest.mark.parametrize("missing", ["missing/", "/vsimem/nope/"])
def test_missing_directory_source_is_named(tmp_path, run_batchwarp, missing):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp([src, missing, "-outdir", out], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert f"Source directory '{missing}' does not exist" in res.stderr
    assert not os.path.exists(out / ".tif")
    assert not out.exists()
