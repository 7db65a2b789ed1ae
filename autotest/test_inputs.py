"""Every way of naming sources (directories, trees, patterns, lists, stdin,
/vsizip/, /vsicurl/), output name templates, -dry_run, -print_outputs in a
pipeline, and GDAL's general options; outputs identical to gdalwarp."""
import os
import shutil
import subprocess
import zipfile

import pytest
from osgeo import gdal

from conftest import all_files, assert_same_raster, make_raster, make_small_rasters, norm, read_report
from http_test_server import FileServer

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture
def tree(tmp_path):
    """in/{t0000,t0001}.tif, in/a/{t0002,t0003}.tif, in/a/b/t0004.tif, plus
    things that are not sources: a hidden directory, a sidecar, a text file."""
    root = tmp_path / "in"
    make_small_rasters(root, 2, prefix="t")
    make_small_rasters(root / "a", 2, prefix="u")
    make_small_rasters(root / "a" / "b", 1, prefix="v")
    make_small_rasters(root / ".hidden", 1, prefix="h")
    (root / "notes.txt").write_text("not a raster\n")
    shutil.copy(root / "t0000.tif", root / "t0000.tif.aux.xml")
    return root


def check_outputs(pairs, run_gdalwarp, tmp_path, options=WARP):
    """pairs: (source as gdalwarp can read it, output): each output is
    identical to gdalwarp's."""
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir(exist_ok=True)
    for i, (source, output) in enumerate(pairs):
        ref = ref_dir / f"{i}_{os.path.basename(output)}"
        run_gdalwarp(options, source, ref)
        assert_same_raster(output, ref)


def test_directory_source(tmp_path, tree, run_batchwarp, run_gdalwarp):
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", tree, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["t0000.tif", "t0001.tif"]
    check_outputs([(tree / n, out / n) for n in all_files(out)], run_gdalwarp, tmp_path)


def test_recursive_mirrors_the_tree(tmp_path, tree, run_batchwarp, run_gdalwarp):
    out = tree / "warped"  # inside the tree: never listed as a source
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-recursive", "-report", report, tree, "-outdir", out])
    assert res.returncode == 0, res.stderr
    expected = ["a/b/v0000.tif", "a/u0000.tif", "a/u0001.tif", "t0000.tif", "t0001.tif"]
    found = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert found == expected
    check_outputs([(tree / rel, out / rel) for rel in expected], run_gdalwarp, tmp_path)

    res = run_batchwarp([*WARP, "-q", "-recursive", "-report", report, tree, "-outdir", out])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert len(records) == len(expected) and all(r["skipped"] for r in records)


def test_quoted_pattern(tmp_path, run_batchwarp):
    src = tmp_path / "in"
    make_small_rasters(src, 12)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", str(src / "t000[2-4].tif"), str(src / "t001*.tif"), "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["t0002.tif", "t0003.tif", "t0004.tif", "t0010.tif", "t0011.tif"]


def test_pattern_that_matches_nothing_fails_as_a_missing_file(tmp_path, run_batchwarp):
    good = make_raster(tmp_path / "good.tif", xsize=8, ysize=8)
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, good, str(tmp_path / "none*.tif"),
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    failed = [r for r in read_report(report) if not r["ok"]]
    assert [os.path.basename(r["source"]) for r in failed] == ["none*.tif"]
    assert "No such file or directory" in failed[0]["error"]


def test_input_file_list(tmp_path, run_batchwarp, run_gdalwarp):
    sources = make_small_rasters(tmp_path / "in", 4)
    listing = tmp_path / "list.txt"
    # Blank lines are skipped; CR LF endings are understood.
    listing.write_bytes(("\r\n".join([sources[2], "", sources[0]]) + "\r\n").encode())
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-input_file_list", listing, sources[3], "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["t0000.tif", "t0002.tif", "t0003.tif"]
    check_outputs([(s, out / os.path.basename(s)) for s in (sources[0], sources[2])], run_gdalwarp, tmp_path)


