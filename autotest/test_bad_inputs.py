"""Bad inputs, one test each: every one fails alone with a clear error that
names the file, leaves no output and no temporary file, and the rest of the
batch goes on. Odd but valid names succeed."""
import os
import shutil
import subprocess
import tempfile

import pytest
from osgeo import gdal, osr

from conftest import all_files, assert_same_raster, make_raster, norm, parse_report, read_report, records_by_source

WARP = ["-t_srs", "EPSG:3857"]


@pytest.fixture
def batch(tmp_path, run_batchwarp):
    """batch(bad_path, *extra) runs one good file and bad_path; returns
    (result, records by source, outdir)."""
    os.makedirs(tmp_path / "good", exist_ok=True)
    good = make_raster(tmp_path / "good" / "good.tif", xsize=16, ysize=16)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"

    def run(bad, *extra):
        res = run_batchwarp([*WARP, "-q", "-timeout", "120", *extra, "-report", report, "-outdir", out,
                             good, "--", bad])
        return res, records_by_source(read_report(report)), out

    run.good = good
    return run


def assert_failed_alone(res, records, out, bad, *texts):
    assert res.returncode == 1, res.stderr
    assert len(records) == 2
    rec = records[norm(bad)]
    assert rec["ok"] is False
    for text in texts:
        assert text in rec["error"], rec["error"]
    assert f"FAILED {bad}" in res.stderr
    assert all_files(out) == ["good.tif"], "only the good output, no temporary file"


def test_zero_byte_file(tmp_path, batch):
    bad = tmp_path / "zero.tif"
    bad.write_bytes(b"")
    assert_failed_alone(*batch(bad), bad, f"`{bad}' not recognized as a supported file format")


def test_truncated_geotiff(tmp_path, batch):
    full = make_raster(tmp_path / "full.tif", xsize=128, ysize=128)
    bad = tmp_path / "truncated.tif"
    data = open(full, "rb").read()
    bad.write_bytes(data[: len(data) // 2])
    assert_failed_alone(*batch(bad), bad, "TIFFReadEncodedStrip", str(bad))


def test_text_file_named_tif(tmp_path, batch):
    bad = tmp_path / "text.tif"
    bad.write_text("just some text\n")
    assert_failed_alone(*batch(bad), bad, f"`{bad}' not recognized as a supported file format")


def test_directory_named_tif(tmp_path, batch):
    bad = tmp_path / "dir.tif"
    bad.mkdir()
    assert_failed_alone(*batch(bad), bad, f"`{bad}' not recognized as a supported file format")


def test_directory_named_tif_inside_a_source_directory(tmp_path, run_batchwarp):
    src = tmp_path / "in"
    src.mkdir()
    make_raster(src / "a.tif", xsize=8, ysize=8)
    (src / "sub.tif").mkdir()
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    records = records_by_source(read_report(report))
    assert records[norm(src / "sub.tif")]["ok"] is False
    assert "not recognized as a supported file format" in records[norm(src / "sub.tif")]["error"]
    assert all_files(tmp_path / "out") == ["a.tif"]


def test_no_georeferencing(tmp_path, batch):
    bad = tmp_path / "nogeo.tif"
    gdal.GetDriverByName("GTiff").Create(str(bad), 16, 16, 1, gdal.GDT_Byte)
    assert_failed_alone(*batch(bad), bad, "Unable to compute a transformation", str(bad))


def test_crs_without_transformation_to_target(tmp_path, batch):
    bad = tmp_path / "mars.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(bad), 16, 16, 1, gdal.GDT_Byte)
    ds.SetGeoTransform([10, 0.1, 0, 10, 0, -0.1])
    mars = osr.SpatialReference()
    mars.SetFromUserInput("+proj=longlat +a=3396190 +rf=169.894447223612 +no_defs +type=crs")
    ds.SetSpatialRef(mars)
    ds = None
    res, records, out = batch(bad)
    assert_failed_alone(res, records, out, bad, "Cannot find coordinate operations")


def test_absurd_declared_size(tmp_path, batch):
    """10^6 x 10^6 pixels declared by a tiny VRT: refused quickly (GDAL's
    free-space check on the output), not a disk filled for hours."""
    bad = tmp_path / "huge.vrt"
    bad.write_text(
        '<VRTDataset rasterXSize="1000000" rasterYSize="1000000">'
        "<SRS>EPSG:4326</SRS><GeoTransform>2, 1e-6, 0, 49, 0, -1e-6</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"/></VRTDataset>')
    res, records, out = batch(bad)
    assert_failed_alone(res, records, out, bad, "Free disk space available is")
    assert records[norm(bad)]["seconds"] < 30


def test_unreadable_file(tmp_path, batchwarp_bin):
    """Permissions: run as an unprivileged user when the tests run as root
    (root reads anything)."""
    base = tempfile.mkdtemp(prefix="batchwarp_perm_")
    try:
        os.chmod(base, 0o777)
        good = make_raster(os.path.join(base, "good.tif"), xsize=8, ysize=8)
        bad = make_raster(os.path.join(base, "secret.tif"), xsize=8, ysize=8)
        os.chmod(good, 0o644)
        os.chmod(bad, 0)
        out = os.path.join(base, "out")
        argv = [batchwarp_bin, *WARP, "-q", "-report", "-", good, bad, "-outdir", out]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("root without setpriv cannot test permissions")
            argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
            if subprocess.run(argv[:4] + [batchwarp_bin, "--version"], capture_output=True).returncode != 0:
                pytest.skip("the program cannot run as nobody from here")
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1, res.stderr
        records = records_by_source(parse_report(res.stdout))
        assert records[norm(bad)]["ok"] is False
        assert "Permission denied" in records[norm(bad)]["error"], records[norm(bad)]["error"]
        assert records[norm(good)]["ok"] is True
        assert sorted(os.listdir(out)) == ["good.tif"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("odd_name", ["with space.tif", "it's \"quoted\".tif", "été_Ωmega.tif", "-leading-dash.tif"])
def test_odd_names_succeed(tmp_path, run_batchwarp, run_gdalwarp, odd_name):
    (tmp_path / "in").mkdir()
    src = make_raster(tmp_path / "in" / odd_name, xsize=16, ysize=16)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-outdir", out, "--", src])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == [odd_name]
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, "./" + os.path.relpath(src) if odd_name.startswith("-") else src, ref)
    assert_same_raster(out / odd_name, ref)


def test_missing_input(tmp_path, batch):
    bad = tmp_path / "does_not_exist.tif"
    assert_failed_alone(*batch(bad), bad, str(bad), "No such file or directory")
