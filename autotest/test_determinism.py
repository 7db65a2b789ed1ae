"""The same source with the same options gives the same bytes whatever -j is
and whatever else is in the batch (issue 12 item 4).

A task alone at the tail of a batch may get the cores of idle workers, but
only as threads that leave the bytes unchanged (the compressor's). Whole-world
warps such as +proj=sinu of GDAL's w_jpeg.tiff are where the warper's own
threads change values, so that is the source used here."""
import filecmp
import os
import shutil

import pytest

from conftest import make_raster

HERE = os.path.dirname(os.path.abspath(__file__))
W_JPEG = os.path.join(HERE, "conformance", "gdal", "utilities", "data", "w_jpeg.tiff")

OPTION_SETS = {
    "sinu": ["-t_srs", "+proj=sinu", "-ts", "1024", "512"],
    "sinu_deflate": ["-t_srs", "+proj=sinu", "-ts", "1024", "512", "-co", "COMPRESS=DEFLATE", "-co", "TILED=YES"],
    "eck4_cog": ["-t_srs", "+proj=eck4", "-of", "COG", "-co", "COMPRESS=DEFLATE"],
}

# (batch, -j) runs per option set: every combination for the plain warp; for
# the compressed ones, those where the task gets the tail's threads or not.
RUNS = {
    "sinu": [(b, j) for b in ("alone", "small", "large") for j in (1, 2, 3, 4)],
    "sinu_deflate": [("alone", 1), ("alone", 4), ("small", 3), ("large", 2)],
    "eck4_cog": [("alone", 1), ("alone", 4), ("small", 3), ("large", 2)],
}


def _compositions(tmp_path):
    """Batches holding the same source: alone, after small files, and next to
    a larger one (which changes the order and the tail)."""
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(W_JPEG, alone / "world.tif")
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(W_JPEG, small / "world.tif")
    for i in range(5):
        make_raster(str(small / f"s{i}.tif"), xsize=32, ysize=32, bands=1, epsg=4326)
    large = tmp_path / "large"
    large.mkdir()
    shutil.copy(W_JPEG, large / "world.tif")
    make_raster(str(large / "big.tif"), xsize=1200, ysize=900, bands=3, epsg=4326)
    return [alone, small, large]


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_same_bytes_whatever_j_and_batch(tmp_path, run_batchwarp, run_gdalwarp, name):
    options = OPTION_SETS[name]
    ext = "tif"
    reference = tmp_path / f"reference.{ext}"
    run_gdalwarp(options, W_JPEG, reference)
    batches = {batch.name: batch for batch in _compositions(tmp_path)}
    outputs = []
    for batch_name, jobs in RUNS[name]:
        out = tmp_path / f"out_{batch_name}_{jobs}"
        res = run_batchwarp([*options, "-q", "-j", str(jobs), batches[batch_name], "-outdir", out])
        assert res.returncode == 0, res.stderr
        outputs.append((batch_name, jobs, out / f"world.{ext}"))
    differing = [(b, j) for b, j, path in outputs if not filecmp.cmp(path, reference, shallow=False)]
    assert not differing, f"outputs differing from gdalwarp's (batch, -j): {differing}"


def test_a_tight_memory_budget_keeps_gdalwarps_chunks(tmp_path, run_batchwarp, run_gdalwarp):
    """The warp memory (-wm) decides the warp's chunks, and with them the
    pixels: at 3500x3500 in +proj=ortho, -wm 16 and gdalwarp's default 64 MB
    give other values. A budget that held two workers only with 16 MB of warp
    memory each gave those other values at -j 2, and gdalwarp's at -j 1. The
    budget now runs fewer workers, never a smaller -wm, and says so."""
    options = ["-t_srs", "+proj=ortho", "-ts", "3500", "3500"]
    reference = tmp_path / "reference.tif"
    run_gdalwarp(options, W_JPEG, reference)
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(W_JPEG, batch / "world.tif")
    make_raster(str(batch / "small.tif"), xsize=32, ysize=32, bands=1, epsg=4326)
    out = tmp_path / "out"
    res = run_batchwarp([*options, "-q", "-j", "2", "-memory_budget", "352", batch, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert filecmp.cmp(out / "world.tif", reference, shallow=False), "differs from gdalwarp's output"
    assert "Running 1 worker instead of 2" in res.stderr, res.stderr
