"""Interrupted runs. SIGINT and SIGTERM (to the program, or to its whole
process group as a terminal's Ctrl-C or a job scheduler sends them) stop the
batch cleanly: exit 130 / 143, complete outputs only, no temporary file, no
worker left, a report of exactly what finished, and a rerun that completes
the rest. SIGKILL of the whole process group leaves only complete outputs
under final names, and the rerun removes the killed run's temporary files."""
import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import all_files, assert_same_raster, hidden_files, make_small_rasters, read_report
from fault_util import (ProcessTag, alive, children_of, faults_env, kill_and_reap, no_faults_env, require_fault_hooks,
                        start_batchwarp, is_run_temp_dir_name, make_dead_run_dir, temp_entries,
                        wait_for_gate, wait_for_report_lines)

WARP = ["-t_srs", "EPSG:3857", "-r", "cubic", "-co", "COMPRESS=DEFLATE"]
COUNT = 150


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    # 256 x 256 tiles with cubic resampling and compression: a few tens of
    # milliseconds each, so that a signal lands in the middle of the batch.
    return make_small_rasters(tmp_path_factory.mktemp("sig"), COUNT, size=256)


def batch_args(sources, out, report, *extra):
    return [*WARP, "-q", "-j", "2", *extra, "-report", report, os.path.dirname(sources[0]), "-outdir", out]


def by_name(sources):
    return {os.path.basename(s): s for s in sources}


def assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, sources, names):
    """Each of `names` in out opens and is gdalwarp's output of its source."""
    src = by_name(sources)
    for n in names:
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, src[n], ref)
        assert_same_raster(out / n, ref)
        os.unlink(ref)


def final_names(out):
    return [n for n in all_files(out) if not n.startswith(".")]


def send(proc, signum, target):
    if target == "group":
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)


def assert_rerun_completes(run_batchwarp, run_gdalwarp, tmp_path, sources, out, report, done):
    """The same command again: exit 0, the outputs already there kept
    (reported as skipped), the others made; no temporary file left."""
    res = run_batchwarp(batch_args(sources, out, report), env=no_faults_env())
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert len(records) == len(sources)
    assert all(r["ok"] for r in records)
    assert {os.path.basename(r["source"]) for r in records if r["skipped"]} == set(done)
    assert final_names(out) == sorted(by_name(sources))
    assert hidden_files(out) == [] and temp_entries(out) == []
    made = sorted(os.path.basename(r["source"]) for r in records if not r["skipped"])
    assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, sources, made[:: max(1, len(made) // 4)])


@pytest.mark.parametrize("signum, target, status", [
    (signal.SIGINT, "process", 130),
    (signal.SIGINT, "group", 130),
    (signal.SIGTERM, "process", 143),
], ids=["SIGINT", "SIGINT-group", "SIGTERM"])
def test_stop_signal_keeps_complete_outputs_and_rerun_finishes(tmp_path, batchwarp_bin, run_batchwarp,
                                                               run_gdalwarp, sources, signum, target, status):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, batch_args(sources, out, report), start_new_session=True,
                           env=tag.env(no_faults_env()))
    try:
        wait_for_report_lines(report, 5, proc)
        workers = children_of(proc.pid)
        assert workers, "the batch runs workers"
        send(proc, signum, target)
        _, stderr = proc.communicate(timeout=60)
    finally:
        kill_and_reap(proc)

    assert proc.returncode == status, stderr
    # No worker outlives the stop: the supervisor has reaped them all.
    left = tag.wait_gone(timeout=0.5)
    assert left == [], tag.describe(left)
    records = read_report(report)
    done = sorted(os.path.basename(r["source"]) for r in records)
    assert 5 <= len(done) < len(sources), "the batch must have been cut short"
    assert f"Interrupted: {len(done)} of {len(sources)} sources done" in stderr
    for r in records:
        assert r["ok"] and not r["skipped"] and r["error"] is None, r
        assert r["worker_pid"] is not None
    assert alive({r["worker_pid"] for r in records} | set(workers)) == []
    # Exactly the reported outputs exist, complete; no temporary file.
    assert final_names(out) == done
    assert all(os.path.isfile(r["output"]) for r in records)
    assert hidden_files(out) == [] and temp_entries(out) == []
    assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, sources, done)

    assert_rerun_completes(run_batchwarp, run_gdalwarp, tmp_path, sources, out, report, done)


