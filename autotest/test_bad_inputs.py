"""Bad inputs, one test each: every one fails alone with an error that gives
GDAL's reason (and the file's name: in the report's source, on stderr and,
where GDAL's message has it, in the error), leaves no output and no
temporary file, and the rest of the batch (a good file alongside) goes on,
identical to gdalwarp. Odd but valid names succeed."""
import os
import shutil
import subprocess
import tempfile

import pytest
from osgeo import gdal, osr

from conftest import (all_files, assert_same_raster, hidden_files, make_raster, norm, parse_report, read_report,
                      records_by_source)
from fault_util import dir_usage_bytes, temp_entries, unprivileged_prefix

WARP = ["-t_srs", "EPSG:3857"]
BACKSTOP = "60"  # -timeout: no bad input may hang a batch
NOT_RECOGNIZED = "' not recognized as a supported file format."


def same_across_gdal_versions(message):
    """GDAL's wording changed over versions (3.6 on the host, 3.10 and 3.13
    in the test matrix): one spelling for the comparisons."""
    return message.replace("not recognized as being in a supported file format",
                           "not recognized as a supported file format")


def listing(directory, ignore=()):
    return sorted(n for n in os.listdir(directory) if n not in ignore)


# What the batch fixture itself puts in tmp_path.
RUN_FILES = ("good", "out", "report.jsonl", "ref.tif")


@pytest.fixture
def batch(tmp_path, run_batchwarp, run_gdalwarp):
    """batch(bad, *extra, good_kw=...) runs one good file and `bad` (after
    --) with -report; returns a Result with the run, the records by source,
    the output directory, and the listing of bad's directory before the run."""

    class Result:
        pass

    def run(bad, *extra, warp=WARP, good_kw=None):
        os.makedirs(tmp_path / "good", exist_ok=True)
        good = make_raster(tmp_path / "good" / "good.tif", xsize=16, ysize=16, **(good_kw or {}))
        out, report = tmp_path / "out", tmp_path / "report.jsonl"
        bad_dir = os.path.dirname(os.path.abspath(str(bad)))
        before = listing(bad_dir, RUN_FILES) if os.path.isdir(bad_dir) else None
        res = run_batchwarp([*warp, "-q", "-timeout", BACKSTOP, *extra, "-report", report, "-outdir", out,
                             good, "--", bad])
        r = Result()
        r.res, r.out, r.good, r.bad, r.warp = res, out, good, str(bad), warp
        r.records = records_by_source(read_report(report))
        r.bad_dir, r.bad_dir_before = bad_dir, before
        r.run_gdalwarp, r.tmp_path = run_gdalwarp, tmp_path
        return r

    return run


def assert_failed_alone(r, *texts):
    """The bad file failed with every one of `texts` in its error; the good
    one succeeded, identical to gdalwarp; nothing else was written."""
    assert r.res.returncode == 1, r.res.stderr
    assert set(r.records) == {norm(r.good), norm(r.bad)}
    rec = r.records[norm(r.bad)]
    assert rec["source"] == r.bad, "the report names the source as given"
    assert rec["ok"] is False and rec["skipped"] is False and rec["attempts"] == 1, rec
    error = same_across_gdal_versions(rec["error"])
    for text in texts:
        assert text in error, f"{text!r} not in error {rec['error']!r}"
    assert f"FAILED {r.bad}: {rec['error']}" in r.res.stderr
    good = r.records[norm(r.good)]
    assert good["ok"] is True, good
    assert all_files(r.out) == ["good.tif"], "only the good output: no output, temporary file or sidecar for the bad one"
    assert temp_entries(r.out) == []
    if r.bad_dir_before is not None:
        assert listing(r.bad_dir, RUN_FILES) == r.bad_dir_before, "nothing written next to the bad input"
    ref = r.tmp_path / "ref.tif"
    r.run_gdalwarp(r.warp, r.good, ref)
    assert_same_raster(r.out / "good.tif", ref)
    return rec


def test_zero_byte_file(tmp_path, batch):
    bad = tmp_path / "zero.tif"
    bad.write_bytes(b"")
    assert_failed_alone(batch(bad), f"`{bad}{NOT_RECOGNIZED}")


