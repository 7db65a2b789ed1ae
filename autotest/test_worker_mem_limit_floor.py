"""-worker_mem_limit below what a worker needs just to run GDAL: every task
fails with a message saying so, instead of workers dying by SIGABRT or
SIGSEGV (or hanging) without a word (issue 11, item 9)."""
from conftest import make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def test_a_limit_below_the_floor_says_so(tmp_path, run_batchwarp, not_sanitized):
    sources = make_small_rasters(tmp_path / "in", 2)
    res = run_batchwarp([*WARP, "-q", "-worker_mem_limit", "100", *sources, "-outdir", tmp_path / "out"],
                        timeout=300)
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("-worker_mem_limit of 100 MB is too low") == 2, res.stderr
    assert "signal" not in res.stderr
