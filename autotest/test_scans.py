"""Listing sources (issue 11, item 8; item 9: unreadable subdirectories):
-recursive never enters a directory twice (symbolic link loops end, in
bounded time and memory), SIGINT and SIGTERM are heard while listing, FIFOs
and devices are never opened (nothing blocks, -dry_run neither), and every
directory that cannot be read is an error naming it and the reason."""
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import make_small_rasters, sanitized_build

WARP = ["-t_srs", "EPSG:3857"]
# Generous bounds: a listing that loops forever hits them, a right one is
# far below.
TIMEOUT = 120
ADDRESS_SPACE = 2 << 30


def limited():
    # Not under ASan, which cannot start in 2 GB of address space: there
    # the timeout alone bounds a listing that never ends.
    if not sanitized_build():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_bounded(batchwarp_bin, args, **kw):
    return subprocess.run([batchwarp_bin, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, timeout=TIMEOUT, preexec_fn=limited, **kw)


def loop_tree(root):
    """Two rasters, and two symbolic link loops (each alone already made the
    old listing multiply sources; both together, never end)."""
    make_small_rasters(root, 1, prefix="a")
    make_small_rasters(root / "sub", 1, prefix="b")
    os.symlink("..", root / "sub" / "up")
    os.symlink(".", root / "sub" / "self")
    os.symlink(root, root / "top")


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_recursive_symlink_loops_end_with_each_raster_once(tmp_path, batchwarp_bin, dry_run):
    src = tmp_path / "src"
    loop_tree(src)
    out = tmp_path / "out"
    res = run_bounded(batchwarp_bin, [*WARP, "-q", "-recursive", *(["-dry_run"] if dry_run else []), src,
                                      "-outdir", out])
    assert res.returncode == 0, res.stderr
    if dry_run:
        lines = res.stdout.splitlines()
        assert sorted(os.path.basename(line.split(" -> ")[0]) for line in lines) == ["a0000.tif", "b0000.tif"], lines
    else:
        found = sorted(os.path.relpath(os.path.join(r, n), out) for r, _, files in os.walk(out) for n in files)
        assert found == ["a0000.tif", "sub/b0000.tif"], found


def listing(pid, directory):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(directory) + "/"):
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_is_heard_while_listing(tmp_path, batchwarp_bin, signum, status):
    """A large tree of files that are no rasters (each one is identified by
    GDAL), plus link loops: the stop ends the listing, nothing is written."""
    src = tmp_path / "src"
    for d in range(40):
        (src / f"d{d:02d}").mkdir(parents=True)
        for i in range(1000):
            (src / f"d{d:02d}" / f"f{i:04d}.zzz").touch()
    loop_tree(src / "loops")
    out = tmp_path / "out"
    proc = subprocess.Popen([batchwarp_bin, *WARP, "-q", "-recursive", str(src), "-outdir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limited)
    # Once it is listing (a directory of the tree open), not before.
    deadline = time.monotonic() + TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline and not listing(proc.pid, src):
        time.sleep(0.01)
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert "Interrupted while listing" in err, err
    assert not out.exists() or os.listdir(out) == []


@pytest.fixture
def fifo_dir(tmp_path):
    src = tmp_path / "src"
    make_small_rasters(src, 2)
    os.mkfifo(src / "pipe")  # no raster extension: it would have been identified
    os.mkfifo(src / "pipe.tif")
    return src


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_fifos_in_a_directory_are_never_opened(tmp_path, batchwarp_bin, fifo_dir, dry_run):
    out = tmp_path / "out"
    res = run_bounded(batchwarp_bin, [*WARP, "-q", *(["-dry_run"] if dry_run else []), fifo_dir, "-outdir", out])
    assert res.returncode == 0, res.stderr
    if dry_run:
        assert len(res.stdout.splitlines()) == 2, res.stdout
    else:
        assert sorted(os.listdir(out)) == ["t0000.tif", "t0001.tif"]


def test_a_fifo_named_as_a_source_is_refused(tmp_path, batchwarp_bin, fifo_dir):
    res = run_bounded(batchwarp_bin, [*WARP, "-q", fifo_dir / "t0000.tif", fifo_dir / "pipe", "-outdir",
                                      tmp_path / "out"])
    assert res.returncode == 2, res.stderr
    assert f"'{fifo_dir / 'pipe'}' is a FIFO" in res.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="root reads every directory: needs root to run as nobody")
def test_every_unreadable_directory_is_an_error_naming_it(batchwarp_bin):
    base = tempfile.mkdtemp(prefix="bw_scan_", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        src = os.path.join(base, "src")
        make_small_rasters(os.path.join(src, "ok"), 1)
        make_small_rasters(os.path.join(src, "closed1"), 1)
        make_small_rasters(os.path.join(src, "closed2"), 1)
        for root, dirs, files in os.walk(base):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        os.chmod(os.path.join(src, "closed1"), 0o000)
        os.chmod(os.path.join(src, "closed2"), 0o311)  # searchable, not listable
        out = os.path.join(base, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)
        res = subprocess.run(["runuser", "-u", "nobody", "--", batchwarp_bin, *WARP, "-q", "-recursive", src,
                              "-outdir", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=TIMEOUT)
        assert res.returncode == 2, res.stderr
        for d in ("closed1", "closed2"):
            assert f"Cannot list source directory '{os.path.join(src, d)}': Permission denied" in res.stderr, \
                res.stderr
        assert os.listdir(out) == []
    finally:
        for root, dirs, _ in os.walk(base):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_closed_stdout_under_print_outputs_ends_cleanly(tmp_path, batchwarp_bin):
    """`-print_outputs | head -1`: the run stops as for a signal, with its
    temporary directory removed and a complete report (issue 11, item 9)."""
    sources = make_small_rasters(tmp_path / "in", 40, size=128)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    proc = subprocess.Popen([batchwarp_bin, "-t_srs", "EPSG:3857", "-r", "cubic", "-q", "-j", "1", "-print_outputs",
                             "-report", str(report), *sources, "-outdir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=TIMEOUT)
    assert first.strip().endswith(".tif")
    assert proc.returncode == 1, (proc.returncode, err)
    assert "Standard output was closed" in err, err
    assert [n for n in os.listdir(out) if n.startswith(".")] == []
    import json
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert records and all(r["ok"] for r in records)
    assert all(os.path.isfile(r["output"]) for r in records)
    assert len(records) < len(sources)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.skipif(sanitized_build(), reason="LeakSanitizer cannot run under strace (ptrace)")
def test_the_plan_resolves_a_missing_outdir_once_not_for_each_output(tmp_path, batchwarp_bin):
    """Before its first run, -outdir does not exist: the plan took the
    canonical path of each output (for its collision checks) by resolving
    every ancestor of it with realpath(), twice per output, 12 readlink()s
    each: 2.5 s beyond the listing for 20,000 objects on the S3 test server
    (bench (f)). The missing directory is resolved once: a few readlink()s
    for each component of the paths, not some for each output. Counted in
    system calls, not timed. (Fails on the old code: about 9,000
    readlink()s for 300 outputs.)"""
    src = tmp_path / "in"
    make_small_rasters(src, 300, size=8)
    counts = tmp_path / "counts"
    res = subprocess.run(["strace", "-f", "-c", "-e", "trace=readlink", "-o", counts, batchwarp_bin, "-dry_run",
                          *WARP, src, "-outdir", tmp_path / "not" / "made" / "yet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 300
    calls = [line.split() for line in counts.read_text().splitlines() if line.rstrip().endswith("readlink")]
    readlinks = int(calls[0][3]) if calls else 0
    assert readlinks < 300, counts.read_text()


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.skipif(sanitized_build(), reason="LeakSanitizer cannot run under strace (ptrace)")
def test_the_plan_looks_for_nothing_in_a_missing_outdir_for_each_output(tmp_path, batchwarp_bin):
    """Before its first run, -outdir does not exist: the plan opened it once
    for each output (whether something stood at the output's name), then
    looked twice for a link and once for a file at each output's name, some
    1,200 failed system calls for 300 outputs (80,000 for bench (f)'s
    20,000 objects). Nothing can be in a directory that is not there: it is
    opened once, and no output's name is looked up. Counted in system calls
    naming the directory, not timed. (Fails on the old code: 1,203.)"""
    src = tmp_path / "in"
    make_small_rasters(src, 300, size=8)
    outdir = tmp_path / "not" / "made" / "yet"
    trace = tmp_path / "trace"
    res = subprocess.run(["strace", "-f", "-e", "trace=%file", "-o", trace, batchwarp_bin, "-dry_run", *WARP, src,
                          "-outdir", outdir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 300
    calls = [line for line in trace.read_text().splitlines() if str(outdir) in line and "execve(" not in line]
    assert len(calls) < 30, "\n".join(calls[:20])
