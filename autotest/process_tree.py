"""The process tree of a running program, read from /proc: its descendants
and their summed resident memory."""
import os
import subprocess
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_by_parent():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
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
