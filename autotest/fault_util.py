"""Helpers for the fault tests: the test-only fault hooks of the worker, and
the processes a run leaves behind."""
import os
import subprocess

import pytest

from process_tree import descendants


def require_fault_hooks(batchwarp_bin):
    """Skips (or fails, when BATCHWARP_REQUIRE_FAULT_HOOKS=1, as in CI) unless
    the program is a test build with the worker fault hooks."""
    version = subprocess.run([batchwarp_bin, "--version"], capture_output=True, text=True).stdout
    if "+fault-hooks" in version:
        return
    message = (f"{batchwarp_bin} is not a test build with fault hooks ({version.strip()}): "
               "configure with -DBATCHWARP_FAULT_HOOKS=ON")
    if os.environ.get("BATCHWARP_REQUIRE_FAULT_HOOKS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def faults_env(**faults):
    """Environment with GDAL_BATCHWARP_TEST_FAULTS set from action=[names]."""
    entries = [f"{action}:{name}" for action, names in faults.items() for name in names]
    return {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": ",".join(entries)}


def worker_processes():
    """Pids of gdal_batchwarp_worker processes alive now (zombies excluded)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2 :].split()[0]
        if name.startswith("gdal_batchwar") and name != "gdal_batchwarp" and state != "Z":
            pids.append(int(entry))
    return pids


def alive(pids):
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


__all__ = ["require_fault_hooks", "faults_env", "worker_processes", "alive", "descendants"]
