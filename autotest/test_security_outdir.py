"""Output subdirectories below -outdir (issue 11: never touch what is not
yours). With -recursive ({relpath}) or an -output_template with
directories, outputs go to subdirectories of -outdir. Below -outdir no link
is followed: each subdirectory is opened from the one above with
O_NOFOLLOW|O_DIRECTORY (made with mkdirat when missing), a link, a file or
another user's directory there is refused with a message naming it, and
outputs are renamed into the directory's descriptor (renameat), so a
directory swapped for a link during the run is never written through.

As root, the attacker user (nobody) plants entries in a sticky (1777)
shared output directory; the swap during the run is made at a known point by
the test-only fault hook gate_after (the worker has written the output and
waits before the supervisor renames it)."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from attacker import NOBODY, as_nobody, needs_root
from conftest import make_small_rasters
from fault_util import require_fault_hooks

WARP = ["-t_srs", "EPSG:3857"]
def snapshot(directory):
    """Every entry below `directory` (links not followed) with its kind and,
    for files, its bytes."""
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
    """A directory every user can reach (pytest's tmp_path is private to
    root): sources in it, a sticky world-writable 'shared' output directory,
    and a victim directory of root's, outside it, that must stay as it is."""
    base = tempfile.mkdtemp(prefix="bw_outdir_", dir="/tmp")
    os.chmod(base, 0o755)
    src = os.path.join(base, "in")
    sources = make_small_rasters(os.path.join(src, "sub"), 2)
    for d in (src, os.path.join(src, "sub")):
        os.chmod(d, 0o755)
    shared = os.path.join(base, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    victim = os.path.join(base, "victim")
    os.mkdir(victim)
    with open(os.path.join(victim, "precious.tif"), "w") as f:
        f.write("precious")
    yield base, src, sources, shared, victim
    subprocess.run(["chmod", "-R", "u+rwX", base], check=False)
    shutil.rmtree(base, ignore_errors=True)


def layouts(src, sources):
    """Two ways to get outputs into the subdirectory 'sub' of -outdir."""
    return {
        "recursive": ["-recursive", src],
        "template": ["-output_template", "sub/{stem}.{ext}", *sources],
    }


@needs_root
@pytest.mark.parametrize("layout", ["recursive", "template"])
def test_link_planted_below_outdir_is_refused(world, run_batchwarp, layout):
    base, src, sources, shared, victim = world
    as_nobody("ln", "-s", victim, os.path.join(shared, "sub"))
    before = snapshot(victim)
    res = run_batchwarp([*WARP, "-q", *layouts(src, sources)[layout], "-outdir", shared])
    assert res.returncode == 2, res.stderr
    assert f"'{shared}/sub' below -outdir is a symbolic link, not a directory" in res.stderr, res.stderr
    # Nothing written through the link, and the link left alone.
    assert snapshot(victim) == before
    assert os.readlink(os.path.join(shared, "sub")) == victim
    assert sorted(os.listdir(shared)) == ["sub"]


@needs_root
def test_link_planted_deeper_below_outdir_is_refused(world, run_batchwarp):
    """A link at any depth below -outdir: sub/deep -> victim."""
    base, src, sources, shared, victim = world
    os.mkdir(os.path.join(shared, "sub"))
    os.chmod(os.path.join(shared, "sub"), 0o1777)
    as_nobody("ln", "-s", victim, os.path.join(shared, "sub", "deep"))
    before = snapshot(victim)
    res = run_batchwarp([*WARP, "-q", "-output_template", "sub/deep/{stem}.{ext}", *sources, "-outdir", shared])
    assert res.returncode == 2, res.stderr
    assert f"'{shared}/sub/deep' below -outdir is a symbolic link" in res.stderr, res.stderr
    assert snapshot(victim) == before


@needs_root
@pytest.mark.parametrize("layout", ["recursive", "template"])
def test_another_users_directory_below_outdir_is_refused(world, run_batchwarp, layout):
    """A directory the attacker made (and could swap for a link at any
    moment) is not written into."""
    base, src, sources, shared, victim = world
    as_nobody("mkdir", os.path.join(shared, "sub"))
    res = run_batchwarp([*WARP, "-q", *layouts(src, sources)[layout], "-outdir", shared])
    assert res.returncode == 2, res.stderr
    assert f"Output directory '{shared}/sub' belongs to another user (uid 65534)" in res.stderr, res.stderr
    assert os.listdir(os.path.join(shared, "sub")) == []


@needs_root
def test_resume_and_overwrite_do_not_look_through_a_planted_link(world, run_batchwarp):
    """The check for existing outputs (kept as done without -overwrite,
    replaced with it) looks at no output through a link below -outdir."""
    base, src, sources, shared, victim = world
    # The victim holds files named like the outputs: through the link they
    # would be kept as done, or replaced with -overwrite.
    for s in sources:
        with open(os.path.join(victim, os.path.basename(s)), "w") as f:
            f.write("not an output")
    as_nobody("ln", "-s", victim, os.path.join(shared, "sub"))
    before = snapshot(victim)
    for extra in ([], ["-overwrite"]):
        res = run_batchwarp([*WARP, "-q", *extra, "-recursive", src, "-outdir", shared])
        assert res.returncode == 2, res.stderr
        assert "is a symbolic link, not a directory" in res.stderr, res.stderr
        assert "skipped" not in res.stderr
        assert snapshot(victim) == before


def test_output_subdirectory_blocked_by_a_file_names_it_and_why(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in" / "sub", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file")
    res = run_batchwarp([*WARP, "-q", "-recursive", tmp_path / "in", "-outdir", out])
    assert res.returncode == 2, res.stderr
    assert f"'{out}/sub' below -outdir is a regular file, not a directory" in res.stderr, res.stderr
    assert (out / "sub").read_text() == "a file"
    assert sorted(os.listdir(out)) == ["sub"]
    assert sources


def _wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the worker never reached the gate {path}"
        time.sleep(0.05)


def _start_gated(batchwarp_bin, args, gate, source, user=None, action="gate_after"):
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"{action}:{os.path.basename(source)}",
           "GDAL_BATCHWARP_TEST_GATE": gate}
    argv = [str(batchwarp_bin), *map(str, args)]
    if user is not None:
        argv = ["runuser", "-u", user, "--", "env",
                *(f"{k}={env[k]}" for k in ("GDAL_BATCHWARP_TEST_FAULTS", "GDAL_BATCHWARP_TEST_GATE")), *argv]
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@needs_root
def test_directory_swapped_for_a_link_during_the_run(world, batchwarp_bin):
    """Someone who can rename entries of -outdir (here: -outdir belongs to
    nobody) swaps the output subdirectory for a link to the victim after the
    output is written, and plants there what the old path-based rename would
    have moved. Nothing is renamed through the link: the task fails, naming
    the directory and what it now is, and the victim is as it was."""
    require_fault_hooks(batchwarp_bin)
    base, src, sources, shared, victim = world
    out = os.path.join(base, "out")
    os.mkdir(out)
    os.chown(out, NOBODY, NOBODY)
    gate = os.path.join(base, "gate")
    proc = _start_gated(batchwarp_bin, [*WARP, "-q", "-j", "1", "-output_template", "sub/{stem}.{ext}",
                                        sources[0], "-outdir", out], gate, sources[0])
    try:
        _wait_for(gate + ".reached", proc)
        sub = os.path.join(out, "sub")
        temps = [n for n in os.listdir(sub) if n.startswith(".batchwarp-tmp-")]
        assert len(temps) == 1, temps
        as_nobody("mv", sub, sub + ".moved")
        # What the old code's rename by path would have found through the
        # link: victim/<temp dir>/<output name>.
        os.mkdir(os.path.join(victim, temps[0]))
        with open(os.path.join(victim, temps[0], os.path.basename(sources[0])), "w") as f:
            f.write("decoy")
        as_nobody("ln", "-s", victim, sub)
        before = snapshot(victim)
        with open(gate, "w"):
            pass
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert f"Output directory '{out}/sub' was moved or replaced during the run (it is now a symbolic link)" \
        in err, err
    assert snapshot(victim) == before
    assert not os.path.exists(os.path.join(victim, os.path.basename(sources[0])))
    # Nor was anything published into the moved directory.
    assert not os.path.exists(os.path.join(sub + ".moved", os.path.basename(sources[0])))