def test_truncated_geotiff(tmp_path, batch):
    full = make_raster(tmp_path / "full.tif", xsize=128, ysize=128)
    assert gdal.Open(full).GetRasterBand(1).Checksum() > 0
    data = open(full, "rb").read()
    os.unlink(full)
    bad = tmp_path / "truncated.tif"
    bad.write_bytes(data[: len(data) // 2])
    # GDAL opens it (the header is whole) and fails reading the missing strips.
    # GDAL names the file in full (3.6) or by its name (3.10 and later).
    rec = assert_failed_alone(batch(bad), f"{bad.name}, band 1: IReadBlock failed")
    assert "TIFFReadEncodedStrip" in rec["error"]


def test_text_file_named_tif(tmp_path, batch):
    bad = tmp_path / "text.tif"
    bad.write_text("just some text, not a raster\n" * 10)
    assert_failed_alone(batch(bad), f"`{bad}{NOT_RECOGNIZED}")


def test_directory_named_tif_given_explicitly(tmp_path, batch):
    bad = tmp_path / "dir.tif"
    bad.mkdir()
    assert_failed_alone(batch(bad), f"`{bad}{NOT_RECOGNIZED}")
    assert os.path.isdir(bad) and os.listdir(bad) == []


def test_directory_named_tif_inside_a_source_directory(tmp_path, run_batchwarp, run_gdalwarp):
    """Without -recursive, a directory named like a raster inside a directory
    source is one source (a directory may be a dataset), so it fails in its
    own task with GDAL's reason rather than being silently left out; with
    -recursive it is a subdirectory: its rasters are warped, mirrored."""
    src = tmp_path / "in"
    (src / "sub.tif").mkdir(parents=True)
    make_raster(src / "a.tif", xsize=8, ysize=8)
    make_raster(src / "sub.tif" / "inner.tif", xsize=8, ysize=8, seed=3)
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 1, res.stderr
    records = records_by_source(read_report(report))
    assert set(records) == {norm(src / "a.tif"), norm(src / "sub.tif")}, "the directory's content is not taken"
    rec = records[norm(src / "sub.tif")]
    assert rec["ok"] is False
    assert same_across_gdal_versions(rec["error"]) == f"`{rec['source']}{NOT_RECOGNIZED}"
    assert f"FAILED {rec['source']}: " in res.stderr
    assert records[norm(src / "a.tif")]["ok"] is True
    assert all_files(tmp_path / "out") == ["a.tif"]

    report2 = tmp_path / "r2.jsonl"
    res = run_batchwarp([*WARP, "-q", "-recursive", "-report", report2, src, "-outdir", tmp_path / "out2"])
    assert res.returncode == 0, res.stderr
    assert set(records_by_source(read_report(report2))) == {norm(src / "a.tif"), norm(src / "sub.tif" / "inner.tif")}
    assert os.path.isfile(tmp_path / "out2" / "sub.tif" / "inner.tif")
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, src / "sub.tif" / "inner.tif", ref)
    assert_same_raster(tmp_path / "out2" / "sub.tif" / "inner.tif", ref)
    assert hidden_files(tmp_path / "out2") == [] and temp_entries(tmp_path / "out2") == []


def test_no_georeferencing(tmp_path, batch):
    bad = tmp_path / "nogeo.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(bad), 16, 16, 1, gdal.GDT_Byte)
    ds.GetRasterBand(1).Fill(7)
    ds = None
    assert_failed_alone(
        batch(bad),
        f"Unable to compute a transformation between pixel/line and georeferenced coordinates for {bad}",
        "There is no affine transformation and no GCPs")


def test_crs_without_transformation_to_target(tmp_path, batch):
    """A Mars geographic CRS: PROJ has no operation to EPSG:3857 (Earth)."""
    bad = tmp_path / "mars.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(bad), 16, 16, 1, gdal.GDT_Byte)
    ds.SetGeoTransform([10, 0.1, 0, 10, 0, -0.1])
    mars = osr.SpatialReference()
    mars.SetFromUserInput("+proj=longlat +a=3396190 +b=3376200 +no_defs")
    ds.SetSpatialRef(mars)
    ds = None
    # The source CRS is shown as WKT (GDAL 3.6) or PROJJSON (later).
    rec = assert_failed_alone(batch(bad), "Cannot find coordinate operations from `", "to `EPSG:3857'")
    assert "do not belong to the same celestial body" in rec["error"]
    assert "3396190" in rec["error"], "the message shows the source CRS"


def _huge_geotiff(path):
    """A 10^6 x 10^6 Byte GeoTIFF whose blocks are all missing: under 1 MB
    on disk, a terabyte declared."""
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), 1000000, 1000000, 1, gdal.GDT_Byte,
        options=["SPARSE_OK=TRUE", "TILED=YES", "BLOCKXSIZE=4096", "BLOCKYSIZE=4096"])
    ds.SetGeoTransform([2.0, 1e-6, 0, 49.0, 0, -1e-6])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetSpatialRef(srs)
    ds = None
    assert os.path.getsize(path) < 2 * 1024 * 1024
    return path


