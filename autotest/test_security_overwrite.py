"""-overwrite replaces by one rename() over a regular file, never by a driver
delete at the destination (issue 11, item 4; item 9: a directory at an
output's name). Whatever is not a regular file at an output's name (a
directory, a symbolic link someone planted) is refused before any work, and
a task that fails leaves the earlier output as it was. Readers never find an
output missing or partial while it is being replaced."""
import hashlib
import os
import subprocess
import sys
import time

import pytest
from osgeo import ogr, osr

from conftest import make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def make_shapefiles(directory, names=("roads", "rivers")):
    os.makedirs(directory, exist_ok=True)
    drv = ogr.GetDriverByName("ESRI Shapefile")
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    for name in names:
        ds = drv.CreateDataSource(os.path.join(directory, f"{name}.shp"))
        ds.CreateLayer(name, srs, ogr.wkbPoint)
        ds = None
    return sorted(os.listdir(directory))


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "no-overwrite"])
@pytest.mark.parametrize("kind", ["directory", "link-to-directory", "link-to-file"])
def test_what_is_not_a_regular_file_at_an_output_name_is_refused(tmp_path, run_batchwarp, kind, overwrite):
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim_files = make_shapefiles(victim)
    (victim / "precious.tif").write_bytes(b"precious")
    victim_files = sorted(os.listdir(victim))
    name = out / os.path.basename(sources[0])
    if kind == "directory":
        shapes = make_shapefiles(name)
    elif kind == "link-to-directory":
        name.symlink_to(victim)
    else:
        name.symlink_to(victim / "precious.tif")
    res = run_batchwarp([*WARP, "-q", *(["-overwrite"] if overwrite else []), *sources, "-outdir", out])
    assert res.returncode == 2, res.stderr
    assert str(name) in res.stderr and "not a regular file" in res.stderr, res.stderr
    assert sorted(os.listdir(victim)) == victim_files
    assert (victim / "precious.tif").read_bytes() == b"precious"
    if kind == "directory":
        assert sorted(os.listdir(name)) == shapes
    else:
        assert name.is_symlink()
    # Refused before any work: no output at all.
    assert sorted(os.listdir(out)) == [name.name]


def test_a_failed_replacement_leaves_the_earlier_output_as_it_was(tmp_path, run_batchwarp):
    """The new ENVI output cannot be published (its .hdr name is taken by a
    directory, which appeared after the first run): the task fails, and the
    earlier output is still whole."""
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    options = [*WARP, "-of", "ENVI", "-q"]
    res = run_batchwarp([*options, *sources, "-outdir", out])
    assert res.returncode == 0, res.stderr
    stem = os.path.splitext(os.path.basename(sources[0]))[0]
    main = out / stem
    before = digest(main)
    hdr = out / f"{stem}.hdr"
    hdr_before = hdr.read_bytes()
    hdr.rename(tmp_path / "hdr.bak")
    hdr.mkdir()
    res = run_batchwarp([*options, "-overwrite", *sources, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert digest(main) == before, "the earlier output was lost or changed"
    assert f"'{hdr}' exists and is a directory" in res.stderr, res.stderr
    assert hdr.is_dir()
    assert (tmp_path / "hdr.bak").read_bytes() == hdr_before
    # The other source was replaced as asked.
    other = os.path.splitext(os.path.basename(sources[1]))[0]
    assert (out / other).is_file()


READER = r"""
import os, sys, time
from osgeo import gdal
gdal.UseExceptions()
paths, expected, stop = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3]
bad, rounds = [], 0
while not os.path.exists(stop):
    rounds += 1
    for p, want in zip(paths, expected):
        try:
            fd = os.open(p, os.O_RDONLY)
            os.close(fd)
        except OSError as e:
            bad.append(f"{p}: {e.strerror}")
            continue
        if rounds % 50 == 0:
            try:
                ds = gdal.Open(p)
                got = str(ds.GetRasterBand(1).Checksum())
                ds = None
            except RuntimeError as e:
                bad.append(f"{p}: {e}")
                continue
            if got != want:
                bad.append(f"{p}: checksum {got} != {want}")
print(rounds)
print("\n".join(bad[:20]), file=sys.stderr)
sys.exit(1 if bad else 0)
"""


def test_readers_never_find_an_output_missing_or_partial_during_overwrite(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 24, size=64)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", out])
    assert res.returncode == 0, res.stderr
    from osgeo import gdal
    paths = [str(out / os.path.basename(s)) for s in sources]
    expected = []
    for p in paths:
        ds = gdal.Open(p)
        expected.append(str(ds.GetRasterBand(1).Checksum()))
        ds = None
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, ",".join(paths), ",".join(expected), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(4):
            res = run_batchwarp([*WARP, "-q", "-overwrite", "-j", "2", *sources, "-outdir", out])
            assert res.returncode == 0, res.stderr
    finally:
        stop.touch()
        rounds, problems = reader.communicate(timeout=120)
    assert reader.returncode == 0, problems
    assert int(rounds) > 0
