"""Workers start while the plan is built (issue 15 item 8): they load GDAL
meanwhile and are the ones that then run the tasks; those the plan turns out
not to need, or a plan that fails, leave no process behind.

The order is seen through the test-only event log of a test build
(GDAL_BATCHWARP_TEST_EVENTS): a worker writes "worker_started PID" when it
begins, the supervisor "plan_built" once its plan is built, after waiting
(bounded) for a worker to have begun; a worker spawned only after the plan
can never come first."""
import os
import time

import pytest

from conftest import expected_output, make_small_rasters, norm, read_report
from fault_util import alive, no_faults_env, require_fault_hooks

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture
def hooks(batchwarp_bin):
    require_fault_hooks(batchwarp_bin)


def run_logged(run_batchwarp, tmp_path, args):
    events = tmp_path / "events.log"
    env = {**no_faults_env(), "GDAL_BATCHWARP_TEST_EVENTS": str(events)}
    res = run_batchwarp(args, env=env)
    lines = events.read_text().splitlines() if events.exists() else []
    started = [int(line.split()[1]) for line in lines if line.startswith("worker_started ")]
    return res, lines, started


def gone(pids, within=30.0):
    """Those of pids still alive after waiting up to `within` s (none, normally:
    every worker is reaped before the program exits)."""
    deadline = time.monotonic() + within
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def test_workers_start_before_the_plan_is_built_and_run_the_tasks(hooks, run_batchwarp, tmp_path):
    sources = make_small_rasters(tmp_path / "in", 6)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res, lines, started = run_logged(run_batchwarp, tmp_path,
                                     [*WARP, "-q", "-j", "2", "-report", report, "-outdir", out, *sources])
    assert res.returncode == 0, res.stderr
    assert "plan_built" in lines, lines
    # A worker was running before the plan was built, not spawned after it
    # (the other may only get there after the plan: the hook waits for one).
    assert lines[0].startswith("worker_started "), lines
    assert len(started) == 2, lines
    # And they are the workers that ran the tasks (no second set spawned).
    records = read_report(report)
    assert sorted(norm(r["source"]) for r in records) == sorted(norm(s) for s in sources)
    assert {r["worker_pid"] for r in records} <= set(started), (records, started)
    for src in sources:
        assert os.path.exists(expected_output(out, src))
    assert gone(started) == []


def test_one_file_named_starts_one_worker(hooks, run_batchwarp, tmp_path):
    """One file named, -j 4: one worker, not four, is started for it."""
    source = make_small_rasters(tmp_path / "in", 1)[0]
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res, lines, started = run_logged(run_batchwarp, tmp_path,
                                     [*WARP, "-q", "-j", "4", "-report", report, "-outdir", out, source])
    assert res.returncode == 0, res.stderr
    assert len(started) == 1 and lines.index("plan_built") > 0, lines
    assert [r["worker_pid"] for r in read_report(report)] == started
    assert os.path.exists(expected_output(out, source))
    assert gone(started) == []


def test_workers_the_plan_does_not_need_are_ended(hooks, run_batchwarp, tmp_path):
    """A directory of one file, -j 4: four workers start while it is listed
    (it could hold any number); one runs the file, the other three are ended,
    and the run succeeds."""
    source = make_small_rasters(tmp_path / "in", 1)[0]
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res, lines, started = run_logged(run_batchwarp, tmp_path,
                                     [*WARP, "-q", "-j", "4", "-report", report, "-outdir", out,
                                      tmp_path / "in"])
    assert res.returncode == 0, res.stderr
    assert len(started) >= 1 and lines.index("plan_built") > 0, lines
    assert [r["worker_pid"] for r in read_report(report)][0] in started
    assert os.path.exists(expected_output(out, source))
    assert gone(started) == []


def test_nothing_to_do_leaves_no_worker(hooks, run_batchwarp, tmp_path):
    """Every output already there: no task, the workers started while
    planning are ended, and the run succeeds."""
    sources = make_small_rasters(tmp_path / "in", 3)
    out = tmp_path / "out"
    first = run_batchwarp([*WARP, "-q", "-j", "2", "-outdir", out, *sources], env=no_faults_env())
    assert first.returncode == 0, first.stderr
    res, lines, started = run_logged(run_batchwarp, tmp_path, [*WARP, "-q", "-j", "2", "-outdir", out, *sources])
    assert res.returncode == 0, res.stderr
    assert started and lines.index("plan_built") > 0, lines
    assert gone(started) == []


def test_a_plan_that_fails_leaves_no_worker(hooks, run_batchwarp, tmp_path):
    """Two sources that would write the same output: the plan refuses the
    batch (a usage error, naming the files), and the workers started
    meanwhile are ended with it."""
    a = make_small_rasters(tmp_path / "a", 1, prefix="same")[0]
    b = make_small_rasters(tmp_path / "b", 1, prefix="same")[0]
    out = tmp_path / "out"
    res, lines, started = run_logged(run_batchwarp, tmp_path, [*WARP, "-q", "-j", "2", "-outdir", out, a, b])
    assert res.returncode == 2, res.stderr
    assert "same0000" in res.stderr, res.stderr
    assert "plan_refused" in lines and started, lines
    assert gone(started) == []