def test_sigkill_of_the_process_group(tmp_path, batchwarp_bin, run_batchwarp, run_gdalwarp, sources):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, batch_args(sources, out, report), start_new_session=True,
                           env=tag.env(no_faults_env()))
    try:
        wait_for_report_lines(report, 10, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        kill_and_reap(proc)
    assert proc.returncode == -signal.SIGKILL
    left = tag.wait_gone(timeout=10)
    assert left == [], tag.describe(left)

    # Final names hold only complete outputs: all that were reported, and at
    # most one per worker more (renamed just before the kill).
    finished = final_names(out)
    reported = {os.path.basename(r["source"]) for r in read_report(report)}
    assert reported <= set(finished)
    assert len(finished) - len(reported) <= 2
    assert len(finished) < len(sources)
    assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, sources, finished)
    # The killed run's temporary directory is still there: nobody removed it.
    left_dirs = hidden_files(out)
    assert len(left_dirs) == 1 and is_run_temp_dir_name(left_dirs[0]), left_dirs

    assert_rerun_completes(run_batchwarp, run_gdalwarp, tmp_path, sources, out, report, finished)


def test_rerun_removes_only_temporary_directories_proven_to_be_of_gone_runs(tmp_path, run_batchwarp, sources):
    """A gone run's directory (ours, marked, its lock free) is removed; a live
    one (its lock held, whatever its pid or host), an unmarked one and a link
    named like one are left alone."""
    out = tmp_path / "out"
    out.mkdir()
    gone, live = ".batchwarp-tmp-" + "0" * 32, ".batchwarp-tmp-" + "1" * 32
    unmarked = ".batchwarp-tmp-unmarked"
    for d in (gone, live):
        make_dead_run_dir(out / d)
    (out / unmarked).mkdir()
    (out / unmarked / "t0000.tif").write_bytes(b"partial")
    with open(out / live / ".batchwarp-owner") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = run_batchwarp([*WARP, "-q", *sources[:3], "-outdir", out], env=no_faults_env())
    assert res.returncode == 0, res.stderr
    assert hidden_files(out) == sorted([live, unmarked])
    assert (out / live / "t0000.tif").exists() and (out / unmarked / "t0000.tif").exists()
    assert final_names(out) == sorted(os.path.basename(s) for s in sources[:3])


@pytest.mark.parametrize("signum, target, status", [
    (signal.SIGTERM, "process", 143),
    (signal.SIGINT, "group", 130),
], ids=["SIGTERM", "SIGINT-group"])
def test_stop_while_a_worker_hangs(tmp_path, batchwarp_bin, run_batchwarp, run_gdalwarp, sources, signum,
                                   target, status):
    """A stop does not wait for a hung task (no -timeout here): its worker is
    killed, its file is not reported, and the rerun does it."""
    require_fault_hooks(batchwarp_bin)
    few = sources[:3]
    hung = os.path.basename(few[1])
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-report", report, *few, "-outdir", out],
                           start_new_session=True, env=tag.env(faults_env(hang=[hung])))
    try:
        wait_for_report_lines(report, 2, proc)
        time.sleep(0.2)
        assert proc.poll() is None, "the hung task holds the batch"
        t0 = time.monotonic()
        send(proc, signum, target)
        _, stderr = proc.communicate(timeout=30)
        stop_time = time.monotonic() - t0
    finally:
        kill_and_reap(proc)
    assert proc.returncode == status, stderr
    assert stop_time < 5
    left = tag.wait_gone(timeout=0.5)
    assert left == [], tag.describe(left)
    records = read_report(report)
    assert sorted(os.path.basename(r["source"]) for r in records) == sorted(
        os.path.basename(s) for s in few if os.path.basename(s) != hung)
    assert all(r["ok"] for r in records)
    assert final_names(out) == sorted(os.path.basename(r["source"]) for r in records)
    assert hidden_files(out) == []
    assert "Interrupted: 2 of 3 sources done, 1 stopped." in stderr

    res = run_batchwarp([*WARP, "-q", "-report", report, *few, "-outdir", out], env=no_faults_env())
    assert res.returncode == 0, res.stderr
    assert [os.path.basename(r["source"]) for r in read_report(report) if not r["skipped"]] == [hung]
    assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, few, [hung])


