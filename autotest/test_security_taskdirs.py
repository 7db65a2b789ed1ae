"""The directories a task writes its output in, attacked by another user
(nobody) while the run goes on.

Outputs under /vsi (and every output with the test-only switch
BATCHWARP_STAGE_OUTPUTS=YES) are written first in a directory of the task's
own, <index>, in the run's 0700 temporary directory in the staging directory
(CPL_TMPDIR). nobody cannot enter that temporary directory, but in a staging
directory others can rename entries of (world-writable without the sticky
bit, mode 0777) can rename it away and put a directory of theirs at its name,
holding a link named like the task's directory to a directory of root's. The
worker used to empty and make the task's directory by path (GDAL's
VSIRmdirRecursive follows links): root's files behind the link were deleted.
Now the worker writes only in the staging temporary directory the supervisor
made (device and inode, as for the output directory's), through its
descriptor, and removes nothing through a link: the task fails naming the
temporary directory, and root's directory is left as it was."""
import os
import shutil
import subprocess
import tempfile

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
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    found[os.path.relpath(path, directory)] = f.read()
            else:
                found[os.path.relpath(path, directory)] = None
    return found


@needs_root
@pytest.mark.parametrize("fault", ["gate", "gate_after"], ids=["before-the-write", "after-the-write"])
def test_a_staging_directory_swapped_for_one_with_a_link_is_not_removed_through(batchwarp_bin, fault):
    require_fault_hooks(batchwarp_bin)
    base = tempfile.mkdtemp(prefix="bw_stageswap_", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        sources = make_small_rasters(os.path.join(base, "in"), 1)
        out = os.path.join(base, "out")
        os.mkdir(out)
        stage = os.path.join(base, "stage")
        os.mkdir(stage)
        os.chmod(stage, 0o777)  # world-writable, no sticky bit
        # Root's directory that nobody's link will lead to.
        victim = os.path.join(base, "victim")
        os.makedirs(os.path.join(victim, "sub"))
        with open(os.path.join(victim, "precious.txt"), "w") as f:
            f.write("precious")
        with open(os.path.join(victim, "sub", "more.txt"), "w") as f:
            f.write("more")
        before = snapshot(victim)
        gate = os.path.join(base, "gate")
        report = os.path.join(base, "report.jsonl")
        name = os.path.basename(sources[0])
        env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"{fault}:{name}",
               "GDAL_BATCHWARP_TEST_GATE": gate, "BATCHWARP_STAGE_OUTPUTS": "YES", "CPL_TMPDIR": stage}
        proc = subprocess.Popen([str(batchwarp_bin), *WARP, "-q", "-j", "1", "-report", report, sources[0],
                                 "-outdir", out], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for_gate(proc, gate)
            (temp,) = [n for n in os.listdir(stage) if n.startswith(".batchwarp-tmp-")]
            as_nobody("mv", os.path.join(stage, temp), os.path.join(stage, "moved"))
            as_nobody("mkdir", os.path.join(stage, temp))
            # The task's directory is named by the plan item's index.
            as_nobody("ln", "-s", victim, os.path.join(stage, temp, "0"))
            with open(gate, "w"):
                pass
            _out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        # Root's directory behind nobody's link is whole.
        assert snapshot(victim) == before, err
        # nobody's directory holds their link, as they left it.
        assert os.listdir(os.path.join(stage, temp)) == ["0"], err
        assert os.path.islink(os.path.join(stage, temp, "0")), err
        if fault == "gate":
            # Nothing was written: the task fails, naming the directory.
            assert proc.returncode == 1, err
            message = f"Temporary directory '{stage}/{temp}' was moved or replaced during the run"
            assert message in err, err
            (record,) = read_report(report)
            assert not record["ok"] and message in record["error"], record
            assert not os.path.exists(os.path.join(out, name)), err
        else:
            # Written and copied out before the swap: the output is whole.
            assert proc.returncode == 0, err
            (record,) = read_report(report)
            assert record["ok"], record
            assert os.path.isfile(os.path.join(out, name)), err
        # The run's own directory, wherever it went, holds nothing of the run.
        assert os.listdir(os.path.join(stage, "moved")) == [], err
    finally:
        shutil.rmtree(base, ignore_errors=True)