FULL_RES = ["-t_srs", "EPSG:4326", "-tr", "1e-6", "1e-6"]
# The good file at the same 1e-6 degree resolution: a 16 x 16 output.
FULL_RES_GOOD = dict(pixel_size=(1e-6, 1e-6), dtype=gdal.GDT_Byte)


def _require_less_free_space_than(directory, nbytes):
    st = os.statvfs(directory)
    if st.f_bavail * st.f_frsize >= nbytes:
        pytest.skip(f"{directory} has room for {nbytes} bytes: GDAL's free-space check would not refuse it")


def test_absurd_declared_size_geotiff_at_full_resolution(tmp_path, batch):
    """Warping the terabyte GeoTIFF at full resolution (-tr) fails at once
    with GDAL's free-space check on the output, not after filling the disk."""
    bad = _huge_geotiff(tmp_path / "huge.tif")
    _require_less_free_space_than(tmp_path, 10**12)
    used = dir_usage_bytes(tmp_path)
    r = batch(bad, warp=FULL_RES, good_kw=FULL_RES_GOOD)
    # In bytes (GDAL 3.6) or in GB (later): "whereas 1000000000000" or "whereas 1000.00 GB".
    rec = assert_failed_alone(r, "Free disk space available is", "are at least necessary")
    assert "whereas 1000000000000 " in rec["error"] or "whereas 1000.00 GB" in rec["error"], rec["error"]
    assert "huge.tif" in rec["error"], "the message names the output it refused to create"
    assert rec["seconds"] < 10, rec
    assert dir_usage_bytes(tmp_path) < used + 10 * 1024 * 1024


