"""Helpers for the fault, bad-input and signal tests: the test-only fault
hooks of the worker, the processes a run leaves behind, the temporary files
it leaves behind, and running the program in the background."""
import os
import select
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from process_tree import descendants, pids, processes, read_stat

TEMP_PREFIX = ".batchwarp-tmp-"


###############################################################################
# Fault hooks


def has_fault_hooks(batchwarp_bin):
    version = subprocess.run([str(batchwarp_bin), "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    return "+fault-hooks" in version, version.strip()


def require_fault_hooks(batchwarp_bin):
    """Skips (or fails, when BATCHWARP_REQUIRE_FAULT_HOOKS=1, as in CI) unless
    the program is a test build with the worker fault hooks."""
    present, version = has_fault_hooks(batchwarp_bin)
    if present:
        return
    message = (f"{batchwarp_bin} is not a test build with fault hooks (--version: {version!r}, "
               "no '+fault-hooks'): configure with -DBATCHWARP_FAULT_HOOKS=ON")
    if os.environ.get("BATCHWARP_REQUIRE_FAULT_HOOKS") == "1":
        pytest.fail(message + " (BATCHWARP_REQUIRE_FAULT_HOOKS=1 makes this a failure)")
    pytest.skip(message)


def faults_spec(**faults):
    """GDAL_BATCHWARP_TEST_FAULTS value from action=[base names]."""
    return ",".join(f"{action}:{name}" for action, names in faults.items() for name in names)


def faults_env(env=None, **faults):
    """Environment (os.environ, or `env`) with GDAL_BATCHWARP_TEST_FAULTS set
    from action=[base names], e.g. faults_env(segv=["t0007.tif"])."""
    return {**(os.environ if env is None else env), "GDAL_BATCHWARP_TEST_FAULTS": faults_spec(**faults)}


def no_faults_env(env=None):
    env = dict(os.environ if env is None else env)
    env.pop("GDAL_BATCHWARP_TEST_FAULTS", None)
    return env


###############################################################################
# Processes


def _is_alive(pid):
    """Until every thread has exited: the leader of a process with several
    threads (a worker's FIFO guard, GDAL's) is a zombie as soon as its own
    thread is gone, before its parent's waitid() can see the process exit."""
    proc = read_stat(pid)
    if proc is None:
        return False
    if proc.state != "Z":
        return True
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def alive(pids):
    """Those of `pids` that are alive now (zombies excluded)."""
    return [pid for pid in pids if _is_alive(pid)]


def children_of(pid):
    """Pids of the live children of pid (a supervisor's workers)."""
    return [p.pid for p in processes() if p.ppid == pid and p.state != "Z"]


def worker_processes():
    """Pids of gdal_batchwarp_worker processes alive now (zombies excluded)."""
    # The kernel cuts command names to 15 characters: "gdal_batchwarp_".
    return [p.pid for p in processes()
            if p.name.startswith("gdal_batchwar") and p.name != "gdal_batchwarp" and p.state != "Z"]


class ProcessTag:
    """A unique marker put in a run's environment: the supervisor and every
    worker it ever spawned inherit it, so any process still carrying it after
    the run is a leftover, whatever its parent has become."""

    VAR = "BATCHWARP_AUTOTEST_RUN"

    def __init__(self):
        self.value = uuid.uuid4().hex

    def env(self, env=None):
        return {**(os.environ if env is None else env), self.VAR: self.value}

    def processes(self):
        """Live (non-zombie) processes carrying the marker."""
        needle = f"{self.VAR}={self.value}".encode()
        found = []
        for pid in pids():
            if pid == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if needle in environ.split(b"\0") and _is_alive(pid):
                found.append(pid)
        return found

    def wait_gone(self, timeout=10.0):
        """The processes still carrying the marker after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        left = self.processes()
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = self.processes()
        return left

    def describe(self, pids):
        out = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                out.append(f"{pid}: {cmdline}")
            except OSError:
                out.append(f"{pid}: ?")
        return "\n".join(out)


def start_batchwarp(batchwarp_bin, args, **kw):
    """The program started in the background (stdout discarded, stderr kept)."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("text", True)
    return subprocess.Popen([str(batchwarp_bin), *map(str, args)], **kw)


def report_lines(report):
    try:
        with open(report, encoding="utf-8") as f:
            return sum(1 for line in f if line.endswith("\n"))
    except FileNotFoundError:
        return 0


def wait_for_report_lines(report, n, proc, timeout=60.0):
    """Waits until `report` holds at least n complete lines while proc runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report_lines(report) >= n:
            return
        assert proc.poll() is None, (
            f"the batch ended (status {proc.returncode}) before its report had {n} lines")
        time.sleep(0.005)
    raise AssertionError(f"fewer than {n} report lines after {timeout} s")


def kill_and_reap(proc):
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def wait_for_gate(proc, gate, timeout=120):
    """Waits until a process of the batch proc waits at the fault hooks'
    gate (GDAL_BATCHWARP_TEST_GATE=gate): it made gate + ".reached"."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(gate + ".reached"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "nothing of the batch reached the gate"
        time.sleep(0.05)


def kill_worker_and_wait_gone(pid):
    """SIGKILLs a worker and returns once its whole process is gone, every
    thread (a worker has threads: its FIFO guard), so its channel is closed:
    its main thread alone is a zombie (not alive()) while the others still
    exit. A pidfd is readable only once the whole process has exited."""
    pidfd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        assert select.select([pidfd], [], [], 60)[0], "the killed worker never exited"
    finally:
        os.close(pidfd)


###############################################################################
# Temporary files


TEMP_MARKER = ".batchwarp-owner"
TEMP_MARKER_TEXT = "gdal_batchwarp temporary directory\n"


def is_run_temp_dir_name(name):
    """Whether `name` is a run's temporary directory name: the prefix, then
    128 random bits in hex (nothing of the host or pid)."""
    tag = name[len(TEMP_PREFIX):]
    return name.startswith(TEMP_PREFIX) and len(tag) == 32 and all(c in "0123456789abcdef" for c in tag)


def make_dead_run_dir(path):
    """A temporary directory as a run killed by SIGKILL leaves it: marked,
    its lock free."""
    os.mkdir(path, 0o700)
    with open(os.path.join(path, TEMP_MARKER), "w") as f:
        f.write(TEMP_MARKER_TEXT)
    with open(os.path.join(path, "t0000.tif"), "wb") as f:
        f.write(b"partial")


def temp_entries(directory):
    """Every path below `directory` (its whole tree) whose name marks it as a
    temporary file or directory of the program."""
    found = []
    if not os.path.isdir(directory):
        return found
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            if TEMP_PREFIX in name or "batchwarp-tmp" in name:
                found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def tree_files(directory):
    """Relative paths of every file below `directory` (hidden ones too)."""
    out = []
    if not os.path.isdir(directory):
        return out
    for root, _, files in os.walk(directory):
        out.extend(os.path.relpath(os.path.join(root, n), directory) for n in files)
    return sorted(out)


def dir_usage_bytes(directory):
    """Bytes actually allocated on disk below `directory`."""
    total = 0
    for root, _, files in os.walk(directory):
        for n in files:
            try:
                total += os.lstat(os.path.join(root, n)).st_blocks * 512
            except OSError:
                pass
    return total


###############################################################################
# Running as an unprivileged user


def unprivileged_prefix(batchwarp_bin):
    """[] when not root; as root, a command prefix that runs a program as
    'nobody' (root ignores file permissions), or pytest.skip with the reason
    when that is not possible here."""
    if os.geteuid() != 0:
        return []
    prefix = None
    if shutil.which("setpriv"):
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if subprocess.run(["getent", "group", "nogroup"], capture_output=True).returncode != 0:
            prefix = ["setpriv", "--reuid=nobody", "--regid=nobody", "--clear-groups"]
    elif shutil.which("runuser"):
        prefix = ["runuser", "-u", "nobody", "--"]
    if prefix is None:
        pytest.skip("running as root without setpriv or runuser: permissions cannot be tested "
                    "(root reads any file)")
    res = subprocess.run([*prefix, str(batchwarp_bin), "--version"], capture_output=True, text=True,
                         timeout=60)
    if res.returncode != 0:
        pytest.skip(f"{batchwarp_bin} cannot run as user nobody here: {res.stderr.strip()}")
    return prefix


__all__ = [
    "TEMP_PREFIX", "ProcessTag", "alive", "children_of", "descendants", "dir_usage_bytes", "faults_env",
    "faults_spec", "has_fault_hooks", "is_run_temp_dir_name", "kill_and_reap", "make_dead_run_dir", "no_faults_env", "report_lines",
    "require_fault_hooks", "start_batchwarp", "temp_entries", "tree_files",
    "unprivileged_prefix", "wait_for_report_lines", "worker_processes",
]
