"""Workers that crash, abort, exit or hang (through the test-only fault hooks
of a test build), and workers killed from outside: the batch finishes,
exactly the faulted files fail with the reason (or succeed on retry), they
leave no output and no temporary file, no worker outlives the run, and
everything else is identical to gdalwarp's output."""
import os
import re
import shutil
import signal
import stat
import time

import pytest

from conftest import (all_files, assert_same_raster, expected_output, hidden_files, make_small_rasters, norm,
                      read_report, records_by_source)
from fault_util import (TEMP_PREFIX, ProcessTag, alive, children_of, faults_env, kill_and_reap,
                        kill_worker_and_wait_gone, no_faults_env, require_fault_hooks, start_batchwarp, temp_entries,
                        tree_files, wait_for_gate, wait_for_report_lines)

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]
TIMEOUT = 3
# The program's exact wording for each way a worker is lost.
EXPECTED_ERROR = {
    "segv": r"worker process (?P<pid>\d+) killed by signal SIGSEGV \(Segmentation fault\)",
    "abort": r"worker process (?P<pid>\d+) killed by signal SIGABRT \(Aborted\)",
    "exit": r"worker process (?P<pid>\d+) exited with status 3",
    "hang": rf"timed out after {TIMEOUT} s",
}
# Which of the 100 tiles each fault hits.
FAULTED = {"segv": 7, "abort": 30, "exit": 55, "hang": 81}


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    return make_small_rasters(tmp_path_factory.mktemp("hundred"), 100, size=16)


@pytest.fixture
def hooks(batchwarp_bin):
    require_fault_hooks(batchwarp_bin)


def base(path):
    return os.path.basename(str(path))


def compare_with_gdalwarp(tmp_path, run_gdalwarp, out, sources, options=WARP):
    for src in sources:
        ref = tmp_path / "ref.tif"
        run_gdalwarp(options, src, ref)
        assert_same_raster(expected_output(out, src), ref)
        os.unlink(ref)


###############################################################################
# The gate: fault-hook tests skip on a product build, or fail when required


def test_fault_hook_gate(tmp_path, monkeypatch):
    fake = tmp_path / "fake_batchwarp"

    def fake_version(text):
        fake.write_text(f"#!/bin/sh\necho '{text}'\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    fake_version("gdal_batchwarp 0.1.0 (GDAL 3.6.2, released 2023/01/02)")
    monkeypatch.delenv("BATCHWARP_REQUIRE_FAULT_HOOKS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"not a test build with fault hooks.*\+fault-hooks"):
        require_fault_hooks(fake)
    monkeypatch.setenv("BATCHWARP_REQUIRE_FAULT_HOOKS", "1")
    with pytest.raises(pytest.fail.Exception, match="BATCHWARP_REQUIRE_FAULT_HOOKS=1"):
        require_fault_hooks(fake)
    fake_version("gdal_batchwarp 0.1.0+fault-hooks (GDAL 3.6.2, released 2023/01/02)")
    require_fault_hooks(fake)  # neither skips nor fails


###############################################################################
# One 100-file batch with a crash, an abort, an exit and a hang


@pytest.fixture(scope="module")
def faulted_run(tmp_path_factory, batchwarp_bin, hundred):
    """The 100 tiles (a directory source), -j 2, -timeout 3, with a worker
    fault on four of them. Run once; the tests below look at what it did.
    Run in its directory with a relative -outdir and -report, so that the
    run (report and outputs) can be copied elsewhere and retried there."""
    require_fault_hooks(batchwarp_bin)
    tmp = tmp_path_factory.mktemp("faulted")
    out, report = tmp / "out", tmp / "report.jsonl"
    faults = {action: [base(hundred[i])] for action, i in FAULTED.items()}
    tag = ProcessTag()
    t0 = time.monotonic()
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-timeout", TIMEOUT, "-report", "report.jsonl",
                                           os.path.dirname(hundred[0]), "-outdir", "out"],
                           env=tag.env(faults_env(**faults)), cwd=tmp)
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        kill_and_reap(proc)
    elapsed = time.monotonic() - t0
    leftovers = tag.wait_gone(timeout=2)
    return dict(returncode=proc.returncode, stderr=stderr, out=out, report=report, tmp=tmp, elapsed=elapsed,
                records=read_report(report), leftovers=leftovers, tag=tag, faults=faults)


