"""A FIFO (named pipe) where GDAL looks for a file of a task: beside a source
(x.tif.ovr, x.tif.msk, which GDAL opens as the source's overviews or mask),
or beside an earlier output that -overwrite replaces (which the worker opens
to find its files). Anyone who can write the directory can make one, as
another user in a shared directory like /tmp. GDAL opens it as a file, and
open() of a FIFO waits for a writer: the worker waited forever, and with it
the whole batch (without -timeout; with it, the task failed as 'timed out',
which named neither the FIFO nor the reason). gdalwarp waits forever too.
Now the task fails, naming the FIFO, and the rest of the batch is done; the
FIFO is left as it was, and nothing is written in its place."""
import os
import stat
import subprocess
import sys

import pytest

from conftest import make_small_rasters, read_report, sanitized_build

WARP = ["-t_srs", "EPSG:3857"]


def _by_name(report):
    return {os.path.basename(r["source"]): r for r in read_report(report)}


# A source given as a file gets no listing: GDAL then reads a PAM .aux.xml
# only if it is a regular file, but opens any .ovr or .msk.
@pytest.mark.parametrize("sidecar,given", [(".ovr", "files"), (".ovr", "directory"), (".msk", "files"),
                                           (".msk", "directory"), (".aux.xml", "directory")])
def test_a_fifo_beside_a_source_fails_its_task_naming_it(tmp_path, run_batchwarp, run_gdalwarp, given,
                                                         sidecar):
    sources = make_small_rasters(str(tmp_path / "in"), 2)
    fifo = sources[0] + sidecar
    os.mkfifo(fifo)
    outdir = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    args = [tmp_path / "in"] if given == "directory" else sources
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-report", report, *args, "-outdir", outdir])
    records = _by_name(report)
    bad = records[os.path.basename(sources[0])]
    if given == "directory" and bad["ok"]:
        # GDAL 3.13 takes the sibling names the worker hands it from the
        # listing, which holds no FIFO, and so never looks for the sidecar:
        # the task is then what gdalwarp gives for the source alone (gdalwarp
        # itself would wait forever on the FIFO).
        assert res.returncode == 0, res.stderr
        alone = tmp_path / "alone"
        alone.mkdir()
        os.link(sources[0], alone / "a.tif")
        run_gdalwarp(WARP, alone / "a.tif", tmp_path / "ref_alone.tif")
        assert (outdir / os.path.basename(sources[0])).read_bytes() == \
            (tmp_path / "ref_alone.tif").read_bytes()
    else:
        assert res.returncode == 1, res.stderr
        assert not bad["ok"]
        assert fifo in bad["error"] and "FIFO" in bad["error"], bad["error"]
        assert fifo in res.stderr
        assert not (outdir / os.path.basename(sources[0])).exists()
    good = records[os.path.basename(sources[1])]
    assert good["ok"], good
    run_gdalwarp(WARP, sources[1], tmp_path / "ref.tif")
    assert (outdir / os.path.basename(sources[1])).read_bytes() == (tmp_path / "ref.tif").read_bytes()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_beside_an_earlier_output_fails_its_overwrite_naming_it(tmp_path, run_batchwarp):
    sources = make_small_rasters(str(tmp_path / "in"), 2)
    outdir = tmp_path / "out"
    first = run_batchwarp(["-q", "-j", "1", *sources, "-outdir", outdir])
    assert first.returncode == 0, first.stderr
    earlier = (outdir / os.path.basename(sources[0])).read_bytes()
    fifo = str(outdir / os.path.basename(sources[0])) + ".ovr"
    os.mkfifo(fifo)
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-overwrite", "-report", report, *sources, "-outdir", outdir])
    assert res.returncode == 1, res.stderr
    records = _by_name(report)
    bad = records[os.path.basename(sources[0])]
    assert not bad["ok"] and fifo in bad["error"] and "FIFO" in bad["error"], bad["error"]
    assert records[os.path.basename(sources[1])]["ok"]
    assert (outdir / os.path.basename(sources[0])).read_bytes() == earlier
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(outdir)) == sorted([os.path.basename(s) for s in sources] + [os.path.basename(fifo)])


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_fifo_beside_a_listed_file_does_not_stop_the_plan(tmp_path, run_batchwarp, dry_run):
    """The supervisor asks GDAL whether a listed file without a raster
    extension is a raster, and GDAL opens the files a driver looks for
    beside it (ENVI's x.hdr beside x.dat). A FIFO there stopped the plan for
    good, -dry_run too, deaf to SIGINT and SIGTERM. The file is now kept as
    a source, whose task fails with GDAL's reason."""
    src = tmp_path / "in"
    good = make_small_rasters(str(src), 1)[0]
    (src / "x.dat").write_bytes(bytes(range(256)) * 4)
    fifo = src / "x.hdr"
    os.mkfifo(fifo)
    outdir = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "1", *(["-dry_run"] if dry_run else ["-report", report]), src,
                         "-outdir", outdir])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    if dry_run:
        assert res.returncode == 0, res.stderr
        assert f"{src / 'x.dat'} -> " in res.stdout and f"{good} -> " in res.stdout, res.stdout
        assert not outdir.exists()
        return
    assert res.returncode == 1, res.stderr
    records = _by_name(report)
    assert records[os.path.basename(good)]["ok"]
    assert not records["x.dat"]["ok"] and "x.dat" in records["x.dat"]["error"], records["x.dat"]
    assert sorted(os.listdir(outdir)) == [os.path.basename(good)]


