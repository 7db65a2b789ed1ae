"""gdal_batchwarp gives gdalwarp's result where it used to differ (issue 12):
-of VRT outputs, the success rule, and the user's GDAL_CACHEMAX."""
import filecmp
import os
import re
import subprocess

import pytest
from osgeo import gdal

from conftest import make_raster, read_report

gdal.UseExceptions()


def _utm_source(path):
    make_raster(str(path), xsize=40, ysize=30, bands=1, epsg=32631)
    return str(path)


def _only_output(outdir):
    (name,) = os.listdir(outdir)
    return outdir / name


def _assert_opens_anywhere_as_warped(out, source):
    """out, opened from another working directory (/), has the pixels of
    source (a name or a dataset) warped to EPSG:4326 in memory."""
    check = subprocess.run(["gdalinfo", "-checksum", str(out)], cwd="/", capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + out.read_text()
    ref = gdal.Warp("", source, format="MEM", dstSRS="EPSG:4326")
    assert "Checksum=%d" % ref.GetRasterBand(1).Checksum() in check.stdout


###############################################################################
# Item 1: -of VRT


@pytest.mark.parametrize("absolute", [False, True])
def test_vrt_output_is_published_and_opens_anywhere(tmp_path, run_batchwarp, run_gdalwarp, absolute):
    src = _utm_source(tmp_path / "src.tif")
    os.mkdir(tmp_path / "out")
    base = str(tmp_path) if absolute else "."
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", "-report", report,
                         os.path.join(base, "src.tif"), "-outdir", os.path.join(base, "out")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(report)
    assert rec["ok"], rec
    out = tmp_path / "out" / "src.vrt"
    assert sorted(os.listdir(tmp_path / "out")) == ["src.vrt"]
    # The source is named by a path that does not depend on the working
    # directory (gdalwarp would write "src.tif" relative to the cwd for
    # relative paths; with absolute paths it writes the same as here).
    text = out.read_text()
    assert re.search(r'<SourceDataset relativeToVRT="0">%s</SourceDataset>' % re.escape(src), text), text
    if absolute:
        os.mkdir(tmp_path / "ref")
        run_gdalwarp(["-of", "VRT", "-t_srs", "EPSG:4326"], src, tmp_path / "ref" / "src.vrt")
        assert filecmp.cmp(out, tmp_path / "ref" / "src.vrt", shallow=False)
    # Opens, from another working directory, with the source's pixels.
    _assert_opens_anywhere_as_warped(out, src)


@pytest.mark.parametrize("spelling", ["/vsizip/in.zip/src.tif", "/vsizip/{in.zip}/src.tif", "/vsizip/in.zip/",
                                      "/vsigzip/src.tif.gz", "/vsigzip//vsizip/in.zip/src.tif.gz"])
def test_vrt_of_a_source_in_a_relative_archive_opens_anywhere(tmp_path, run_batchwarp, spelling):
    """A source in an archive given by a relative path (/vsizip/in.zip/x.tif,
    the members of a listed /vsizip/in.zip/) is read relative to the working
    directory, as a relative path is: its VRT names the archive by its
    absolute path, so that it opens from any working directory. It was
    written as given (as gdalwarp does), and opened nothing elsewhere."""
    import gzip
    import zipfile
    src = _utm_source(tmp_path / "src.tif")
    data = open(src, "rb").read()
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        z.write(src, "src.tif")
        z.writestr("src.tif.gz", gzip.compress(data))
    (tmp_path / "src.tif.gz").write_bytes(gzip.compress(data))
    os.unlink(src)
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", spelling, "-outdir", "out"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    _assert_opens_anywhere_as_warped(_only_output(tmp_path / "out"), "/vsizip/%s/in.zip/src.tif" % tmp_path)


@pytest.mark.parametrize("spelling", ["GTIFF_DIR:1:in/src.tif", 'NETCDF:"in/src.nc":Band1'])
def test_vrt_of_a_subdataset_of_a_relative_file_opens_anywhere(tmp_path, run_batchwarp, spelling):
    """A subdataset of a file given by a relative path (GTIFF_DIR:1:in/x.tif,
    NETCDF:"in/x.nc":var) is read relative to the working directory: its
    VRT names the file by its absolute path. It was written as given, and
    opened nothing from another directory."""
    driver = "netCDF" if spelling.startswith("NETCDF") else "GTiff"
    if gdal.GetDriverByName(driver) is None:
        pytest.skip(f"GDAL has no {driver} driver")
    os.mkdir(tmp_path / "in")
    src = _utm_source(tmp_path / "in" / "src.tif")
    if driver == "netCDF":
        gdal.Translate(str(tmp_path / "in" / "src.nc"), src, format="netCDF")
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", spelling, "-outdir", "out"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    _assert_opens_anywhere_as_warped(_only_output(tmp_path / "out"),
                                     spelling.replace("in/", str(tmp_path / "in") + "/"))