@pytest.fixture
def run(faulted_run, hooks):
    return faulted_run


def test_faulted_batch_exits_1_and_exactly_the_faulted_files_fail(run, hundred):
    assert run["returncode"] == 1, run["stderr"]
    records = records_by_source(run["records"])
    assert set(records) == {norm(s) for s in hundred}, "one report line per source"
    failed = sorted(base(s) for s, r in records.items() if not r["ok"])
    assert failed == sorted(base(hundred[i]) for i in FAULTED.values())
    for rec in records.values():
        assert rec["skipped"] is False and rec["attempts"] == 1, rec
    # The hang held one worker for the timeout, not the whole batch.
    assert run["elapsed"] < TIMEOUT + 30


@pytest.mark.parametrize("action", sorted(FAULTED))
def test_each_fault_has_its_exact_reason(run, hundred, action):
    src = hundred[FAULTED[action]]
    rec = records_by_source(run["records"])[norm(src)]
    assert rec["ok"] is False
    m = re.fullmatch(EXPECTED_ERROR[action], rec["error"])
    assert m, f"{action}: {rec['error']!r} does not match {EXPECTED_ERROR[action]!r}"
    assert rec["worker_pid"] is not None
    if "pid" in m.groupdict():
        assert int(m["pid"]) == rec["worker_pid"], rec
    if action == "hang":
        assert TIMEOUT <= rec["seconds"] < TIMEOUT + 5, rec
    else:
        assert rec["seconds"] < TIMEOUT, rec
    assert rec["output"] == os.path.join("out", base(src)), "the output as named by -outdir"
    # The failure is also told on stderr, with the same reason.
    assert f"FAILED {rec['source']}: {rec['error']}" in run["stderr"]


def test_failed_files_leave_no_output_and_no_temporary_file(run, hundred):
    failed = {base(hundred[i]) for i in FAULTED.values()}
    assert all_files(run["out"]) == sorted(base(s) for s in hundred if base(s) not in failed), (
        "exactly the outputs of the successful files, nothing else (no temporary file, no sidecar)")
    assert hidden_files(run["out"]) == []
    assert temp_entries(run["out"]) == []
    assert run["stderr"].count("FAILED ") == len(failed)


def test_no_worker_outlives_the_batch(run):
    assert run["leftovers"] == [], "processes of the run still alive:\n" + run["tag"].describe(run["leftovers"])
    pids = {r["worker_pid"] for r in run["records"]}
    assert len(pids) >= 5, "four lost workers were replaced"
    assert alive(pids) == []


def test_other_outputs_are_identical_to_gdalwarp(tmp_path, run, run_gdalwarp, hundred):
    faulted = set(FAULTED.values())
    check = {i + d for i in faulted for d in (-1, 1)} | set(range(2, 100, 10))
    # Also the neighbours in completion order: the tasks that ran just before
    # and after each fault, some of them on the freshly spawned worker.
    order = [norm(r["source"]) for r in run["records"]]
    index = {norm(s): i for i, s in enumerate(hundred)}
    for i in faulted:
        p = order.index(norm(hundred[i]))
        check |= {index[order[q]] for q in (p - 1, p + 1) if 0 <= q < len(order)}
    check -= faulted
    assert len(check) >= 18
    compare_with_gdalwarp(tmp_path, run_gdalwarp, run["out"], [hundred[i] for i in sorted(check)])