def _context_switches(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)


@pytest.fixture
def busy_cpus():
    """A busy loop on every CPU while the test runs, so that a process put
    under SCHED_IDLE waits for the CPU once it is woken."""
    code = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", code, str(cpu)]) for cpu in sorted(os.sched_getaffinity(0))]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_sigterm_to_workers_and_supervisor_together_reports_no_failure(tmp_path, batchwarp_bin, sources,
                                                                        busy_cpus):
    """SIGTERM that reaches the workers as well as the supervisor (kill -TERM
    -PGID, timeout(1), and Slurm, which signals every process of a job step
    on scancel or at its time limit) is a stop like any other: the task
    whose worker was busy is stopped (left out of the report), not failed.

    The race this guards against: a worker that dies of the SIGTERM closes
    its channel, and a supervisor whose poll() returns for that channel
    together with its own SIGTERM must not report the task as failed
    ('worker process N killed by signal SIGTERM (Terminated)'); with kill
    -TERM -PGID that happened in a few percent to a quarter of the runs. The
    test makes the ordering certain: the supervisor is SCHED_IDLE with every
    CPU busy, and its context switches show that it did not run between its
    workers' death and its own signal. Workers that ignore SIGTERM (so that
    only the supervisor decides) avoid the race altogether; they must then
    still be gone when the program ends."""
    require_fault_hooks(batchwarp_bin)
    few = sources[:3]
    hung = os.path.basename(few[1])
    for attempt in range(30):
        out, report = tmp_path / f"out{attempt}", tmp_path / f"report{attempt}.jsonl"
        tag = ProcessTag()
        proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-report", report, *few, "-outdir", out],
                               start_new_session=True, env=tag.env(faults_env(hang=[hung])))
        try:
            wait_for_report_lines(report, 2, proc)
            time.sleep(0.05)
            workers = children_of(proc.pid)
            assert workers
            os.sched_setscheduler(proc.pid, os.SCHED_IDLE, os.sched_param(0))
            before = _context_switches(proc.pid)
            for pid in workers:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 1
            while alive(workers) and time.monotonic() < deadline:
                pass
            survivors = alive(workers)
            proc.send_signal(signal.SIGTERM)
            together = survivors == workers or (not survivors and _context_switches(proc.pid) == before)
            _, stderr = proc.communicate(timeout=60)
        finally:
            kill_and_reap(proc)
        if not together:
            continue  # the supervisor saw its workers die before its own SIGTERM: try again
        assert proc.returncode == 143, stderr
        failed = [r for r in read_report(report) if not r["ok"]]
        assert failed == [], f"the stopped task was reported as failed: {failed}"
        assert "Interrupted: 2 of 3 sources done, 1 stopped." in stderr
        assert hidden_files(out) == []
        left = tag.wait_gone(timeout=2)
        assert left == [], tag.describe(left)
        return
    pytest.skip("could not deliver SIGTERM to the workers and the supervisor at the same time here")