@needs_root
def test_rename_failure_names_the_output_and_the_reason(world, batchwarp_bin):
    """A batch run as nobody whose output subdirectory turns read-only once
    the output is written: the task fails with the output's name and
    'Permission denied', never with the temporary name or 'rename X to X'."""
    require_fault_hooks(batchwarp_bin)
    base, src, sources, shared, victim = world
    out = os.path.join(base, "out")
    os.mkdir(out)
    os.chown(out, NOBODY, NOBODY)
    gate = os.path.join(base, "gate")
    os.chmod(base, 0o1777)  # nobody makes the gate's files here
    proc = _start_gated(batchwarp_bin, [*WARP, "-q", "-j", "1", "-recursive", src, "-outdir", out], gate,
                        sources[0], user="nobody")
    try:
        _wait_for(gate + ".reached", proc)
        as_nobody("chmod", "a-w", os.path.join(out, "sub"))
        as_nobody("touch", gate)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    expected = os.path.join(out, "sub", os.path.basename(sources[0]))
    assert proc.returncode == 1, err
    assert f"Cannot move the new '{expected}' into place: Permission denied" in err, err
    assert [line for line in err.splitlines() if line.startswith("FAILED") and ".batchwarp-tmp-" in line] == [], err
    # The run's temporary directory in that read-only directory cannot go
    # either: it is named once, as left for a later run.
    assert "Cannot remove temporary directory" in err, err