def test_retry_failed_fixes_exactly_the_failed_files(tmp_path, run, run_batchwarp, run_gdalwarp, hundred):
    """-retry_failed on the faulted run's report, without the faults: only the
    four failed sources are redone, the 96 outputs already there are left
    untouched. (On a copy of the run, so that the other tests see the run
    as it ended.)"""
    out = tmp_path / "out"
    shutil.copytree(run["out"], out)
    shutil.copy(run["report"], tmp_path / "report.jsonl")
    before = {n: os.stat(out / n) for n in all_files(out)}
    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-retry_failed", "report.jsonl", "-report", "retry.jsonl",
                         "-outdir", "out"], env=no_faults_env(), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    redone = read_report(retry)
    failed = sorted(base(hundred[i]) for i in FAULTED.values())
    assert sorted(base(r["source"]) for r in redone) == failed
    for rec in redone:
        assert rec["ok"] and not rec["skipped"] and rec["attempts"] == 1 and rec["error"] is None, rec
    assert all_files(out) == sorted(base(s) for s in hundred)
    assert hidden_files(out) == []
    for n, st in before.items():
        now = os.stat(out / n)
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (st.st_ino, st.st_mtime_ns, st.st_size), n
    compare_with_gdalwarp(tmp_path, run_gdalwarp, out, [hundred[i] for i in FAULTED.values()])

    # Nothing failed in the retry: retrying it again has nothing to do.
    res = run_batchwarp([*WARP, "-q", "-retry_failed", "retry.jsonl", "-outdir", "out"], env=no_faults_env(),
                        cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert all_files(out) == sorted(base(s) for s in hundred)


###############################################################################
# Retries


def test_once_faults_succeed_on_retry(tmp_path, hooks, batchwarp_bin, run_gdalwarp, hundred):
    once = {"segv_once": 3, "abort_once": 40, "exit_once": 64, "hang_once": 91}
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-retries", "1", "-timeout", TIMEOUT,
                                           "-report", report, os.path.dirname(hundred[0]), "-outdir", out],
                           env=tag.env(faults_env(**{a: [base(hundred[i])] for a, i in once.items()})))
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        kill_and_reap(proc)
    assert proc.returncode == 0, stderr
    assert "FAILED" not in stderr
    records = records_by_source(read_report(report))
    assert len(records) == 100
    retried = {norm(hundred[i]) for i in once.values()}
    for src, rec in records.items():
        assert rec["ok"] and rec["error"] is None, rec
        assert rec["attempts"] == (2 if src in retried else 1), rec
    hung = records[norm(hundred[once["hang_once"]])]
    assert hung["seconds"] < TIMEOUT, "the reported time is the successful attempt's"
    assert all_files(out) == sorted(base(s) for s in hundred)
    assert hidden_files(out) == []
    assert tag.wait_gone(timeout=2) == []
    compare_with_gdalwarp(tmp_path, run_gdalwarp, out, [hundred[i] for i in sorted(once.values())])


def test_retries_are_bounded(tmp_path, hooks, run_batchwarp, hundred):
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retries", "2", "-report", report, *hundred[:5],
                         "-outdir", tmp_path / "out"], env=faults_env(segv=[base(hundred[2])]))
    assert res.returncode == 1
    records = records_by_source(read_report(report))
    failed = [r for r in records.values() if not r["ok"]]
    assert [norm(r["source"]) for r in failed] == [norm(hundred[2])]
    assert failed[0]["attempts"] == 3
    assert re.fullmatch(EXPECTED_ERROR["segv"], failed[0]["error"]), failed[0]["error"]
    assert all(r["attempts"] == 1 for r in records.values() if r["ok"])
    assert all_files(tmp_path / "out") == sorted(base(s) for i, s in enumerate(hundred[:5]) if i != 2)