def test_vrt_of_a_source_in_an_archive_in_the_working_directory_is_gdalwarps(tmp_path, run_batchwarp,
                                                                             run_gdalwarp):
    """With -outdir . the VRT lies beside the archive: gdalwarp's bytes."""
    import zipfile
    src = _utm_source(tmp_path / "src.tif")
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        z.write(src, "src.tif")
    os.unlink(src)
    os.mkdir(tmp_path / "ref")
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", "/vsizip/in.zip/src.tif", "-outdir", "."],
                        cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run_gdalwarp(["-of", "VRT", "-t_srs", "EPSG:4326"], "/vsizip/in.zip/src.tif", "ref.vrt", cwd=tmp_path)
    assert filecmp.cmp(tmp_path / "src.vrt", tmp_path / "ref.vrt", shallow=False)


def test_vrt_output_longer_than_8000_bytes_is_whole(tmp_path, run_batchwarp, run_gdalwarp):
    """A warped VRT whose text passes 8000 bytes (the source's metadata is
    copied into it) is written whole: the same bytes as gdalwarp's, and it
    opens. The rewrite of its SourceDataset went through CPLSPrintf, which
    cut the file at 8000 bytes (issue 14 item 5)."""
    src = _utm_source(tmp_path / "src.tif")
    ds = gdal.Open(src, gdal.GA_Update)
    ds.SetMetadata({"ITEM_%03d" % i: "value %03d of a long list of metadata items" % i for i in range(300)})
    ds = None
    os.mkdir(tmp_path / "out")
    os.mkdir(tmp_path / "ref")
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out" / "src.vrt"
    run_gdalwarp(["-of", "VRT", "-t_srs", "EPSG:4326"], src, tmp_path / "ref" / "src.vrt")
    assert os.path.getsize(tmp_path / "ref" / "src.vrt") > 8000
    assert filecmp.cmp(out, tmp_path / "ref" / "src.vrt", shallow=False)
    opened = gdal.Open(str(out))
    assert opened.GetMetadataItem("ITEM_299") == "value 299 of a long list of metadata items"
    ref = gdal.Warp("", src, format="MEM", dstSRS="EPSG:4326")
    assert opened.GetRasterBand(1).Checksum() == ref.GetRasterBand(1).Checksum()