def test_absurd_declared_size_vrt(tmp_path, batch):
    """A 300-byte VRT declaring 10^6 x 10^6 Float32 pixels (4 TB)."""
    bad = tmp_path / "huge.vrt"
    bad.write_text(
        '<VRTDataset rasterXSize="1000000" rasterYSize="1000000">'
        "<SRS>EPSG:4326</SRS><GeoTransform>2, 1e-6, 0, 49, 0, -1e-6</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"/></VRTDataset>')
    _require_less_free_space_than(tmp_path, 4 * 10**12)
    used = dir_usage_bytes(tmp_path)
    r = batch(bad, warp=FULL_RES, good_kw=FULL_RES_GOOD)
    # In bytes (GDAL 3.6) or in TB (later).
    rec = assert_failed_alone(r, "Free disk space available is", "are at least necessary")
    assert "whereas 4000000000000 " in rec["error"] or "whereas 4.00 TB" in rec["error"], rec["error"]
    assert rec["seconds"] < 10, rec
    assert dir_usage_bytes(tmp_path) < used + 10 * 1024 * 1024


def test_absurd_declared_size_without_the_free_space_check_is_stopped_by_timeout(tmp_path, batch):
    """With a sparse output GDAL does not refuse the terabyte: the -timeout
    backstop stops it, and its partial output is removed."""
    bad = _huge_geotiff(tmp_path / "huge.tif")
    used = dir_usage_bytes(tmp_path)
    r = batch(bad, "-timeout", "3", warp=[*FULL_RES, "-co", "SPARSE_OK=TRUE"], good_kw=FULL_RES_GOOD)
    rec = assert_failed_alone(r)
    assert rec["error"] == "timed out after 3 s", rec
    assert 3 <= rec["seconds"] < 10, rec
    assert dir_usage_bytes(tmp_path) < used + 100 * 1024 * 1024


@pytest.fixture
def world_dir():
    """A directory that the user 'nobody' can use too (pytest's tmp_path is
    private to its owner)."""
    base = tempfile.mkdtemp(prefix="batchwarp_perm_")
    os.chmod(base, 0o777)
    try:
        yield base
    finally:
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_unreadable_file(world_dir, batchwarp_bin, run_gdalwarp):
    """chmod 000: run as an unprivileged user when the tests run as root
    (root reads anything)."""
    prefix = unprivileged_prefix(batchwarp_bin)
    good = make_raster(os.path.join(world_dir, "good.tif"), xsize=8, ysize=8)
    bad = make_raster(os.path.join(world_dir, "secret.tif"), xsize=8, ysize=8, seed=2)
    os.chmod(good, 0o644)
    os.chmod(bad, 0)
    out = os.path.join(world_dir, "out")
    res = subprocess.run([*prefix, batchwarp_bin, *WARP, "-q", "-timeout", BACKSTOP, "-report", "-", good, bad,
                          "-outdir", out], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    records = records_by_source(parse_report(res.stdout))
    assert set(records) == {norm(good), norm(bad)}
    assert records[norm(bad)]["ok"] is False
    assert records[norm(bad)]["error"] == f"{bad}: Permission denied"
    assert f"FAILED {bad}: " in res.stderr
    assert records[norm(good)]["ok"] is True
    assert listing(out) == ["good.tif"]
    ref = os.path.join(world_dir, "ref.tif")
    run_gdalwarp(WARP, good, ref)
    assert_same_raster(os.path.join(out, "good.tif"), ref)


def test_unreadable_directory_source(world_dir, batchwarp_bin):
    """A source directory that cannot be listed is an error naming it, never
    taken as empty in silence. (Up to 0706eb7 it was silently skipped: exit
    0, no error, no warning, with -recursive too.)"""
    prefix = unprivileged_prefix(batchwarp_bin)
    good = make_raster(os.path.join(world_dir, "good.tif"), xsize=8, ysize=8)
    os.chmod(good, 0o644)
    locked = os.path.join(world_dir, "locked")
    os.mkdir(locked)
    make_raster(os.path.join(locked, "x.tif"), xsize=8, ysize=8)
    os.chmod(locked, 0)
    out = os.path.join(world_dir, "out")
    res = subprocess.run([*prefix, batchwarp_bin, *WARP, "-q", "-report", "-", good, locked, "-outdir", out],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0, "an unlistable source directory must not pass silently"
    told = res.stderr + res.stdout
    assert locked in told and "Permission denied" in told, told


ODD_NAMES = ["with space.tif", "it's \"quoted\".tif", "été_Ωmega.tif", "-leading-dash.tif"]


@pytest.mark.parametrize("odd_name", ODD_NAMES)
def test_odd_names_succeed(tmp_path, run_batchwarp, run_gdalwarp, odd_name):
    """Given relative to the working directory (so that the leading-dash name
    really starts with '-'), after --."""
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = make_raster(src_dir / odd_name, xsize=16, ysize=16)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, "-outdir", out, "--", odd_name], cwd=src_dir)
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert [(r["source"], r["ok"]) for r in records] == [(odd_name, True)]
    assert norm(records[0]["output"]) == norm(out / odd_name)
    assert all_files(out) == [odd_name]
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, src, ref)
    assert_same_raster(out / odd_name, ref)


def test_odd_names_together_and_from_a_directory(tmp_path, run_batchwarp, run_gdalwarp):
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    sources = [make_raster(src_dir / n, xsize=16, ysize=16, seed=i) for i, n in enumerate(ODD_NAMES)]
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, src_dir, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert sorted(os.path.basename(r["source"]) for r in read_report(report)) == sorted(ODD_NAMES)
    assert all_files(out) == sorted(ODD_NAMES)
    for src in sources:
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, src, ref)
        assert_same_raster(out / os.path.basename(src), ref)
        os.unlink(ref)


def test_leading_dash_without_double_dash_is_a_usage_error(tmp_path, run_batchwarp):
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    make_raster(src_dir / "-leading-dash.tif", xsize=8, ysize=8)
    res = run_batchwarp([*WARP, "-q", "-outdir", tmp_path / "out", "-leading-dash.tif"], cwd=src_dir)
    assert res.returncode == 2, res.stderr
    assert "-leading-dash.tif" in res.stderr
    assert not os.path.exists(tmp_path / "out"), "nothing written on a usage error"


def test_missing_input(tmp_path, batch):
    """A path that does not exist is kept as a source and fails in its own
    task, with the OS's reason and its name."""
    bad = tmp_path / "does_not_exist.tif"
    rec = assert_failed_alone(batch(bad))
    assert rec["error"] == f"{bad}: No such file or directory"