def test_a_task_with_many_gdal_errors_gets_its_whole_report_line(tmp_path, hooks, run_batchwarp, hundred):
    """100 GDAL errors of one task (over 8000 bytes joined) all reach its
    report line and the failure reasons, none cut: the supervisor joined them
    with CPLSPrintf, which keeps 8000 bytes (issue 14 item 5)."""
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-report", report, *hundred[:3], "-outdir", tmp_path / "out"],
                        env=faults_env(errors=[base(hundred[1])]))
    assert res.returncode == 1, res.stderr
    records = records_by_source(read_report(report))
    failed = [r for r in records.values() if not r["ok"]]
    assert [norm(r["source"]) for r in failed] == [norm(hundred[1])]
    expected = [f"injected error {i} of 100: a message as long as a typical GDAL one, naming a file and a reason"
                for i in range(1, 101)]
    assert len("\n".join(expected)) > 8000
    assert failed[0]["error"].split("\n") == expected
    assert failed[0]["messages"] == [f"ERROR 1: {e}" for e in expected]
    assert "CPLSPrintf" not in res.stderr
    assert all_files(tmp_path / "out") == sorted(base(s) for i, s in enumerate(hundred[:3]) if i != 1)


def test_workers_are_replaced_after_max_tasks_around_a_crash(tmp_path, hooks, run_batchwarp, hundred):
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-max_tasks_per_worker", "7", "-report", report, *hundred[:60],
                         "-outdir", tmp_path / "out"], env=faults_env(segv=[base(hundred[20])]))
    assert res.returncode == 1
    records = read_report(report)
    assert len(records) == 60 and sum(not r["ok"] for r in records) == 1
    per_worker = {}
    for r in records:
        per_worker[r["worker_pid"]] = per_worker.get(r["worker_pid"], 0) + 1
    assert max(per_worker.values()) <= 7, per_worker
    assert len(per_worker) >= 9, per_worker


###############################################################################
# -retry_failed of a -recursive run


def test_retry_failed_of_a_recursive_run_puts_outputs_where_the_report_says(tmp_path, hooks, run_batchwarp,
                                                                              hundred):
    """A -recursive run's failures are retried into the subdirectories the
    report names. (Up to 0706eb7, -retry_failed re-planned the failed
    sources as plain files: their outputs went to <outdir>/<name>, and two
    failed files of one name in different subdirectories were refused as a
    collision, exit 2.)"""
    tree = tmp_path / "tree"
    for rel, i in (("a.tif", 0), ("s1/b.tif", 1), ("s2/c.tif", 2), ("s3/b.tif", 3)):
        os.makedirs(os.path.dirname(tree / rel), exist_ok=True)
        shutil.copy(hundred[i], tree / rel)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-recursive", "-report", report, tree, "-outdir", out],
                        env=faults_env(exit=["b.tif", "c.tif"]))
    assert res.returncode == 1
    failed = {norm(r["source"]): norm(r["output"]) for r in read_report(report) if not r["ok"]}
    assert failed == {norm(tree / rel): norm(out / rel) for rel in ("s1/b.tif", "s2/c.tif", "s3/b.tif")}

    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp([*WARP, "-q", "-recursive", "-retry_failed", report, "-report", retry, "-outdir", out],
                        env=no_faults_env())
    assert res.returncode == 0, res.stderr
    assert {norm(r["source"]): norm(r["output"]) for r in read_report(retry)} == failed
    assert tree_files(out) == ["a.tif", "s1/b.tif", "s2/c.tif", "s3/b.tif"]


###############################################################################
# Workers killed from outside (the OOM killer's way): no fault hooks needed