def test_vrt_source_under_output_dir_is_relative_as_gdalwarp_writes_it(tmp_path, run_batchwarp, run_gdalwarp):
    os.mkdir(tmp_path / "out")
    src = _utm_source(tmp_path / "out" / "src.tif")
    res = run_batchwarp(["-q", "-of", "VRT", "-t_srs", "EPSG:4326", "-suffix", "_w", src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out" / "src_w.vrt"
    assert '<SourceDataset relativeToVRT="1">src.tif</SourceDataset>' in out.read_text()
    run_gdalwarp(["-of", "VRT", "-t_srs", "EPSG:4326"], src, tmp_path / "out" / "ref.vrt")
    assert filecmp.cmp(out, tmp_path / "out" / "ref.vrt", shallow=False)
    # Moved together with its source, it still opens.
    os.rename(tmp_path / "out", tmp_path / "moved")
    assert gdal.Open(str(tmp_path / "moved" / "src_w.vrt")).GetRasterBand(1).Checksum() >= 0


def test_vrt_overwrite_replaces_previous_output(tmp_path, run_batchwarp):
    src = _utm_source(tmp_path / "src.tif")
    os.mkdir(tmp_path / "out")
    old = tmp_path / "out" / "src.vrt"
    old.write_text("previous output")
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-q", "-overwrite", "-of", "VRT", "-t_srs", "EPSG:4326", "-report", report, src,
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert read_report(report)[0]["ok"]
    assert "VRTDataset" in old.read_text()
    assert sorted(os.listdir(tmp_path / "out")) == ["src.vrt"]


def test_failed_overwrite_leaves_previous_output(tmp_path, run_batchwarp):
    # A source that GDAL cannot read fails the task on every GDAL version
    # (an inverted -te fails it on 3.6 but not on 3.13): the previous output
    # must stay as it was.
    src = tmp_path / "src.tif"
    src.write_bytes(b"II*\x00" + b"\x00" * 60)
    os.mkdir(tmp_path / "out")
    old = tmp_path / "out" / "src.vrt"
    old.write_text("previous output")
    res = run_batchwarp(["-q", "-overwrite", "-of", "VRT", "-t_srs", "EPSG:4326", src, "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    assert old.read_text() == "previous output"


###############################################################################
# Item 2: a task succeeds when gdalwarp would exit 0


WKT_SOUTH_POLAR = """PROJCS["WGS_1984_Stereographic_South_Pole",GEOGCS["WGS 84",DATUM["WGS_1984",
SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0],
UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]],PROJECTION["Polar_Stereographic"],
PARAMETER["latitude_of_origin",-71],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],
PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]]]"""

GDALWARP_41 = ["-t_srs", "EPSG:4326", "-te", "-180", "-90", "180", "90", "-wo", "INIT_DEST=127",
               "-wo", "SKIP_NOSOURCE=YES"]


def _polar_source(path):
    # GDAL's test_gdalwarp_41 source.
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 666, 666)
    ds.SetGeoTransform([-3333500, 10010.510510510510358, 0, 3333500.0, 0, -10010.510510510510358])
    ds.SetProjection(WKT_SOUTH_POLAR)
    ds.GetRasterBand(1).Fill(255)
    ds = None
    return str(path)


def test_task_succeeds_when_gdalwarp_does_despite_logged_errors(tmp_path, run_batchwarp, gdalwarp_bin):
    src = _polar_source(tmp_path / "polar.tif")
    ref = subprocess.run([gdalwarp_bin, "-q", *GDALWARP_41, src, str(tmp_path / "ref.tif")], capture_output=True,
                         text=True)
    assert ref.returncode == 0
    assert "ERROR" in ref.stderr, "premise: gdalwarp logs errors in this case"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-q", *GDALWARP_41, "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(report)
    assert rec["ok"] and rec["error"] is None, rec
    # gdalwarp's messages, in the report.
    assert any(m.startswith("ERROR 1: ") and "Invalid latitude" in m for m in rec["messages"]), rec
    assert filecmp.cmp(tmp_path / "out" / "polar.tif", tmp_path / "ref.tif", shallow=False)
    assert gdal.Open(str(tmp_path / "out" / "polar.tif")).GetRasterBand(1).Checksum() == 57091


def test_strict_errors_keeps_the_old_rule(tmp_path, run_batchwarp):
    src = _polar_source(tmp_path / "polar.tif")
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-q", "-strict_errors", *GDALWARP_41, "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    (rec,) = read_report(report)
    assert not rec["ok"] and "Invalid latitude" in rec["error"], rec
    assert not os.path.exists(tmp_path / "out" / "polar.tif")


def test_warnings_of_a_successful_task_are_reported(tmp_path, run_batchwarp):
    src = _utm_source(tmp_path / "src.tif")
    report = tmp_path / "report.jsonl"
    # GTiff warns about a creation option it does not know.
    res = run_batchwarp(["-q", "-t_srs", "EPSG:4326", "-co", "NOT_AN_OPTION=1", "-report", report, src,
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(report)
    assert rec["ok"] and any(m.startswith("Warning") and "NOT_AN_OPTION" in m for m in rec["messages"]), rec


@pytest.mark.parametrize("quiet", [True, False])
def test_warnings_of_tasks_are_printed_as_gdalwarp_prints_them(tmp_path, run_batchwarp, quiet):
    """gdalwarp prints what GDAL warns of while it warps (a creation option
    the driver does not know: a typo such as -co COMPRES=LZW leaves the
    output uncompressed); the program printed nothing of it, with or
    without -q: without -report it was nowhere. Each text is printed once,
    naming its source, then counted."""
    os.mkdir(tmp_path / "in")
    sources = [make_raster(str(tmp_path / "in" / f"s{i}.tif"), xsize=8, ysize=8, seed=i) for i in range(3)]
    res = run_batchwarp([*(["-q"] if quiet else []), "-t_srs", "EPSG:4326", "-co", "NOT_AN_OPTION=1", *sources,
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "does not support creation option NOT_AN_OPTION" in line]
    assert len(lines) == 1, res.stderr
    assert re.fullmatch(r".*/s[012]\.tif: Warning \d+: driver GTiff does not support creation option NOT_AN_OPTION",
                        lines[0]), lines
    assert "2 more errors or warnings of a text printed above" in res.stderr, res.stderr


def _tiles_cut_short(path, size=1024, tile=16):
    """A JPEG-compressed GeoTIFF of size x size in tile x tile tiles, each cut
    short by an end-of-image marker halfway: GDAL warns once per tile read
    ('JPEGLib:Corrupt JPEG data: premature end of data segment')."""
    import numpy as np
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 1, gdal.GDT_Byte,
                                              options=["TILED=YES", f"BLOCKXSIZE={tile}", f"BLOCKYSIZE={tile}",
                                                       "COMPRESS=JPEG"])
    ds.SetGeoTransform([2, 0.0001, 0, 49, 0, -0.0001])
    ds.SetProjection("EPSG:4326")
    ds.GetRasterBand(1).WriteArray(np.random.default_rng(0).integers(0, 256, (size, size), dtype=np.uint8))
    ds = None
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    blocks = [(int(band.GetMetadataItem(f"BLOCK_OFFSET_{x}_{y}", "TIFF")),
               int(band.GetMetadataItem(f"BLOCK_SIZE_{x}_{y}", "TIFF")))
              for y in range(size // tile) for x in range(size // tile)]
    ds = None
    data = bytearray(path.read_bytes())
    for offset, length in blocks:
        data[offset + length // 2: offset + length // 2 + 2] = b"\xff\xd9"
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("limit", [None, "10"])
def test_messages_are_those_gdalwarp_prints_however_many(tmp_path, run_batchwarp, gdalwarp_bin, limit):
    """A damaged source can raise a warning per block: gdalwarp prints the
    first 1000 (CPL_MAX_ERROR_REPORTS) and says it prints no more. The
    worker kept every one (4096 here; a quarter of a million for an 8192 x
    8192 source of 16 x 16 tiles took minutes to gather, and its RESULT,
    over the protocol's 16 MiB, lost the worker and failed a task gdalwarp
    does in seconds). The report's messages are now gdalwarp's lines."""
    src = _tiles_cut_short(tmp_path / "damaged.tif")
    config = ["--config", "CPL_MAX_ERROR_REPORTS", limit] if limit else []
    os.mkdir(tmp_path / "ref")
    ref = subprocess.run([gdalwarp_bin, "-q", *config, "-t_srs", "EPSG:3857", src, str(tmp_path / "ref" / "d.tif")],
                         capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    printed = ref.stderr.splitlines()
    assert len(printed) == (11 if limit else 1001), printed[-3:]
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-q", *config, "-t_srs", "EPSG:3857", "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(report)
    assert rec["ok"], rec
    assert rec["messages"] == printed
    assert filecmp.cmp(tmp_path / "out" / "damaged.tif", tmp_path / "ref" / "d.tif", shallow=False)


###############################################################################
# Item 5: never more GDAL_CACHEMAX than the user set


def _worker_cachemax_mb(stderr):
    values = re.findall(r"GDAL_CACHEMAX = (\d+) MB", stderr)
    assert values, stderr
    return [int(v) for v in values]


@pytest.mark.parametrize("jobs", [1, 2])
def test_user_cachemax_is_never_raised(tmp_path, run_batchwarp, jobs):
    srcs = [_utm_source(tmp_path / f"s{i}.tif") for i in range(2)]
    res = run_batchwarp(["--config", "GDAL_CACHEMAX", "1", "--debug", "on", "-q", "-j", str(jobs),
                         "-t_srs", "EPSG:4326", *srcs, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    # GDAL logs the cache size it uses when a worker first needs it.
    assert all(mb <= 1 for mb in _worker_cachemax_mb(res.stderr)), res.stderr
