"""Usage errors: refused before any work (exit 2), with a clear message, and
nothing written."""
import os
import shutil

import pytest

from conftest import make_raster, make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def assert_nothing_written(out):
    assert not os.path.exists(out) or os.listdir(out) == []


def test_two_sources_one_output(tmp_path, run_batchwarp):
    os.makedirs(tmp_path / "one")
    os.makedirs(tmp_path / "two")
    a = make_raster(tmp_path / "one" / "x.tif", xsize=8, ysize=8)
    b = make_raster(tmp_path / "two" / "x.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, a, b, "-outdir", out])
    assert res.returncode == 2
    assert f"Sources '{a}' and '{b}' would both be written to '{out}/x.tif'" in res.stderr
    assert_nothing_written(out)


def test_two_sources_one_output_by_stem(tmp_path, run_batchwarp):
    a = make_raster(tmp_path / "x.tif", xsize=8, ysize=8)
    b = tmp_path / "x.gtiff"
    shutil.copy(a, b)
    res = run_batchwarp([*WARP, a, b, "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert "would both be written to" in res.stderr and "x.gtiff" in res.stderr
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("second", ["./in/x.tif", "in//x.tif", "in/", "link.tif"])
def test_one_source_given_twice_is_named_as_such(tmp_path, run_batchwarp, second):
    """The same file named twice (another spelling, its directory, a link)
    is refused as given twice, not as two sources to rename."""
    os.makedirs(tmp_path / "in")
    make_raster(tmp_path / "in" / "x.tif", xsize=8, ysize=8)
    os.symlink("in/x.tif", tmp_path / "link.tif")
    res = run_batchwarp([*WARP, "in/x.tif", second, "-outdir", "out", "-output_template", "x.tif"],
                        cwd=tmp_path)
    assert res.returncode == 2
    assert "is given twice" in res.stderr and "give each source once" in res.stderr, res.stderr
    assert "rename one" not in res.stderr
    assert_nothing_written(tmp_path / "out")


def test_output_over_its_own_source(tmp_path, run_batchwarp):
    src = make_raster(tmp_path / "x.tif", xsize=8, ysize=8)
    before = open(src, "rb").read()
    res = run_batchwarp([*WARP, src, "-outdir", tmp_path])
    assert res.returncode == 2
    assert f"Output '{tmp_path}/x.tif' would overwrite its own source" in res.stderr
    assert open(src, "rb").read() == before


@pytest.mark.parametrize("bad", [
    ["-r", "nonsense"],
    ["-ot", "NotAType"],
    ["-tr", "0", "0"],
    ["-te", "1", "2", "3", "4", "-te_srs", "NOT_A_CRS"],
])
def test_bad_gdalwarp_option_gives_gdals_message(tmp_path, run_batchwarp, gdalwarp_error_messages, bad):
    src = make_raster(tmp_path / "x.tif", xsize=8, ysize=8)
    out = tmp_path / "out"
    res = run_batchwarp([*bad, src, "-outdir", out])
    assert res.returncode == 2, res.stderr
    for message in gdalwarp_error_messages(bad):
        assert message.splitlines()[0] in res.stderr, f"GDAL says {message!r}; we said {res.stderr!r}"
    assert_nothing_written(out)


@pytest.mark.parametrize("args, message", [
    (["-no_such_option"], "no_such_option"),
    (["-j", "0"], "-j must be at least 1"),
    (["-of", "NoSuchDriver"], "Output driver 'NoSuchDriver' not recognised"),
    (["-timeout", "x"], "-timeout expects seconds"),
])
def test_bad_batch_options(tmp_path, run_batchwarp, args, message):
    src = make_raster(tmp_path / "x.tif", xsize=8, ysize=8)
    res = run_batchwarp([*args, *WARP, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert message in res.stderr
    assert_nothing_written(tmp_path / "out")


def test_missing_outdir_and_missing_sources(tmp_path, run_batchwarp):
    src = make_raster(tmp_path / "x.tif", xsize=8, ysize=8)
    res = run_batchwarp([*WARP, src])
    assert res.returncode == 2 and "No output directory given" in res.stderr
    res = run_batchwarp([*WARP, "-outdir", tmp_path / "out"])
    assert res.returncode == 2 and "No source raster given" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_batchwarp([*WARP, empty, "-outdir", tmp_path / "out"])
    assert res.returncode == 2 and "No raster found in the given sources" in res.stderr
    assert_nothing_written(tmp_path / "out")


def test_missing_source_file_fails_in_its_task(tmp_path, run_batchwarp):
    """A missing file among existing ones is a per-file failure, not a usage
    error: the rest of the batch runs (as with a file deleted mid-batch)."""
    good = make_small_rasters(tmp_path / "in", 1)[0]
    missing = tmp_path / "in" / "gone.tif"
    res = run_batchwarp([*WARP, "-q", good, missing, "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    assert f"FAILED {missing}" in res.stderr and "No such file or directory" in res.stderr
    assert os.listdir(tmp_path / "out") == ["t0000.tif"]


def test_a_source_directory_without_rasters_is_named(tmp_path, run_batchwarp):
    """A directory given as a source that holds no raster (its rasters only in
    subdirectories, without -recursive) was left out without a word: the
    batch exited 0 with the other sources' outputs, or said only 'No raster
    found in the given sources'. It is named now, with the likely reason."""
    good = make_small_rasters(tmp_path / "a", 1)[0]
    make_small_rasters(tmp_path / "tiles" / "2023", 1)
    make_small_rasters(tmp_path / "tiles" / "2024", 1)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no raster here\n")
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", tmp_path / "a", tmp_path / "tiles", tmp_path / "notes", "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert os.listdir(out) == [os.path.basename(good)]
    assert (f"Source directory '{tmp_path / 'tiles'}' holds no raster file, only 2 subdirectories" in res.stderr
            and "add -recursive" in res.stderr), res.stderr
    assert f"Source directory '{tmp_path / 'notes'}' holds no raster file: nothing is taken" in res.stderr
    res = run_batchwarp([*WARP, "-q", tmp_path / "tiles", "-outdir", tmp_path / "out2"])
    assert res.returncode == 2
    assert "add -recursive" in res.stderr and "No raster found in the given sources" in res.stderr
    assert_nothing_written(tmp_path / "out2")
    res = run_batchwarp([*WARP, "-q", "-recursive", tmp_path / "tiles", "-outdir", tmp_path / "out3"])
    assert res.returncode == 0 and "holds no raster" not in res.stderr, res.stderr
