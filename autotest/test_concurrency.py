"""The pool's concurrency on a local, CPU-bound batch: -j workers and no
more (workers beyond -j are only for tasks that wait on I/O: see
test_s3.py)."""
import pytest

from conftest import make_small_rasters, read_report


@pytest.mark.parametrize("jobs", [1, 2])
def test_cpu_bound_local_batch_never_runs_more_workers_than_j(tmp_path, run_batchwarp, jobs):
    """Every task on one CPU for all its wall time (or waiting for one, on
    a loaded machine): the report names at most -j worker processes, and
    the debug output never shows the pool growing."""
    src = tmp_path / "in"
    make_small_rasters(src, 24, size=256)
    report = tmp_path / "report.jsonl"
    res = run_batchwarp(["-t_srs", "EPSG:3857", "-r", "cubic", "-q", "-j", str(jobs), "--debug", "on",
                         "-report", report, src, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert len(records) == 24
    assert all(r["ok"] for r in records), records
    pids = {r["worker_pid"] for r in records}
    assert 1 <= len(pids) <= jobs, pids
    assert "workers: " not in res.stderr, [line for line in res.stderr.splitlines() if "workers: " in line]
