"""Outputs under /vsi directories are written to a local staging directory
and copied into place with their sidecars. BATCHWARP_STAGE_OUTPUTS=YES
takes that path for a local directory, so it can be checked here."""
import os

import pytest

from conftest import all_files, assert_same_raster, make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


@pytest.mark.parametrize("driver", ["GTiff", "ENVI"])
def test_staged_outputs_are_complete_with_sidecars(tmp_path, run_batchwarp, run_gdalwarp, driver):
    sources = make_small_rasters(tmp_path / "in", 4)
    staging = tmp_path / "staging"
    staging.mkdir()
    out = tmp_path / "out"
    options = [*WARP, "-of", driver]
    res = run_batchwarp([*options, "-q", "--config", "BATCHWARP_STAGE_OUTPUTS", "YES",
                         "--config", "CPL_TMPDIR", staging, *sources, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(staging) == [], "staged files must be gone once copied"
    suffix = ".tif" if driver == "GTiff" else ""  # ENVI declares no extension
    for s in sources:
        stem = os.path.splitext(os.path.basename(s))[0]
        ref = tmp_path / f"ref_{stem}{suffix}"
        run_gdalwarp(options, s, ref)
        assert_same_raster(out / f"{stem}{suffix}", ref)
        # The same files as gdalwarp writes (ENVI: .hdr and .aux.xml too).
        ours = sorted(n[len(stem):] for n in all_files(out) if n.startswith(stem))
        theirs = sorted(n[len(ref.name) - len(suffix):] for n in all_files(tmp_path)
                        if n.startswith(f"ref_{stem}"))
        assert ours == theirs and len(ours) >= (1 if driver == "GTiff" else 2), (ours, theirs)


def test_failed_staged_task_leaves_nothing(tmp_path, run_batchwarp):
    good = make_small_rasters(tmp_path / "in", 1)[0]
    bad = tmp_path / "in" / "bad.tif"
    bad.write_text("no raster")
    staging = tmp_path / "staging"
    staging.mkdir()
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "--config", "BATCHWARP_STAGE_OUTPUTS", "YES", "--config", "CPL_TMPDIR",
                         staging, good, bad, "-outdir", out])
    assert res.returncode == 1
    assert all_files(staging) == []
    assert all_files(out) == ["t0000.tif"]