def test_second_sigint_exits_at_once(tmp_path, batchwarp_bin, run_batchwarp, run_gdalwarp, sources):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    tag = ProcessTag()
    proc = start_batchwarp(batchwarp_bin, batch_args(sources, out, report), env=tag.env(no_faults_env()))
    try:
        wait_for_report_lines(report, 3, proc)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        kill_and_reap(proc)
    assert proc.returncode == 130
    # The workers die with the supervisor; whatever is under a final name is
    # complete, and the next run finishes and cleans up.
    left = tag.wait_gone(timeout=10)
    assert left == [], tag.describe(left)
    finished = final_names(out)
    assert_outputs_are_gdalwarps(tmp_path, run_gdalwarp, out, sources, finished[:: max(1, len(finished) // 5)])
    assert_rerun_completes(run_batchwarp, run_gdalwarp, tmp_path, sources, out, report, finished)


def _unread_bytes(fd):
    """How many bytes wait in the pipe read through fd."""
    import array
    import termios
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


# System call numbers on x86-64 and arm64.
_READ = ("0", "63")
_WRITE = ("1", "64")


def _blocked_in(pid, calls):
    """Whether pid sleeps in one of the system calls `calls` (_READ, _WRITE)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return False
    return bool(fields) and fields[0] in calls


def _wait_blocked_writing(proc, reader):
    """Until proc is in write() at two looks, the pipe read through reader
    holding the same bytes at both: waiting there for good, not passing
    through a write that goes on (a signal then would come before the write
    that waits)."""
    deadline = time.monotonic() + 120
    last = None
    while True:
        now = (_blocked_in(proc.pid, _WRITE), _unread_bytes(reader))
        if now[0] and now == last:
            return
        last = now
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never waited on its reader"
        time.sleep(0.2)


def _small_fifo_reader(fifo):
    """The reader of a new FIFO: there, so the FIFO opens, but not reading
    yet; its pipe made as small as the kernel allows, so a few lines fill
    it."""
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    return reader


def _write_shard_report(path, count):
    path.write_text("".join(
        f'{{"source":"in/t{i:05d}.tif","output":"out/t{i:05d}.tif","ok":true,"skipped":false,'
        f'"error":null,"seconds":1.0,"worker_pid":1,"attempts":1}}\n' for i in range(count)))


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("stream", ["report", "print_outputs", "merge_reports"])
def test_a_stop_signal_ends_a_run_blocked_writing_to_a_reader_that_reads_nothing(
        batchwarp_bin, tmp_path, sources, signum, status, stream):
    """-report into a FIFO (or a pipe, '-report - | consumer'), or
    -print_outputs into one, whose reader reads nothing: once the pipe is
    full the supervisor waits in write(). The first SIGTERM or SIGINT still
    ends the run, as at any other stage (exit 143/130, the workers stopped,
    no temporary file left, the error saying what happened), instead of the
    report's write being taken up again after the signal and waiting for
    good, or the stop being reported as a closed standard output."""
    out = tmp_path / "out"
    fifo = tmp_path / "reader.fifo"
    reader = _small_fifo_reader(fifo)  # never reads
    try:
        if stream == "report":
            proc = start_batchwarp(batchwarp_bin, batch_args(sources, out, fifo))
        elif stream == "merge_reports":
            merged = tmp_path / "shard.jsonl"
            _write_shard_report(merged, 2000)
            proc = start_batchwarp(batchwarp_bin, ["-merge_reports", merged, "-report", fifo])
        else:
            args = [*WARP, "-q", "-j", "2", "-print_outputs", os.path.dirname(sources[0]), "-outdir", out]
            with open(fifo, "wb") as stdout:
                proc = start_batchwarp(batchwarp_bin, args, stdout=stdout)
        try:
            _wait_blocked_writing(proc, reader)
            workers = children_of(proc.pid)
            proc.send_signal(signum)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the run still waits on its reader after the signal")
        finally:
            kill_and_reap(proc)
    finally:
        os.close(reader)
    assert proc.returncode == status, err
    if stream in ("report", "merge_reports"):
        assert f"Report file '{fifo}' took no more lines" in err, err
    else:
        assert "Interrupted" in err and "closed" not in err, err
    assert alive(workers) == []
    assert temp_entries(out) == []


def test_a_merge_waiting_on_its_reader_draws_no_progress(batchwarp_bin, tmp_path):
    """-merge_reports into a pipe whose reader is slow: the merge waits in
    write() and asks whether the batch stops, and then goes on once the
    reader reads. The program draws no progress bar for a merge; the old
    code asked by calling the progress callback with 0.0, which drew a lone
    '0' on stderr."""
    merged, fifo = tmp_path / "shard.jsonl", tmp_path / "reader.fifo"
    _write_shard_report(merged, 2000)
    reader = _small_fifo_reader(fifo)
    try:
        proc = start_batchwarp(batchwarp_bin, ["-merge_reports", merged, "-report", fifo])
        try:
            _wait_blocked_writing(proc, reader)
            os.set_blocking(reader, True)
            with os.fdopen(reader, "rb", closefd=False) as stream:
                lines = stream.read().splitlines()
            _, err = proc.communicate(timeout=60)
        finally:
            kill_and_reap(proc)
    finally:
        os.close(reader)
    assert proc.returncode == 0, err
    assert err == "", err
    assert len(lines) == 2000


def test_a_batch_suspended_longer_than_the_timeout_times_out_no_task(batchwarp_bin, tmp_path):
    """The whole batch stopped (SIGSTOP or Ctrl-Z to its process group, a
    job scheduler suspending the job) for longer than -timeout, then
    continued: a task in flight ran for a moment of its own, as gdalwarp
    stopped and continued would, and succeeds. The old code measured the
    suspension as the task's time and failed every task in flight as 'timed
    out after N s' the moment the batch went on."""
    require_fault_hooks(batchwarp_bin)
    timeout = 15
    sources = make_small_rasters(tmp_path / "in", 3)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    gate = str(tmp_path / "gate")
    env = dict(no_faults_env(), GDAL_BATCHWARP_TEST_FAULTS=f"gate:{os.path.basename(sources[0])}",
               GDAL_BATCHWARP_TEST_GATE=gate)
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "1", "-timeout", timeout, "-report", report,
                                           *sources, "-outdir", out], env=env, start_new_session=True)
    try:
        wait_for_gate(proc, gate)
        os.killpg(proc.pid, signal.SIGSTOP)
        # Stopped for longer than the timeout (the gate opens meanwhile: the
        # task goes on as soon as the batch does).
        time.sleep(timeout + 3)
        open(gate, "w").close()
        os.killpg(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
        kill_and_reap(proc)
    records = read_report(report)
    assert [r["error"] for r in records if not r["ok"]] == [], err
    assert proc.returncode == 0, err
    assert len(records) == len(sources)
    assert temp_entries(out) == []


def test_a_batch_suspended_while_the_supervisor_is_at_work_times_out_no_task(batchwarp_bin, tmp_path):
    """As above, but the batch is stopped while the supervisor does other
    work than wait for its workers: here it writes a finished output's path
    (-print_outputs) to a reader that has not read yet, as a pipeline's
    next program may. The old code noticed a stop only in a poll() that
    returned late, so the whole stop still counted towards -timeout and
    the task in flight failed as 'timed out after 15 s' once the batch went
    on and the reader read."""
    require_fault_hooks(batchwarp_bin)
    timeout = 15
    # The gated source the largest, so handed out first, and more sources
    # than workers, so that it takes no tail threads and the other worker
    # has a task: that one ends, and its path waits in write(), while the
    # gated one is in flight.
    sources = [*make_small_rasters(tmp_path / "in", 1, 64, "u"), *make_small_rasters(tmp_path / "in", 3)]
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    gate = str(tmp_path / "gate")
    fifo = tmp_path / "reader.fifo"
    reader = _small_fifo_reader(fifo)
    # The pipe filled beforehand: the supervisor's first path waits in write().
    filler = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(filler, b"x" * 512)
    except BlockingIOError:
        pass
    finally:
        os.close(filler)
    env = dict(no_faults_env(), GDAL_BATCHWARP_TEST_FAULTS=f"gate:{os.path.basename(sources[0])}",
               GDAL_BATCHWARP_TEST_GATE=gate)
    try:
        with open(fifo, "wb") as stdout:
            proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "2", "-timeout", timeout, "-print_outputs",
                                                   "-report", report, *sources, "-outdir", out],
                                   env=env, stdout=stdout, start_new_session=True)
        try:
            wait_for_gate(proc, gate)
            _wait_blocked_writing(proc, reader)
            os.killpg(proc.pid, signal.SIGSTOP)
            time.sleep(timeout + 3)
            open(gate, "w").close()
            os.killpg(proc.pid, signal.SIGCONT)
            os.set_blocking(reader, True)
            with os.fdopen(reader, "rb", closefd=False) as stream:
                printed = stream.read()
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
            kill_and_reap(proc)
    finally:
        os.close(reader)
    records = read_report(report)
    assert [r["error"] for r in records if not r["ok"]] == [], err
    assert proc.returncode == 0, err
    assert len(records) == len(sources)
    assert printed.count(b"\n") == len(sources)
    assert temp_entries(out) == []


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_reading_of_a_source_list_whose_writer_is_at_work(batchwarp_bin, tmp_path,
                                                                                  signum, status):
    """-input_file_list from a pipe or FIFO whose writer is still at work (a
    long 'find ... | gdal_batchwarp -input_file_list -'): a SIGTERM or SIGINT
    to the program ends it at once (exit 143/130, nothing made), as during
    the rest of the listing. The old code read on after the signal until the
    writer finished, and then exited 2 as for a usage error ('Cannot read
    source list ...: Interrupted system call', 'Run --help for usage')."""
    src = make_small_rasters(tmp_path / "in", 1)
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    proc = start_batchwarp(batchwarp_bin, ["-q", "-input_file_list", fifo, "-outdir", out])
    writer = os.open(fifo, os.O_WRONLY)
    try:
        os.write(writer, (src[0] + "\n").encode())
        try:
            deadline = time.monotonic() + 120
            while not _blocked_in(proc.pid, _READ):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the program never waited on its list"
                time.sleep(0.05)
            proc.send_signal(signum)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the program still reads its list after the signal")
        finally:
            kill_and_reap(proc)
    finally:
        os.close(writer)
    assert proc.returncode == status, err
    assert "--help" not in err, err
    assert not out.exists()


