"""The command line as gdalwarp reads it (issue 12 items 3, 6 and 8): options
with optional values, GDAL's own messages and exit codes for what GDAL or a
simple check refuses, and directory sources that do not exist."""
import os
import re
import shutil
import subprocess

import pytest
from osgeo import gdal

from conftest import make_raster


def gdalwarp_messages(gdalwarp_bin, options, src, dst):
    """The ERROR and Warning lines gdalwarp prints for `options src dst`."""
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


@pytest.mark.parametrize("missing", ["missing/", "/vsitar/nope.tar/"])
def test_missing_directory_source_is_named(tmp_path, run_batchwarp, missing):
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp([src, missing, "-outdir", out], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert f"Source directory '{missing}' does not exist" in res.stderr
    assert not os.path.exists(out / ".tif")
    assert not out.exists()


###############################################################################
# --config and --debug act before drivers register, as in gdalwarp (issue 16)

# A driver plugin: a raster format that can be named with -of.
DUMMY_PLUGIN = r"""
#include <gdal.h>
void GDALRegister_BWDummy(void);
void GDALRegister_BWDummy(void)
{
    if (GDALGetDriverByName("BWDummy") != NULL)
        return;
    GDALDriverH hDriver = GDALCreateDriver();
    GDALSetDescription(hDriver, "BWDummy");
    GDALSetMetadataItem(hDriver, GDAL_DCAP_RASTER, "YES", NULL);
    GDALSetMetadataItem(hDriver, GDAL_DCAP_CREATE, "YES", NULL);
    GDALSetMetadataItem(hDriver, GDAL_DMD_EXTENSION, "bwd", NULL);
    GDALRegisterDriver(hDriver);
}
"""


def gdal_at_least(major, minor):
    return int(gdal.VersionInfo("VERSION_NUM")) >= major * 1000000 + minor * 10000


def config_forms(key, value):
    """`--config KEY VALUE`, and `--config KEY=VALUE` where GDAL reads it (3.9)."""
    return [pytest.param(["--config", key, value], id="key-value"),
            pytest.param(["--config", f"{key}={value}"], id="key=value",
                         marks=pytest.mark.skipif(not gdal_at_least(3, 9),
                                                  reason="--config KEY=VALUE needs GDAL 3.9"))]


@pytest.fixture(scope="module")
def dummy_plugin_dir(tmp_path_factory):
    if shutil.which("cc") is None or shutil.which("gdal-config") is None:
        pytest.skip("no C compiler or gdal-config")
    build = tmp_path_factory.mktemp("plugin_src")
    (build / "dummy.c").write_text(DUMMY_PLUGIN)
    cflags = subprocess.run(["gdal-config", "--cflags"], stdout=subprocess.PIPE, text=True,
                            check=True).stdout.split()
    plugins = tmp_path_factory.mktemp("plugins")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", plugins / "gdal_BWDummy.so", build / "dummy.c", *cflags],
                   check=True)
    return plugins


@pytest.mark.parametrize("config", config_forms("GDAL_DRIVER_PATH", "disable"))
def test_config_driver_path_acts_before_registration(tmp_path, run_batchwarp, gdalwarp_bin, dummy_plugin_dir,
                                                     config):
    """A plugin directory in the environment, disabled with --config: the
    batch refuses the plugin's format up front, as gdalwarp does, instead of
    accepting it and failing every task in workers that do not have it."""
    env = {**os.environ, "GDAL_DRIVER_PATH": str(dummy_plugin_dir)}
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    # The plugin is a format for the batch when nothing disables it.
    res = run_batchwarp(["-of", "BWDummy", src, "-outdir", out, "-dry_run"], env=env)
    assert res.returncode == 0, res.stderr
    assert planned(res) == [(str(src), str(out / "a.bwd"))]

    ref = subprocess.run([gdalwarp_bin, *config, "-of", "BWDummy", str(src), str(tmp_path / "x.bwd")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, env=env)
    assert ref.returncode != 0
    assert "Output driver `BWDummy' not recognised" in ref.stdout + ref.stderr

    res = run_batchwarp([*config, "-of", "BWDummy", src, "-outdir", out], env=env)
    assert res.returncode == 2, res.stderr
    assert "Output driver 'BWDummy' not recognised" in res.stderr
    assert "FAILED" not in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("config", config_forms("CPL_DEBUG", "ON"))
def test_config_cpl_debug_as_gdalwarp(tmp_path, run_batchwarp, gdalwarp_bin, config):
    """`--config CPL_DEBUG ON` prints GDAL's debug messages, as in gdalwarp.
    GDAL 3.13's GDALGeneralCmdLineProcessor() leaves CPL_DEBUG to the early
    pass of GDAL's programs: without one, the option did nothing."""
    src = make_raster(tmp_path / "a.tif", xsize=8, ysize=8)
    opened = re.compile(r"GDAL: GDALOpen\(.*a\.tif.*\) succeeds as GTiff")
    env = {k: v for k, v in os.environ.items() if k != "CPL_DEBUG"}
    ref = subprocess.run([gdalwarp_bin, *config, "-q", "-t_srs", "EPSG:3857", str(src), str(tmp_path / "x.tif")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, env=env)
    assert ref.returncode == 0, ref.stderr
    assert opened.search(ref.stderr), ref.stderr

    res = run_batchwarp([*config, "-q", "-t_srs", "EPSG:3857", src, "-outdir", tmp_path / "out"], env=env)
    assert res.returncode == 0, res.stderr
    assert opened.search(res.stderr), res.stderr


@pytest.mark.skipif(not gdal_at_least(3, 7), reason="-srcband and -dstband need GDAL 3.7")
@pytest.mark.parametrize("bands", [["-srcband", "4", "-dstband", "1"],
                                   ["-dstband", "2", "-dstband", "1", "-srcband", "1", "-srcband", "2"]],
                         ids=["srcband-dstband", "dstband-first"])
def test_dstband_is_taken_as_gdalwarp_takes_it(tmp_path, run_batchwarp, run_gdalwarp, bands):
    """-dstband: GDAL refuses it alone (unless -srcband is given as many
    times), so asking GDAL's parser how many values it takes, one option at
    a time, found none, and every batch with -dstband was refused as a usage
    error (exit 2, '-srcband should be specified as many times as -dstband
    is') where gdalwarp warps it."""
    src = tmp_path / "a.tif"
    make_raster(str(src), xsize=40, ysize=30, bands=4)
    options = ["-t_srs", "EPSG:3857", *bands]
    ref = tmp_path / "ref.tif"
    run_gdalwarp([*options, "-wo", "NUM_THREADS=1"], src, ref)
    res = run_batchwarp(["-q", *options, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "a.tif").read_bytes() == ref.read_bytes()