@needs_root
@pytest.mark.parametrize("plant", ["link_in_their_directory", "their_temp_name_links_to_root_files"])
def test_directory_swapped_before_the_worker_writes(world, batchwarp_bin, plant):
    """-outdir world-writable without the sticky bit (0777, root's): nobody
    renames the output subdirectory away while the worker is about to write
    and puts in its place a link to a directory of theirs, which holds a
    directory named like the run's temporary one and in it either a link
    under the output's name to a file of root's, or (the temporary name
    itself a link) root's directory holding a raster under the output's name.
    The worker writes through the directory it checked (device, inode, owner)
    and pinned by a descriptor, never by path: the task fails naming the
    temporary directory, root's files are as they were and nothing outside
    -outdir changed."""
    require_fault_hooks(batchwarp_bin)
    base, src, sources, shared, victim = world
    out = os.path.join(base, "out")
    os.mkdir(out)
    os.chmod(out, 0o777)
    theirs = os.path.join(base, "theirs")
    os.mkdir(theirs)
    os.chown(theirs, NOBODY, NOBODY)
    name = os.path.basename(sources[0])
    # A file of root's named like the output (a raster: a delete by path
    # would take it), and the precious file.
    shutil.copy(sources[0], os.path.join(victim, name))
    gate = os.path.join(base, "gate")
    proc = _start_gated(batchwarp_bin, [*WARP, "-q", "-j", "1", "-output_template", "sub/{stem}.{ext}",
                                        sources[0], "-outdir", out], gate, sources[0], action="gate")
    try:
        _wait_for(gate + ".reached", proc)
        sub = os.path.join(out, "sub")
        temps = [n for n in os.listdir(sub) if n.startswith(".batchwarp-tmp-")]
        assert len(temps) == 1, temps
        as_nobody("mv", sub, sub + ".moved")
        if plant == "link_in_their_directory":
            as_nobody("mkdir", os.path.join(theirs, temps[0]))
            as_nobody("ln", "-s", os.path.join(victim, "precious.tif"), os.path.join(theirs, temps[0], name))
        else:
            as_nobody("ln", "-s", victim, os.path.join(theirs, temps[0]))
        as_nobody("ln", "-s", theirs, sub)
        before = {"victim": snapshot(victim), "theirs": snapshot(theirs)}
        with open(gate, "w"):
            pass
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert f"Temporary directory '{sub}/{temps[0]}' was moved or replaced during the run" in err, err
    assert {"victim": snapshot(victim), "theirs": snapshot(theirs)} == before
    with open(os.path.join(victim, "precious.tif")) as f:
        assert f.read() == "precious"
    assert os.readlink(sub) == theirs
    # Nor was anything published into the moved directory.
    assert not os.path.exists(os.path.join(sub + ".moved", name))


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def test_worker_keeps_no_descriptor_of_a_temporary_directory(tmp_path, batchwarp_bin):
    """The worker pins each task's temporary directory by a descriptor and
    closes it with the task: at the start of the 6th task (paused at the
    gate), none of its descriptors names a temporary directory."""
    require_fault_hooks(batchwarp_bin)
    sources = make_small_rasters(tmp_path / "in", 6)
    out = tmp_path / "out"
    out.mkdir()
    gate = str(tmp_path / "gate")
    last = sorted(sources)[-1]
    proc = _start_gated(batchwarp_bin, [*WARP, "-q", "-j", "1", *sorted(sources), "-outdir", out], gate, last,
                        action="gate")
    try:
        _wait_for(gate + ".reached", proc)
        workers = _children(proc.pid)
        assert workers
        held = []
        for pid in workers:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    held.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
        assert held
        assert [h for h in held if ".batchwarp-tmp-" in h] == [], held
        with open(gate, "w"):
            pass
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len([n for n in os.listdir(out) if n.endswith(".tif")]) == 6
