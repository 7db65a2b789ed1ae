"""Temporary directories in places other users can write to (issue 11, items
1, 2, 3 and 7). As root, an attacker user (nobody) plants links and
directories named like the program's temporary directories in a sticky
(1777) shared output directory and in CPL_TMPDIR: nothing outside the run's
own entries may be touched. Two runs in different PID namespaces share one
output directory and both finish with every output right. Outputs never go
into the temporary namespace."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from attacker import as_nobody, needs_root
from conftest import all_files, assert_same_raster, hidden_files, make_small_rasters
from fault_util import is_run_temp_dir_name

WARP = ["-t_srs", "EPSG:3857"]
def old_style_name(pid):
    """The predictable name the program used to give its directory."""
    host = socket.gethostname()
    for c in ".-/":
        host = host.replace(c, "_")
    return f".batchwarp-tmp-{host}-{pid}"


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.fixture
def world(tmp_path):
    """A directory every user can reach (pytest's tmp_path is private to
    root), with a sticky world-writable 'shared' directory in it and a victim
    directory of root's that nobody must be able to have emptied."""
    base = tempfile.mkdtemp(prefix="bw_sec_", dir="/tmp")
    os.chmod(base, 0o755)
    shared = os.path.join(base, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    victim = os.path.join(base, "victim")
    os.mkdir(victim)
    for name in ("precious.tif", ".batchwarp-owner"):
        with open(os.path.join(victim, name), "w") as f:
            f.write("gdal_batchwarp temporary directory\n")
    yield base, shared, victim
    shutil.rmtree(base, ignore_errors=True)


def plant(shared, victim):
    """What an attacker can put in a shared directory: links named like
    temporary directories (old and new style, of a dead pid), and a directory
    of its own, marked, holding a link to the victim."""
    pid = dead_pid()
    as_nobody("ln", "-s", victim, os.path.join(shared, old_style_name(pid)))
    as_nobody("ln", "-s", victim, os.path.join(shared, ".batchwarp-tmp-" + "a" * 32))
    own = os.path.join(shared, old_style_name(dead_pid()))
    as_nobody("mkdir", own)
    as_nobody("ln", "-s", victim, os.path.join(own, "link"))
    as_nobody("cp", os.path.join(victim, ".batchwarp-owner"), os.path.join(own, ".batchwarp-owner"))
    return sorted(os.listdir(shared))


def assert_victim_intact(victim):
    assert sorted(os.listdir(victim)) == [".batchwarp-owner", "precious.tif"], "the victim was emptied"


def assert_outputs(tmp_path, run_gdalwarp, out, sources, options=WARP):
    for s in sources:
        ref = tmp_path / ("ref_" + os.path.basename(s))
        run_gdalwarp(options, s, ref)
        assert_same_raster(os.path.join(out, os.path.basename(s)), ref)


@needs_root
def test_planted_links_in_a_sticky_shared_outdir_are_left_alone(tmp_path, world, run_batchwarp, run_gdalwarp):
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 4)
    planted = plant(shared, victim)
    # Twice: a planted entry must not make every later run repeat anything.
    for _ in range(2):
        res = run_batchwarp([*WARP, "-q", "-overwrite", *sources, "-outdir", shared])
        assert res.returncode == 0, res.stderr
        assert_victim_intact(victim)
        # Nobody's entries are nobody's business: all still there, nothing of ours left.
        assert hidden_files(shared) == planted
    assert_outputs(tmp_path, run_gdalwarp, shared, sources)


@needs_root
def test_planted_links_in_a_sticky_cpl_tmpdir_are_left_alone(tmp_path, world, run_batchwarp, run_gdalwarp):
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 4)
    planted = plant(shared, victim)
    out = tmp_path / "out"
    for _ in range(2):
        res = run_batchwarp([*WARP, "-q", "-overwrite", "--config", "BATCHWARP_STAGE_OUTPUTS", "YES",
                             "--config", "CPL_TMPDIR", shared, *sources, "-outdir", out])
        assert res.returncode == 0, res.stderr
        assert_victim_intact(victim)
        assert hidden_files(shared) == planted
    assert_outputs(tmp_path, run_gdalwarp, out, sources)


