"""-outdir itself in a directory others can rename entries of (world-writable
without the sticky bit, mode 0777). The other user (nobody) swaps -outdir
after the batch is planned and before it is written (at a known point: the
test-only gate_plan hook), for a link of theirs to a directory of root's, or
for another directory of root's renamed into its place. The run used to
write its outputs into whatever it found (with -overwrite, replacing root's
files there). Now -outdir is pinned when the batch is planned: a link of
another user on the way to it is refused (before any work, or when the run
prepares), and a directory other than the one planned is not written into;
the error names it."""
import os
import shutil
import subprocess
import tempfile

import pytest

from attacker import as_nobody, needs_root
from conftest import make_small_rasters
from fault_util import require_fault_hooks, wait_for_gate

WARP = ["-t_srs", "EPSG:3857"]


def snapshot(directory):
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, directory)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir", None)
            else:
                with open(path, "rb") as f:
                    found[rel] = ("file", f.read())
    return found


@pytest.fixture
def world():
    """Sources; 'open', a directory of root's that everyone can write to
    without the sticky bit, holding the output directory 'out' (root's) and
    'other' (root's too); and a victim directory of root's elsewhere holding
    a file named like an output."""
    base = tempfile.mkdtemp(prefix="bw_pin_", dir="/tmp")
    os.chmod(base, 0o755)
    sources = make_small_rasters(os.path.join(base, "in"), 2)
    shared = os.path.join(base, "open")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    os.mkdir(os.path.join(shared, "out"))
    os.mkdir(os.path.join(shared, "other"))
    victim = os.path.join(base, "victim")
    os.mkdir(victim)
    with open(os.path.join(victim, os.path.basename(sources[0])), "w") as f:
        f.write("precious")
    with open(os.path.join(shared, "other", os.path.basename(sources[1])), "w") as f:
        f.write("precious too")
    yield base, sources, shared, victim
    shutil.rmtree(base, ignore_errors=True)


def run_with_swap(batchwarp_bin, base, args, swap):
    gate = os.path.join(base, "gate")
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": "gate_plan", "GDAL_BATCHWARP_TEST_GATE": gate}
    proc = subprocess.Popen([str(batchwarp_bin), *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        swap()
        with open(gate, "w"):
            pass
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


@needs_root
@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "no-overwrite"])
def test_outdir_swapped_for_a_link_after_the_plan_is_not_written_through(world, batchwarp_bin, overwrite):
    require_fault_hooks(batchwarp_bin)
    base, sources, shared, victim = world
    out = os.path.join(shared, "out")
    before = snapshot(victim)

    def swap():
        as_nobody("mv", out, out + ".moved")
        as_nobody("ln", "-s", victim, out)

    status, err = run_with_swap(batchwarp_bin, base, [*WARP, "-q", *(["-overwrite"] if overwrite else []),
                                                      *sources, "-outdir", out], swap)
    assert status == 1, err
    assert f"'{out}' on the way to -outdir '{out}' is a symbolic link of another user (uid 65534)" in err, err
    assert snapshot(victim) == before
    assert os.listdir(out + ".moved") == []


@needs_root
def test_outdir_replaced_by_another_directory_after_the_plan_is_not_written_into(world, batchwarp_bin):
    """Not a link: another directory of root's, renamed into -outdir's place."""
    require_fault_hooks(batchwarp_bin)
    base, sources, shared, victim = world
    out = os.path.join(shared, "out")
    other = os.path.join(shared, "other")
    before = snapshot(other)

    def swap():
        as_nobody("mv", out, out + ".moved")
        as_nobody("mv", other, out)

    status, err = run_with_swap(batchwarp_bin, base, [*WARP, "-q", "-overwrite", *sources, "-outdir", out], swap)
    assert status == 1, err
    assert f"Output directory '{out}' was moved or replaced since the batch was planned" in err, err
    assert snapshot(out) == before
    assert os.listdir(out + ".moved") == []


@needs_root
def test_a_link_of_another_user_on_the_way_to_outdir_is_refused_before_any_work(world, run_batchwarp):
    """The same link in place before the run: refused (exit 2), naming it."""
    base, sources, shared, victim = world
    link = os.path.join(shared, "planted")
    as_nobody("ln", "-s", victim, link)
    before = snapshot(victim)
    for outdir in (link, os.path.join(link, "sub")):
        res = run_batchwarp([*WARP, "-q", "-overwrite", *sources, "-outdir", outdir])
        assert res.returncode == 2, res.stderr
        assert f"'{link}' on the way to -outdir '{outdir}' is a symbolic link of another user" in res.stderr
        assert snapshot(victim) == before


def test_links_of_our_own_on_the_way_to_outdir_are_followed(tmp_path, run_batchwarp):
    """A link of the run's own user (or of the directory's owner) is the
    user's choice, as before."""
    sources = make_small_rasters(tmp_path / "in", 2)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", tmp_path / "via" / "out"])
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(real / "out")) == sorted(os.path.basename(s) for s in sources)
