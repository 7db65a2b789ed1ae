"""Processes read from /proc: every process's name, state and parent (the
one walk of /proc the tests use), a program's descendants and their summed
resident memory."""
import os
import subprocess
import time
from typing import NamedTuple

_PAGE = os.sysconf("SC_PAGE_SIZE")


class Proc(NamedTuple):
    pid: int
    ppid: int
    name: str  # the command name, as in /proc/PID/comm
    state: str  # "R", "S", "Z" (zombie)...


def pids():
    """Pids of the processes that exist now."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def read_stat(pid):
    """Process pid as a Proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        return Proc(pid, int(fields[1]), stat[stat.index("(") + 1 : stat.rindex(")")], fields[0])
    except (OSError, ValueError, IndexError):
        return None  # exited meanwhile


def processes():
    """Every process that exists now, as a Proc."""
    return [p for p in map(read_stat, pids()) if p is not None]


def _children_by_parent():
    children = {}
    for p in processes():
        children.setdefault(p.ppid, []).append(p.pid)
    return children


def descendants(pid):
    """pid and all its descendants that are alive now."""
    children = _children_by_parent()
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def tree_rss_bytes(pid):
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_sampling_peak_rss(argv, timeout=300, interval=0.005, **kw):
    """Runs argv to completion while sampling the resident memory of its
    whole process tree; returns (CompletedProcess-like tuple
    (returncode, stdout, stderr), peak bytes)."""
    proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, **kw)
    peak = 0
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv} still running after {timeout} s")
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(interval)
        stdout, stderr = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return (proc.returncode, stdout, stderr), peak