def _waits_for_the_lock_of(pid, path):
    """Whether pid has `path` open and sleeps (the lock's wait loop:
    clock_nanosleep, 230 on x86-64, 115 on arm64)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    if not fields or fields[0] not in ("230", "115", "35", "101"):
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_wait_for_a_report_lock_another_holds(batchwarp_bin, tmp_path, signum, status):
    """-retry_failed R -report R appends to R under its lock; anyone who can
    read R can flock() it and keep the lock, and the run waits for it (30 s
    by default, here made long). A SIGTERM or SIGINT meanwhile ends the run
    at once (exit 143/130), R left as it was, instead of the wait running
    its whole length first, deaf to the signal."""
    src = make_small_rasters(tmp_path / "in", 1)
    bad = tmp_path / "in" / "bad.tif"
    bad.write_bytes(b"not a raster")
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    first = subprocess.run([str(batchwarp_bin), "-q", "-report", str(report), src[0], str(bad), "-outdir", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    before = report.read_bytes()
    holder = os.open(report, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        proc = start_batchwarp(batchwarp_bin, ["--config", "BATCHWARP_REPORT_LOCK_WAIT", "600", "-q",
                                               "-retry_failed", report, "-report", report, "-outdir", out])
        try:
            deadline = time.monotonic() + 120
            while not _waits_for_the_lock_of(proc.pid, report):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the run never waited for the report's lock"
                time.sleep(0.05)
            proc.send_signal(signum)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the run still waits for the lock after the signal")
        finally:
            kill_and_reap(proc)
    finally:
        os.close(holder)
    assert proc.returncode == status, err
    assert report.read_bytes() == before
    assert temp_entries(out) == []
