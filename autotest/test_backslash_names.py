"""A backslash in a POSIX file name is part of the name, never a path
separator (issue 11, item 9). GDAL's CPLGetPath/CPLGetFilename/CPLGetBasename
split at it even on POSIX, which named `x\\y.tif` as `y.tif` (colliding with
a real `y.tif`) or placed its output in a subdirectory `x`."""
import os
import shutil

import pytest

from conftest import assert_same_raster, make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def tree(directory):
    """Every file below `directory`, as sorted relative paths."""
    found = []
    for root, _dirs, files in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, f), directory) for f in files]
    return sorted(found)


def _sources(directory):
    """`x\\y.tif` and `y.tif`, two different rasters, side by side."""
    made = make_small_rasters(directory, 2)
    bs = os.path.join(directory, "x\\y.tif")
    plain = os.path.join(directory, "y.tif")
    shutil.move(made[0], bs)
    shutil.move(made[1], plain)
    return bs, plain


@pytest.mark.parametrize("given_as", ["files", "directory", "recursive"])
def test_backslash_sources_keep_their_names_and_do_not_collide(tmp_path, run_batchwarp, run_gdalwarp, given_as):
    bs, plain = _sources(tmp_path / "in")
    out = tmp_path / "out"
    if given_as == "files":
        args = [bs, plain]
    elif given_as == "directory":
        args = [tmp_path / "in"]
    else:
        args = ["-recursive", tmp_path / "in"]
    res = run_batchwarp([*WARP, "-q", *args, "-outdir", out])
    assert res.returncode == 0, res.stderr
    # Both outputs side by side, under the sources' own names: no
    # subdirectory "x", no output named "y.tif" for "x\y.tif".
    assert tree(out) == sorted(["x\\y.tif", "y.tif"]), tree(out)
    for src in (bs, plain):
        ref = tmp_path / "ref" / os.path.basename(src).replace("\\", "_")
        ref.parent.mkdir(exist_ok=True)
        run_gdalwarp(WARP, src, ref)
        assert_same_raster(str(out / os.path.basename(src)), str(ref))


def test_backslash_in_template_placeholders(tmp_path, run_batchwarp):
    """{stem}, {name} and {parent} take whole POSIX components."""
    src_dir = tmp_path / "in\\d"
    bs, plain = _sources(src_dir)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-output_template", "{parent}/{stem}_w.{ext}", bs, plain, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert tree(out) == sorted(["in\\d/x\\y_w.tif", "in\\d/y_w.tif"]), tree(out)


def test_dry_run_names_backslash_outputs(tmp_path, run_batchwarp):
    bs, plain = _sources(tmp_path / "in")
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-dry_run", bs, plain, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert f"{bs} -> {out}/x\\y.tif" in res.stdout, res.stdout
    assert f"{plain} -> {out}/y.tif" in res.stdout, res.stdout
