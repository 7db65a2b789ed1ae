"""The run's temporary directory swapped for a directory of root's, in an
output directory others can rename entries of (world-writable without the
sticky bit, mode 0777). The other user (nobody) cannot enter the run's 0700
temporary directory, but can rename it away and rename into its place any
directory of root's in the same output directory (earlier outputs, say).
The supervisor used to reach its temporary directory by name: it published
root's file found there as the output and then removed that directory of
root's whole. Now it publishes from, and empties, only the directory it
made (device and inode, kept open for the run): the task fails naming the
temporary directory, and root's directory is left as it was."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from attacker import as_nobody, needs_root
from conftest import make_small_rasters, read_report
from fault_util import require_fault_hooks, wait_for_gate

WARP = ["-t_srs", "EPSG:3857"]


def snapshot(directory):
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            with open(path, "rb") if os.path.isfile(path) else open(os.devnull, "rb") as f:
                found[os.path.relpath(path, directory)] = f.read()
    return found


@needs_root
@pytest.mark.parametrize("stop", [None, "SIGTERM"], ids=["publish-and-cleanup", "cleanup-after-SIGTERM"])
def test_a_directory_swapped_in_at_the_temporary_name_is_neither_published_nor_removed(batchwarp_bin, stop):
    require_fault_hooks(batchwarp_bin)
    base = tempfile.mkdtemp(prefix="bw_tmpswap_", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        sources = make_small_rasters(os.path.join(base, "in"), 2)
        out = os.path.join(base, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)
        # Root's earlier work in the output directory, with a file named like
        # the output the gated task writes.
        keep = os.path.join(out, "keep")
        os.mkdir(keep)
        shutil.copy(sources[0], os.path.join(keep, os.path.basename(sources[0])))
        with open(os.path.join(keep, "notes.txt"), "w") as f:
            f.write("precious")
        before = snapshot(keep)
        gate = os.path.join(base, "gate")
        report = os.path.join(base, "report.jsonl")
        env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_after:{os.path.basename(sources[0])}",
               "GDAL_BATCHWARP_TEST_GATE": gate}
        proc = subprocess.Popen([str(batchwarp_bin), *WARP, "-q", "-j", "1", "-report", report, sources[0],
                                 "-outdir", out], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for_gate(proc, gate)
            (temp,) = [n for n in os.listdir(out) if n.startswith(".batchwarp-tmp-")]
            as_nobody("mv", os.path.join(out, temp), os.path.join(out, "moved"))
            as_nobody("mv", keep, os.path.join(out, temp))
            if stop:
                proc.terminate()
                time.sleep(0.5)
            with open(gate, "w"):
                pass
            _out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        # Root's directory, at the temporary name where nobody put it, is whole.
        assert snapshot(os.path.join(out, temp)) == before, err
        assert not os.path.exists(os.path.join(out, os.path.basename(sources[0]))), err
        if stop is None:
            assert proc.returncode == 1, err
            message = f"Temporary directory '{out}/{temp}' was moved or replaced during the run"
            assert message in err, err
            (record,) = read_report(report)
            assert not record["ok"] and message in record["error"]
        # The run's own directory, wherever it went, holds nothing of the run.
        assert os.listdir(os.path.join(out, "moved")) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)