def _open_temp_output(pid):
    """The program's temporary output that process pid has open, or None
    (not the temporary directory itself, nor the task's own directory in it,
    which the worker holds open to write through them)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if TEMP_PREFIX in os.path.dirname(target) and not os.path.isdir(target):
            return target
    return None


def test_worker_killed_mid_task_fails_only_that_task(tmp_path, batchwarp_bin, run_gdalwarp):
    options = ["-t_srs", "EPSG:3857", "-r", "cubic"]
    sources = make_small_rasters(tmp_path / "in", 16, size=1024)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, [*options, "-q", "-j", "1", "-report", report, *sources, "-outdir", out],
                           env=tag.env(no_faults_env()))
    try:
        wait_for_report_lines(report, 2, proc)
        victim, temp = None, None
        deadline = time.monotonic() + 30
        while temp is None and time.monotonic() < deadline:
            for pid in children_of(proc.pid):
                temp = _open_temp_output(pid)
                if temp is not None:
                    victim = pid
                    os.kill(pid, signal.SIGKILL)
                    break
            time.sleep(0.001)
        assert victim is not None, "never saw a worker writing its output"
        # The lost task is reported at once, and its partial file is removed
        # while the batch goes on.
        deadline = time.monotonic() + 30
        while not any(not r["ok"] for r in read_report(report)) and time.monotonic() < deadline:
            time.sleep(0.005)
        still_running = proc.poll() is None
        assert not os.path.exists(temp), f"partial output {temp} left behind"
        _, stderr = proc.communicate(timeout=120)
    finally:
        kill_and_reap(proc)
    assert still_running, "the batch ended too soon for this test to see its temporary directory"
    assert proc.returncode == 1, stderr
    records = records_by_source(read_report(report))
    assert len(records) == 16
    failed = [r for r in records.values() if not r["ok"]]
    assert len(failed) == 1, failed
    assert base(failed[0]["source"]) == base(temp)
    assert failed[0]["error"] == f"worker process {victim} killed by signal SIGKILL (Killed)"
    assert failed[0]["worker_pid"] == victim
    assert all_files(out) == sorted(base(s) for s in sources if base(s) != base(temp))
    assert tag.wait_gone(timeout=2) == []
    nxt = sorted(s for s in sources if base(s) != base(temp))[:2]
    compare_with_gdalwarp(tmp_path, run_gdalwarp, out, nxt, options)


def test_worker_killed_while_idle_fails_no_task(tmp_path, batchwarp_bin):
    """A worker that dies between two tasks (the OOM killer may pick an idle
    worker) has no task to fail: the next task goes to a fresh worker. (Up
    to 0706eb7, the dead worker was only noticed when the next task was
    sent to it, and that task, which never ran, failed as 'worker process N
    killed by signal SIGKILL (Killed)'.) The supervisor is frozen while its
    workers finish their tasks, one is killed, then the supervisor goes on."""
    sources = make_small_rasters(tmp_path / "in", 40, size=256)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-report", report, *sources, "-outdir", out],
                           env=no_faults_env())
    try:
        wait_for_report_lines(report, 3, proc)
        # Freeze the supervisor: its workers finish their tasks and wait,
        # idle, for the next one.
        os.kill(proc.pid, signal.SIGSTOP)
        workers = children_of(proc.pid)
        assert len(workers) == 2, workers
        deadline = time.monotonic() + 20
        time.sleep(0.5)
        while time.monotonic() < deadline:
            try:
                chans = [open(f"/proc/{w}/wchan", encoding="ascii").read() for w in workers]
            except OSError:
                chans = []
            if chans and all("unix_stream_read" in c for c in chans):
                break
            if chans and all(c in ("", "0") for c in chans):  # wchan hidden: 0.5 s is ample
                break
            time.sleep(0.05)
        # Dead means its whole process gone, not its main thread alone: a
        # task sent meanwhile is taken, and lost, by a worker that was alive.
        kill_worker_and_wait_gone(workers[0])
        os.kill(proc.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
        kill_and_reap(proc)
    records = read_report(report)
    assert len(records) == 40
    assert [r for r in records if not r["ok"]] == [], "a task failed that never ran"
    assert proc.returncode == 0, stderr
    assert len(all_files(out)) == 40


def _waits_for_a_task(pid):
    """Whether worker pid's main thread waits in read() on its channel
    (descriptor 3): its task done and replied to, none queued."""
    try:
        with open(f"/proc/{pid}/syscall", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return False
    read_call = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)
    return len(fields) >= 2 and fields[0] == read_call and fields[1] == "0x3"


def test_a_task_sent_to_a_worker_dead_before_its_reply_was_read_keeps_that_replys_output(tmp_path, batchwarp_bin):
    """A worker finishes its task and replies, then dies while idle (the OOM
    killer), and the supervisor, busy meanwhile (here publishing another
    output, held at a gate), sends it the next task before it reads that
    reply. The unsent task is handed back as not started (431c89d), and its
    clean-up removed every task directory of that worker: the output of the
    task it had finished too, so that task, read next, failed to publish
    ('Cannot move ... No such file or directory'), though it had succeeded.
    (Fails on the old code: the task queued behind the gated one fails.)"""
    require_fault_hooks(batchwarp_bin)
    if os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("read()'s number in /proc/PID/syscall is known here for x86_64 and aarch64 only")
    sources = make_small_rasters(tmp_path / "in", 5)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    gate = str(tmp_path / "gate")
    # -j 1: the worker has t0000 running and t0001 queued; the supervisor
    # stops at the gate while it publishes t0000, and the worker runs
    # t0001, replies and waits for the next task.
    env = dict(no_faults_env(), GDAL_BATCHWARP_TEST_FAULTS=f"gate_publish:{base(sources[0])}",
               GDAL_BATCHWARP_TEST_GATE=gate)
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "1", "-report", report, *sources, "-outdir", out],
                           env=env)
    try:
        wait_for_gate(proc, gate)
        (worker,) = children_of(proc.pid)
        deadline = time.monotonic() + 120
        while not _waits_for_a_task(worker):
            assert time.monotonic() < deadline, "the worker never finished its queued task"
            time.sleep(0.05)
        kill_worker_and_wait_gone(worker)
        open(gate, "w").close()
        _, stderr = proc.communicate(timeout=120)
    finally:
        kill_and_reap(proc)
    records = {base(r["source"]): r for r in read_report(report)}
    assert sorted(records) == sorted(base(s) for s in sources)
    assert [r for r in records.values() if not r["ok"]] == [], stderr
    assert proc.returncode == 0, stderr
    assert sorted(os.listdir(out)) == sorted(base(s) for s in sources)


###############################################################################
# Memory: a cap on each worker, and replacement past a resident size


def test_memory_cap_fails_the_task_cleanly(tmp_path, run_batchwarp, not_sanitized):
    """-worker_mem_limit: a warp that needs more memory than the cap (here a
    20000 x 20000 Float32 output in one 1.6 GB chunk) fails with GDAL's
    allocation error, not the OOM killer, and the rest of the batch runs."""
    sources = make_small_rasters(tmp_path / "in", 3)
    big_options = ["-t_srs", "EPSG:3857", "-ts", "20000", "20000", "-wm", "2000", "-co", "SPARSE_OK=TRUE"]
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*big_options, "-q", "-worker_mem_limit", "400MB", "-report", report, *sources,
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    records = read_report(report)
    assert len(records) == 3 and not any(r["ok"] for r in records)
    for r in records:
        assert "cannot allocate 1600000000 bytes" in r["error"], r["error"]
        assert "killed by signal" not in r["error"]
    assert all_files(tmp_path / "out") == []

    # The same cap lets a warp that fits run: the cap is not what breaks workers.
    fits = [opt if opt != "20000" else "200" for opt in big_options]
    res = run_batchwarp([*fits, "-q", "-worker_mem_limit", "400MB", *sources, "-outdir", tmp_path / "small"])
    assert res.returncode == 0, res.stderr


def test_workers_past_the_rss_threshold_are_replaced(tmp_path, run_batchwarp, hundred):
    report = tmp_path / "report.jsonl"
    # Every worker's resident size is past 1 MB after a task: one task per worker.
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-max_worker_rss", "1MB", "-report", report, *hundred[:6],
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert len({r["worker_pid"] for r in read_report(report)}) == 6
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, *hundred[:6], "-outdir", tmp_path / "out2"])
    assert res.returncode == 0, res.stderr
    assert len({r["worker_pid"] for r in read_report(report)}) <= 2