def test_input_file_list_from_stdin(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 3)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-input_file_list", "-", "-outdir", out],
                        input="\n".join(sources[:2]) + "\n", stdin=None)
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["t0000.tif", "t0001.tif"]


def test_nul_separated_list_with_a_newline_in_a_name(tmp_path, run_batchwarp, run_gdalwarp):
    odd = make_raster(tmp_path / "line\nbreak.tif", xsize=16, ysize=16)
    plain = make_raster(tmp_path / "plain.tif", xsize=16, ysize=16, seed=3)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-null", "-input_file_list", "-", "-outdir", out],
                        input=f"{odd}\0{plain}\0", stdin=None)
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["line\nbreak.tif", "plain.tif"]
    check_outputs([(odd, out / "line\nbreak.tif")], run_gdalwarp, tmp_path)


def test_unreadable_list_is_a_usage_error(tmp_path, run_batchwarp):
    res = run_batchwarp([*WARP, "-input_file_list", tmp_path / "missing.txt", "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert f"Cannot open source list '{tmp_path / 'missing.txt'}'" in res.stderr
    assert not (tmp_path / "out").exists()


def test_vsizip_archive(tmp_path, tree, run_batchwarp, run_gdalwarp):
    archive = tmp_path / "tiles.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for rel in ["t0000.tif", "a/u0000.tif", "a/b/v0000.tif"]:
            z.write(tree / rel, rel)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-recursive", f"/vsizip/{archive}", "-outdir", out])
    assert res.returncode == 0, res.stderr
    for rel in ["t0000.tif", "a/u0000.tif", "a/b/v0000.tif"]:
        check_outputs([(f"/vsizip/{archive}/{rel}", out / rel)], run_gdalwarp, tmp_path)


@pytest.mark.parametrize("spelling, expected", [
    ("/vsizip/{archive}/", "member.tif"),  # a directory: listed
    ("/vsizip/{archive}", "one.tif"),  # GDAL shows an archive of one member as that member
])
def test_archive_of_one_member(tmp_path, run_batchwarp, run_gdalwarp, spelling, expected):
    """GDAL's stat calls a zip of one member a file, even spelled as a
    directory. (Fails on the old code: "/vsizip/one.zip/" was one source
    with no name, and its output was written as the hidden file out/.tif.)"""
    member = make_raster(tmp_path / "member.tif", seed=4)
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(member, "member.tif")
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", spelling.format(archive=archive), "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == [expected]
    check_outputs([(f"/vsizip/{archive}/member.tif", out / expected)], run_gdalwarp, tmp_path)


def test_directory_dataset_spelled_as_a_directory(tmp_path, run_batchwarp, run_gdalwarp):
    """A dataset that is a directory, named with a trailing slash ("g.zarr/"),
    is named after the directory, as without it. (Fails on the old code: the
    output was the hidden file out/.tif.)"""
    zarr = tmp_path / "g.zarr"
    gdal.Translate(str(zarr), str(make_raster(tmp_path / "s.tif", seed=5)), format="Zarr")
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", f"{zarr}/", "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["g.tif"]
    check_outputs([(str(zarr), out / "g.tif")], run_gdalwarp, tmp_path)


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_subdatasets_are_named_by_their_file_and_their_own_name(tmp_path, run_batchwarp, run_gdalwarp, where):
    """GDAL's subdataset names (NETCDF:"a.nc":var, GTIFF_DIR:n:file,
    GPKG:file:table) name their outputs by the file and the subdataset, so
    that the subdatasets of one file differ. (Fails on the old code:
    NETCDF:"a.nc":Band1 gave the output 'NETCDF:"a.tif', GTIFF_DIR:1:s.tif
    gave 'GTIFF_DIR:1:s.tif'; with absolute paths, the file's stem alone.)"""
    src = make_raster(tmp_path / "s.tif", seed=6)
    gdal.Translate(str(tmp_path / "a.nc"), str(src), format="netCDF")
    gdal.Translate(str(tmp_path / "g.gpkg"), str(src), format="GPKG")
    d = "" if where == "relative" else f"{tmp_path}/"
    sources = [f'NETCDF:"{d}a.nc":Band1', f"GTIFF_DIR:1:{d}s.tif", f"GPKG:{d}g.gpkg:g"]
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", out], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    expected = ["a_Band1.tif", "s_1.tif", "g_g.tif"]
    assert all_files(out) == sorted(expected)
    absolute = [f'NETCDF:"{tmp_path}/a.nc":Band1', f"GTIFF_DIR:1:{tmp_path}/s.tif", f"GPKG:{tmp_path}/g.gpkg:g"]
    check_outputs([(s, out / e) for s, e in zip(absolute, expected)], run_gdalwarp, tmp_path)


@pytest.fixture
def served_tiles(tmp_path):
    root = tmp_path / "served"
    sources = make_small_rasters(root, 3)
    server = FileServer(root)
    try:
        yield server.url, sources
    finally:
        server.stop()


def test_vsicurl_directory_and_files(tmp_path, served_tiles, run_batchwarp, run_gdalwarp):
    url, sources = served_tiles
    out = tmp_path / "out"
    report = tmp_path / "r.jsonl"
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "20", "CPL_VSIL_CURL_CHUNK_SIZE": "16384"}
    res = run_batchwarp([*WARP, "-q", "-report", report, f"/vsicurl/{url}/", "-outdir", out], env=env)
    assert res.returncode == 0, res.stderr
    assert all_files(out) == ["t0000.tif", "t0001.tif", "t0002.tif"]
    assert all(r["source"].startswith(f"/vsicurl/{url}/") for r in read_report(report))
    check_outputs([(s, out / os.path.basename(s)) for s in sources], run_gdalwarp, tmp_path)

    out2 = tmp_path / "out2"
    res = run_batchwarp([*WARP, "-q", f"/vsicurl/{url}/t0001.tif", f"/vsicurl/{url}/t000[02].tif",
                         "-outdir", out2], env=env)
    assert res.returncode == 0, res.stderr
    assert all_files(out2) == ["t0000.tif", "t0001.tif", "t0002.tif"]


def test_output_template(tmp_path, tree, run_batchwarp):
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-recursive", "-of", "COG", "-suffix", "_m",
                         "-output_template", "{parent}/{stem}{suffix}.{ext}", tree, "-outdir", out])
    assert res.returncode == 0, res.stderr
    found = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert found == ["a/u0000_m.tif", "a/u0001_m.tif", "b/v0000_m.tif", "in/t0000_m.tif", "in/t0001_m.tif"]
    for rel in found:
        assert gdal.Open(str(out / rel)).GetDriver().ShortName == "GTiff"