def test_a_fifo_held_open_by_a_writer_who_writes_nothing_fails_the_task(tmp_path, run_batchwarp):
    """A FIFO that someone holds open for writing lets GDAL's open() return,
    and its read() then waits for data that never comes: the task waited
    forever (until -timeout, as 'timed out'). The worker's guard now makes
    that read return, and the task fails naming the FIFO."""
    sources = make_small_rasters(str(tmp_path / "in"), 2)
    fifo = sources[0] + ".ovr"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer (and reader) that writes nothing
    try:
        report = tmp_path / "report.jsonl"
        res = run_batchwarp([*WARP, "-q", "-j", "1", "-report", report, *sources, "-outdir", tmp_path / "out"])
    finally:
        os.close(holder)
    assert res.returncode == 1, res.stderr
    records = _by_name(report)
    bad = records[os.path.basename(sources[0])]
    assert not bad["ok"] and fifo in bad["error"] and "FIFO" in bad["error"], bad["error"]
    assert records[os.path.basename(sources[1])]["ok"]
    assert sorted(os.listdir(tmp_path / "out")) == [os.path.basename(sources[1])]


TWO_PLANS_SCRIPT = r'''
import http.server, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
import batchwarp_ctypes as bw
lib = bw.load(sys.argv[2])
fifo_dir, out = sys.argv[3], sys.argv[4]
requested, release = threading.Event(), threading.Event()

class Slow(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_HEAD(self):
        self.do_GET()
    def do_GET(self):
        requested.set()
        release.wait(120)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
threading.Thread(target=server.serve_forever, daemon=True).start()
status = {}
def batch(name, args):
    status[name + "_tid"] = threading.get_native_id()
    status[name] = bw.run_batch(lib, ["-dry_run", *args], lambda r: None)
url = "/vsicurl/http://127.0.0.1:%d/dir/" % server.server_address[1]
a = threading.Thread(target=batch, args=("a", [url, "-outdir", out + "/a"]), daemon=True)
a.start()
if not requested.wait(60):
    sys.exit("the first batch's plan never asked for its listing")
b = threading.Thread(target=batch, args=("b", [fifo_dir, "-outdir", out + "/b"]), daemon=True)
b.start()
# The first plan goes on until the second batch waits: for the first plan
# to end (a futex), or, unwatched, in open() of the FIFO (openat).
deadline, seen = time.monotonic() + 60, 0
while time.monotonic() < deadline and seen < 3:
    time.sleep(0.05)
    try:
        with open("/proc/self/task/%d/syscall" % status.get("b_tid", 0)) as f:
            call = f.read().split()[0]
    except (OSError, IndexError):
        call = ""
    seen = seen + 1 if call in ("202", "257", "2") else 0
release.set()
a.join(60)
b.join(60)
if b.is_alive():
    print("second batch still waiting", flush=True)
    os._exit(3)
os._exit(0 if status["b"] == 0 else 4)
'''


