"""Publishing an output into a shared output directory (never touch what is
not yours). Without -overwrite, an output that was not there when the batch
was planned is put in place with a rename that never replaces
(RENAME_NOREPLACE): a file that another user (or another batch) put at its
name while the run was going is kept, and the task fails naming it. The
rename used to replace it silently. A sidecar name (.aux.xml, .ovr, .msk)
that holds a file of another user, or a link, is neither replaced nor left
to attach to the new output: the task fails naming it."""
import os
import shutil
import subprocess
import tempfile

import pytest

from attacker import NOBODY, as_nobody, needs_root
from conftest import hidden_files, make_small_rasters, read_report
from fault_util import require_fault_hooks, wait_for_gate

WARP = ["-t_srs", "EPSG:3857"]


@pytest.fixture
def world():
    """Sources and a sticky world-writable output directory (like /tmp)
    that every user reaches."""
    base = tempfile.mkdtemp(prefix="bw_publish_", dir="/tmp")
    os.chmod(base, 0o755)
    sources = make_small_rasters(os.path.join(base, "in"), 2)
    shared = os.path.join(base, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    yield base, sources, shared
    shutil.rmtree(base, ignore_errors=True)


def _gated_run(batchwarp_bin, base, args, source):
    """Starts the batch; returns it once the worker has written `source`'s
    output (the supervisor has not renamed it yet), with the gate's path."""
    gate = os.path.join(base, "gate")
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_after:{os.path.basename(source)}",
           "GDAL_BATCHWARP_TEST_GATE": gate}
    proc = subprocess.Popen([str(batchwarp_bin), *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_gate(proc, gate)
    return proc, gate


def _finish(proc, gate):
    with open(gate, "w"):
        pass
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return err


def _plant_during_the_run(batchwarp_bin, base, sources, shared, plant):
    require_fault_hooks(batchwarp_bin)
    report = os.path.join(base, "report.jsonl")
    proc, gate = _gated_run(batchwarp_bin, base, [*WARP, "-q", "-j", "1", "-report", report, *sources,
                                                  "-outdir", shared], sources[0])
    target = os.path.join(shared, os.path.basename(sources[0]))
    plant(target)
    err = _finish(proc, gate)
    return proc.returncode, err, target, {os.path.basename(r["source"]): r for r in read_report(report)}


@needs_root
def test_an_output_another_user_makes_during_the_run_is_kept(world, batchwarp_bin):
    base, sources, shared = world
    status, err, target, records = _plant_during_the_run(
        batchwarp_bin, base, sources, shared, lambda t: as_nobody("sh", "-c", f"echo theirs > {t}"))
    assert status == 1, err
    message = f"'{target}' appeared during the run (it was not there when the batch was planned)"
    assert message in err, err
    assert message in records[os.path.basename(sources[0])]["error"]
    with open(target) as f:
        assert f.read() == "theirs\n"
    assert os.stat(target).st_uid == NOBODY
    # The other output was made, and nothing of the run is left.
    assert records[os.path.basename(sources[1])]["ok"]
    assert hidden_files(shared) == []


def test_an_output_another_batch_makes_during_the_run_is_kept(tmp_path, batchwarp_bin, run_batchwarp):
    """The same without another user: a second batch (-overwrite not given
    to the first) publishes the same output while the first is writing it;
    the first keeps the second's output."""
    sources = make_small_rasters(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    require_fault_hooks(batchwarp_bin)
    proc, gate = _gated_run(batchwarp_bin, str(tmp_path), [*WARP, "-q", "-j", "1", *sources, "-outdir", out],
                            sources[0])
    res = run_batchwarp(["-t_srs", "EPSG:4326", "-q", *sources, "-outdir", out],
                        env={k: v for k, v in os.environ.items() if k != "GDAL_BATCHWARP_TEST_FAULTS"})
    assert res.returncode == 0, res.stderr
    with open(out / os.path.basename(sources[0]), "rb") as f:
        theirs = f.read()
    err = _finish(proc, gate)
    assert proc.returncode == 1, err
    assert "appeared during the run" in err, err
    with open(out / os.path.basename(sources[0]), "rb") as f:
        assert f.read() == theirs
    assert hidden_files(out) == []


@needs_root
def test_a_sidecar_of_another_user_is_neither_replaced_nor_removed(world, run_batchwarp):
    """nobody puts t0000.tif.aux.xml (which would attach to the output, and
    which the old code removed) and t0001.tif.msk in the shared directory
    before the run."""
    base, sources, shared = world
    planted = {}
    for source, suffix in zip(sources, (".aux.xml", ".msk")):
        path = os.path.join(shared, os.path.basename(source) + suffix)
        as_nobody("sh", "-c", f"echo theirs > {path}")
        planted[path] = os.path.join(shared, os.path.basename(source))
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", shared])
    assert res.returncode == 1, res.stderr
    for path, output in planted.items():
        assert f"'{path}' belongs to another user (uid {NOBODY})" in res.stderr, res.stderr
        with open(path) as f:
            assert f.read() == "theirs\n"
        assert not os.path.exists(output)
    assert hidden_files(shared) == []


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "no-overwrite"])
def test_a_link_at_a_sidecar_name_fails_the_task(tmp_path, run_batchwarp, overwrite):
    """A link at t0000.tif.ovr would attach its target to the new output as
    its overviews: the task fails naming it, and the link is left alone."""
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.tif"
    victim.write_bytes(b"victim")
    link = out / (os.path.basename(sources[0]) + ".ovr")
    link.symlink_to(victim)
    res = run_batchwarp([*WARP, "-q", *(["-overwrite"] if overwrite else []), *sources, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert f"'{link}' exists and is a symbolic link, not a regular file" in res.stderr, res.stderr
    assert os.readlink(link) == str(victim) and victim.read_bytes() == b"victim"
    assert not (out / os.path.basename(sources[0])).exists()
    assert (out / os.path.basename(sources[1])).is_file()