@pytest.mark.parametrize("template, message", [
    ("{stem}.{format}", "unknown placeholder '{format}'"),
    ("../{stem}.{ext}", "must be a relative path inside -outdir"),
    ("/abs/{stem}.tif", "must be a relative path inside -outdir"),
    ("{stem.tif", "unclosed '{'"),
])
def test_bad_output_template_is_a_usage_error(tmp_path, tree, run_batchwarp, template, message):
    res = run_batchwarp([*WARP, "-output_template", template, tree, "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert message in res.stderr
    assert not (tmp_path / "out").exists()


def test_template_collision_is_refused(tmp_path, tree, run_batchwarp):
    res = run_batchwarp([*WARP, "-recursive", "-output_template", "same.{ext}", tree, "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert "would both be written to" in res.stderr


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, tree, run_batchwarp):
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-recursive", "-dry_run", tree, "-outdir", out])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines == [f"{tree}/{rel} -> {out}/{rel}" for rel in
                     ["a/b/v0000.tif", "a/u0000.tif", "a/u0001.tif", "t0000.tif", "t0001.tif"]]
    assert not out.exists()


def _gdalbuildvrt_reads_lists_from(list_path, tmp_path, raster):
    """Whether this GDAL's gdalbuildvrt can read -input_file_list from a pipe
    at list_path while the lines still trickle in, tried with a producer of
    our own that is not gdal_batchwarp."""
    vrt = tmp_path / "probe.vrt"
    producer = subprocess.Popen(
        ["sh", "-c", 'echo "$1"; sleep 0.3; echo "$1"', "sh", str(raster)], stdout=subprocess.PIPE)
    res = subprocess.run(["gdalbuildvrt", "-q", "-input_file_list", list_path, str(vrt)],
                         stdin=producer.stdout, capture_output=True, text=True)
    producer.stdout.close()
    producer.wait()
    return res.returncode == 0 and vrt.exists()


@pytest.mark.parametrize("list_path", ["/dev/stdin", "/vsistdin/"])
def test_print_outputs_feeds_gdalbuildvrt(tmp_path, batchwarp_bin, list_path):
    sources = make_small_rasters(tmp_path / "in", 6)
    if not _gdalbuildvrt_reads_lists_from(list_path, tmp_path, sources[0]):
        pytest.xfail(f"this GDAL's gdalbuildvrt cannot read -input_file_list {list_path} from a pipe "
                     "(it seeks back in the list: seen with GDAL 3.6 and 3.10, not 3.13); use /vsistdin/")
    out = tmp_path / "out"
    mosaic = tmp_path / "mosaic.vrt"
    producer = subprocess.Popen([batchwarp_bin, *WARP, "-q", "-print_outputs", str(tmp_path / "in"),
                                 "-outdir", str(out)], stdout=subprocess.PIPE)
    consumer = subprocess.run(["gdalbuildvrt", "-q", "-input_file_list", list_path, str(mosaic)],
                              stdin=producer.stdout, capture_output=True, text=True)
    producer.stdout.close()
    assert producer.wait(timeout=120) == 0
    assert consumer.returncode == 0, consumer.stderr
    ds = gdal.Open(str(mosaic))
    assert ds is not None and ds.RasterCount == 1
    listed = sorted(norm(f) for f in ds.GetFileList() if f.endswith(".tif"))
    assert listed == sorted(norm(out / os.path.basename(s)) for s in sources)
    assert ds.GetRasterBand(1).Checksum() >= 0


def test_print_outputs_lists_complete_outputs_only(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 3)
    (tmp_path / "in" / "bad.tif").write_text("not a raster")
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-print_outputs", tmp_path / "in", "-outdir", out])
    assert res.returncode == 1
    assert sorted(res.stdout.splitlines()) == sorted(str(out / os.path.basename(s)) for s in sources)


def test_print_outputs_and_report_to_stdout_conflict(tmp_path, run_batchwarp):
    res = run_batchwarp([*WARP, "-print_outputs", "-report", "-", tmp_path, "-outdir", tmp_path / "o"])
    assert res.returncode == 2
    assert "-print_outputs and -report - would both write to stdout" in res.stderr


def test_optfile(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 2)
    optfile = tmp_path / "opts.txt"
    optfile.write_text(f'-t_srs EPSG:3857\n-q\n-suffix "_opt"\n{sources[0]}\n')
    res = run_batchwarp(["--optfile", optfile, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert all_files(tmp_path / "out") == ["t0000_opt.tif"]


def test_config_and_debug_reach_the_workers(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 1)
    res = run_batchwarp([*WARP, "-q", "--debug", "on", "--config", "GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR",
                         sources[0], "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    # GDAL's own debug output, from a worker process.
    assert "[worker " in res.stderr and "GDALOpen(" in res.stderr


def test_help_and_version(run_batchwarp):
    res = run_batchwarp(["--help"])
    assert res.returncode == 0
    assert "Usage: gdal_batchwarp" in res.stdout and "-input_file_list" in res.stdout
    res = run_batchwarp(["--version"])
    assert res.returncode == 0
    assert res.stdout.startswith("gdal_batchwarp ") and gdal.VersionInfo("RELEASE_NAME") in res.stdout


def _assert_one_source_per_dataset(tmp_path, run_batchwarp, run_gdalwarp, src, main, template):
    """Beside the dataset src/main and a raster t.tif, the listing of src
    (with -output_template template, if any) has those two sources alone,
    and main's output is gdalwarp's."""
    make_raster(src / "t.tif", xsize=16, ysize=16, seed=1)
    report = tmp_path / "report.jsonl"
    extra = ["-output_template", template] if template else []
    res = run_batchwarp([*WARP, "-q", *extra, src, "-outdir", tmp_path / "out", "-report", report])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert sorted(os.path.basename(r["source"]) for r in records) == sorted([main, "t.tif"]), records
    rec = next(r for r in records if os.path.basename(r["source"]) == main)
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, src / main, ref)
    assert_same_raster(rec["output"], ref)


# (driver, creation options, main file name): datasets whose header or data
# file has an extension another driver claims (MFF's .hdr, HFA's .img,
# ISIS3's .cub), so that a listing took it unopened.
DATASETS_OF_SEVERAL_FILES = {
    "ENVI": ("ENVI", [], "e.bin"),
    "ENVI_suffix_add": ("ENVI", ["SUFFIX=ADD"], "e.bin"),
    "ENVI_no_extension": ("ENVI", [], "e"),
    "EHdr": ("EHdr", [], "e.bil"),
    "ISIS3_detached": ("ISIS3", ["DATA_LOCATION=EXTERNAL"], "e.lbl"),
    "PDS4": ("PDS4", [], "e.xml"),
}


@pytest.mark.parametrize("template", [None, "{name}.tif"])
@pytest.mark.parametrize("label", sorted(DATASETS_OF_SEVERAL_FILES))
def test_a_listed_datasets_own_files_are_not_sources(tmp_path, run_batchwarp, run_gdalwarp, label, template):
    """A directory of ENVI (x.bin + x.hdr), EHdr, detached ISIS3 or PDS4
    rasters is one source per dataset. The header or data file, named like a
    raster of another driver, was a source of its own: its output name
    collided with the dataset's and the whole batch was refused (exit 2);
    with a template that tells them apart, its task failed (exit 1)."""
    driver, creation, main = DATASETS_OF_SEVERAL_FILES[label]
    if gdal.GetDriverByName(driver) is None:
        pytest.skip(f"GDAL has no {driver} driver")
    src = tmp_path / "in"
    src.mkdir()
    tile = make_raster(tmp_path / "tile.tif", xsize=16, ysize=16, dtype=gdal.GDT_Int16)
    gdal.Translate(str(src / main), tile, format=driver, creationOptions=creation)
    files = gdal.Open(str(src / main)).GetFileList()
    assert len(files) > 1, files
    _assert_one_source_per_dataset(tmp_path, run_batchwarp, run_gdalwarp, src, main, template)


def _name_mrf_files(src, data, index):
    """Moves src/m.mrf's tiles to src/data and its index to src/index, as its
    XML now names them."""
    os.rename(src / "m.ppg", src / data)
    os.rename(src / "m.idx", src / index)
    text = (src / "m.mrf").read_text()
    (src / "m.mrf").write_text(text.replace("<Raster>", f"<Raster><DataFile>{data}</DataFile>"
                                            f"<IndexFile>{index}</IndexFile>", 1))


def _mrf_in(src, tmp_path, compress):
    """src/m.mrf with COMPRESS=compress, or a skip where this GDAL cannot."""
    if gdal.GetDriverByName("MRF") is None:
        pytest.skip("GDAL has no MRF driver")
    src.mkdir()
    tile = make_raster(tmp_path / "tile.tif", xsize=16, ysize=16, dtype=gdal.GDT_Byte)
    try:
        gdal.Translate(str(src / "m.mrf"), tile, format="MRF", creationOptions=[f"COMPRESS={compress}"])
    except RuntimeError as e:
        pytest.skip(f"this GDAL's MRF cannot write COMPRESS={compress}: {e}")


@pytest.mark.parametrize("template", [None, "{name}.tif"])
@pytest.mark.parametrize("layout", ["PNG", "JPEG", "LERC", "named", "named_another_stem"])
def test_an_mrfs_own_files_are_not_sources(tmp_path, run_batchwarp, run_gdalwarp, layout, template):
    """An MRF m.mrf keeps its tiles in m.ppg (PNG), m.pjg (JPEG) or m.lrc
    (LERC), its index in m.idx, or in the files its XML names; GDAL lists
    the .mrf alone (GDALGetFileList), and the tiles' file is itself a PNG, a
    JPEG or a raw LERC that GDAL opens as an MRF, so the listing took it as a
    source of its own: its output name collided with the MRF's and the whole
    batch was refused (exit 2), or, told apart by a template, it was warped
    as a raster of its own. Now one source per MRF."""
    src = tmp_path / "in"
    _mrf_in(src, tmp_path, "PNG" if layout.startswith("named") else layout)
    if layout.startswith("named"):
        # Named in its XML, with the MRF's stem or another (which the
        # listing looked at no more than any raster's file).
        stem = "tiles" if layout == "named_another_stem" else "m"
        _name_mrf_files(src, f"{stem}.png", f"{stem}.index")
    own = sorted(set(os.listdir(src)) - {"m.mrf", "m.mrf.aux.xml"})
    assert len(own) == 2 and any(gdal.IdentifyDriverEx(str(src / n)) for n in own), own  # the premise
    _assert_one_source_per_dataset(tmp_path, run_batchwarp, run_gdalwarp, src, "m.mrf", template)


def test_the_tiles_of_an_mrf_whose_compression_this_gdal_lacks_are_not_a_source(tmp_path, run_batchwarp):
    """m.mrf compressed with QB3, which this GDAL may not read: its tiles
    are in m.pq3 (here a PNG under that name, so that GDAL opens it alone:
    no QB3 writer needed). The old code learnt the tiles' name from GDAL's
    open of the MRF and a table without QB3, so m.pq3 became a source of its
    own and the plan refused the batch (both to out/m.tif). Now m.mrf and
    the raster beside it are the two sources."""
    src = tmp_path / "in"
    _mrf_in(src, tmp_path, "PNG")
    os.rename(src / "m.ppg", src / "m.pq3")
    text = (src / "m.mrf").read_text()
    (src / "m.mrf").write_text(text.replace("<Raster>", "<Raster><Compression>QB3</Compression>", 1))
    make_raster(src / "t.tif", xsize=16, ysize=16, seed=1)
    assert gdal.IdentifyDriverEx(str(src / "m.pq3")) is not None  # the premise
    res = run_batchwarp([*WARP, "-q", "-dry_run", src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert sorted(line.split(" -> ")[0] for line in res.stdout.splitlines()) == [
        str(src / "m.mrf"), str(src / "t.tif")], res.stdout


def test_a_raster_beside_an_mrf_that_is_not_its_file_stays_a_source(tmp_path, run_batchwarp):
    """A PNG m.png beside the MRF m.mrf whose tiles are in m.ppg is no file
    of the MRF's: with a template that tells their outputs apart, both are
    warped."""
    src = tmp_path / "in"
    _mrf_in(src, tmp_path, "PNG")
    gdal.Translate(str(src / "m.png"), make_raster(tmp_path / "other.tif", xsize=16, ysize=16,
                                                   dtype=gdal.GDT_Byte, seed=2), format="PNG")
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-output_template", "{name}.tif", src, "-outdir", tmp_path / "out",
                         "-report", report])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert sorted(os.path.basename(r["source"]) for r in records) == ["m.mrf", "m.png"], records
    assert all(r["ok"] for r in records), records