@needs_root
def test_an_entry_planted_at_the_runs_own_name_is_never_used(tmp_path, world, batchwarp_bin, run_gdalwarp):
    """The old name came from the pid: an attacker who knows the pid plants a
    link to a directory of its own and gets the outputs staged there (and
    its directory emptied)."""
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 4)
    trap = os.path.join(shared, "trap")
    as_nobody("mkdir", trap)
    as_nobody("touch", os.path.join(trap, "canary"))
    # sh execs the program after a pause: its pid is the program's pid.
    proc = subprocess.Popen(["sh", "-c", 'sleep 1; exec "$0" "$@"', batchwarp_bin, *WARP, "-q",
                             *map(str, sources), "-outdir", shared],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    as_nobody("ln", "-s", trap, os.path.join(shared, old_style_name(proc.pid)))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert os.listdir(trap) == ["canary"], "the run used (and emptied) a directory it did not make"
    assert_outputs(tmp_path, run_gdalwarp, shared, sources)


def _pid_namespaces_work():
    """unshare --mount-proc needs a root file system whose propagation can be
    changed: not the case inside a plain chroot (the GDAL matrix)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _pid_namespaces_work(), reason="needs root and a working unshare --pid --mount-proc")
def test_runs_in_different_pid_namespaces_share_an_outdir(tmp_path, batchwarp_bin, run_gdalwarp):
    """Both runs are pid 1 in their namespace; neither may take the other's
    live directory for a dead run's."""
    sa = make_small_rasters(tmp_path / "a", 30, size=96, prefix="a")
    sb = make_small_rasters(tmp_path / "b", 30, size=96, prefix="b")
    out = tmp_path / "out"
    out.mkdir()
    options = ["-t_srs", "EPSG:3857", "-r", "cubic"]

    def start(sources):
        return subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", batchwarp_bin, *options, "-q",
                                 "-j", "2", *sources, "-outdir", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start(sa)
    deadline = time.monotonic() + 60
    while not hidden_files(out) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.01)
    second = start(sb)
    results = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0, results[0][1]
    assert second.returncode == 0, results[1][1]
    assert hidden_files(out) == []
    assert sorted(all_files(out)) == sorted(os.path.basename(s) for s in sa + sb)
    assert_outputs(tmp_path, run_gdalwarp, out, sa + sb, options)


@pytest.mark.parametrize("how", ["template", "outdir", "template-subdir"])
def test_outputs_never_go_into_the_temporary_namespace(tmp_path, run_batchwarp, how):
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = {
        "template": ["-output_template", ".batchwarp-tmp-x/{stem}.tif", "-outdir", out],
        "template-subdir": ["-output_template", "sub/.batchwarp-tmp-0123/{name}", "-outdir", out],
        "outdir": ["-outdir", out / ".batchwarp-tmp-abc"],
    }[how]
    res = run_batchwarp([*WARP, "-q", *sources, *args])
    assert res.returncode == 2, res.stderr
    assert "temporary namespace" in res.stderr
    assert not out.exists() or all_files(out) == []


def test_a_run_leaves_no_temporary_entry_and_names_its_own_randomly(tmp_path, batchwarp_bin):
    """While a run is going, its directory has a random name (not host and
    pid); afterwards it is gone."""
    sources = make_small_rasters(tmp_path / "in", 60, size=128)
    out = tmp_path / "out"
    proc = subprocess.Popen([batchwarp_bin, "-t_srs", "EPSG:3857", "-r", "cubic", "-q", "-j", "1", *sources,
                             "-outdir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline and proc.poll() is None:
        seen = hidden_files(out)
        time.sleep(0.005)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert len(seen) == 1 and is_run_temp_dir_name(seen[0]), seen
    assert str(proc.pid) not in seen[0]
    assert hidden_files(out) == []


def _chattr(flag, path):
    """False where chattr is missing (the GDAL matrix's chroots) or fails."""
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True).returncode == 0
    except OSError:
        return False


def test_a_temporary_directory_that_cannot_be_removed_stays_marked_for_the_next_run(tmp_path, batchwarp_bin):
    """The output directory made immutable (chattr +i) during the run: the
    run's temporary directory cannot be removed at its end. Its contents
    went, its marker with them, and the empty directory stayed unmarked,
    without a word: no later run could prove it its own, so it stayed for
    good. Now the marker goes last and comes back when the directory cannot
    go; the run says so, and the next run writing there removes it. (Fails
    on the old code: the directory is still there after the second run.)"""
    from fault_util import require_fault_hooks, wait_for_gate, kill_and_reap, TEMP_PREFIX

    require_fault_hooks(batchwarp_bin)
    sources = make_small_rasters(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    if not _chattr("+i", out) or not _chattr("-i", out):
        pytest.skip("chattr +i needs root and a file system with the immutable flag")
    gate = str(tmp_path / "gate")
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_publish:{os.path.basename(sources[0])}",
           "GDAL_BATCHWARP_TEST_GATE": gate}
    proc = subprocess.Popen([batchwarp_bin, *WARP, "-q", *sources, "-outdir", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        assert _chattr("+i", out)
        open(gate, "w").close()
        _, err = proc.communicate(timeout=120)
    finally:
        _chattr("-i", out)
        kill_and_reap(proc)
    assert proc.returncode == 1, err  # the output could not be put into place
    left = [n for n in os.listdir(out) if n.startswith(TEMP_PREFIX)]
    assert len(left) == 1, os.listdir(out)
    assert f"Cannot remove temporary directory '{out / left[0]}'" in err, err
    assert os.listdir(out / left[0]) == [".batchwarp-owner"]
    res = subprocess.run([batchwarp_bin, *WARP, "-q", *sources, "-outdir", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(out)) == [os.path.basename(sources[0])]