def test_two_batches_planning_at_once_in_one_process_are_both_guarded(tmp_path, batchwarp_bin):
    """A program running two batches at once in two threads (through the
    library, or gdal.Run): the FIFO guard watched only the thread whose plan
    started it, so the second plan, over a directory with a FIFO where GDAL
    looks (x.hdr beside x.dat), waited in open() for good. Plans now take
    turns in a process, each watched."""
    if sanitized_build(batchwarp_bin):
        pytest.skip("ASan build: its library cannot be loaded into Python without LD_PRELOAD")
    lib = os.path.join(os.path.dirname(os.path.dirname(batchwarp_bin)), "plugin", "libgdalbatchwarp.so")
    src = tmp_path / "in"
    make_small_rasters(str(src), 1)
    (src / "x.dat").write_bytes(bytes(range(256)) * 4)
    fifo = src / "x.hdr"
    os.mkfifo(fifo)
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "python_ctypes")
    try:
        res = subprocess.run([sys.executable, "-c", TWO_PLANS_SCRIPT, examples, lib, str(src), str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the batches did not end: {e}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert f"{src / 'x.dat'} -> " in res.stdout, res.stdout



def _unshare_pid_without_proc():
    """The command prefix of a PID namespace of its own whose /proc is still
    the parent's (unshare --pid --fork without --mount-proc), or None."""
    prefix = ["unshare", "--pid", "--fork", "--kill-child"]
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return prefix if ok else None


@pytest.mark.parametrize("where", ["task", "plan"])
def test_a_fifo_is_released_in_a_pid_namespace_whose_proc_is_the_parents(tmp_path, batchwarp_bin, where):
    """In a PID namespace of its own whose /proc is still the parent's
    (unshare --pid --fork without --mount-proc, as some sandboxes leave it),
    a thread's number from gettid() is the namespace's, which in /proc is
    another thread or none: the guard looked at the wrong thread, and a FIFO
    beside a source (in the task) or beside a listed file (in the plan) hung
    the batch for good, as if there were no guard. Now the guard takes the
    thread's number as /proc names it, and the task fails naming the FIFO,
    as it does anywhere else."""
    prefix = _unshare_pid_without_proc()
    if prefix is None:
        pytest.skip("cannot make a PID namespace here (unshare --pid --fork)")
    src = tmp_path / "in"
    sources = make_small_rasters(str(src), 2)
    if where == "task":
        # Given as files: no listing, so GDAL opens any .ovr beside it.
        fifo = sources[0] + ".ovr"
        bad = os.path.basename(sources[0])
        args = sources
    else:
        (src / "x.dat").write_bytes(bytes(range(256)) * 4)
        fifo = str(src / "x.hdr")
        bad = "x.dat"
        args = [src]
    os.mkfifo(fifo)
    outdir = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    try:
        res = subprocess.run([*prefix, str(batchwarp_bin), *WARP, "-q", "-j", "1", "-report", str(report),
                              *map(str, args), "-outdir", str(outdir)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the batch waits on the FIFO for good")
    assert res.returncode == 1, res.stderr
    records = _by_name(report)
    assert not records[bad]["ok"], records[bad]
    if where == "task":
        assert fifo in records[bad]["error"] and "FIFO" in records[bad]["error"], records[bad]
    assert all(r["ok"] for name, r in records.items() if name != bad), records
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
