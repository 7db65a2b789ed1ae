"""Output problems: a full disk, a file-size limit, an output directory that
cannot be written or is the source directory. Each gives a clear error, and
nothing that was already finished is lost or half-written."""
import os
import resource
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import all_files, assert_same_raster, expected_output, hidden_files, make_small_rasters, norm, read_report, records_by_source

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


def _tiles(directory, count=6, size=192):
    # Float32 192x192 tiles give outputs of about 140 kB each.
    return make_small_rasters(directory, count, size=size)


def _assert_no_temp_files(directory):
    assert [n for n in hidden_files(directory) if "batchwarp-tmp" in n] == [], all_files(directory)


###############################################################################
# Full disk


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 400 kB tmpfs, room for about two outputs; skipped where this
    process may not mount one (not root, or no mount namespace rights)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small_disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stdout.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_fails_clearly_and_keeps_finished_outputs(tmp_path, small_tmpfs, run_batchwarp, run_gdalwarp):
    sources = _tiles(tmp_path / "in")
    outdir = small_tmpfs / "out"
    report = tmp_path / "report.jsonl"

    # GDAL 3.13's GTiff writer can spin forever once the disk is full: the
    # task timeout is what ends such a task, as it would for a user.
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-timeout", "20", "-report", report, *sources,
                         "-outdir", outdir])

    assert res.returncode == 1, res.stderr
    records = records_by_source(read_report(report))
    assert set(records) == {norm(s) for s in sources}
    ok = [r for r in records.values() if r["ok"]]
    failed = [r for r in records.values() if not r["ok"]]
    assert ok and failed, f"the disk should hold some outputs but not all: {records}"
    for rec in failed:
        # libtiff says why (ENOSPC) on some versions, only where on others.
        assert ("No space left on device" in rec["error"] or "Write error" in rec["error"]
                or rec["error"] == "timed out after 20 s"), rec
        assert not os.path.exists(rec["output"]), rec
        assert os.path.basename(rec["source"]) in res.stderr
    # What finished is whole, and nothing else is there.
    assert sorted(os.path.basename(r["output"]) for r in ok) == all_files(outdir)
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    for rec in ok:
        ref = ref_dir / os.path.basename(rec["output"])
        run_gdalwarp(WARP, rec["source"], ref)
        assert_same_raster(rec["output"], ref)


def test_file_size_limit_fails_clearly_and_keeps_earlier_outputs(tmp_path, run_batchwarp):
    sources = _tiles(tmp_path / "in")
    outdir = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    before = {n: (outdir / n).read_bytes() for n in all_files(outdir)}
    assert len(before) == len(sources)

    # Redo everything with outputs capped at 50 kB: every task fails, and the
    # complete outputs of the first run must survive untouched.
    def cap_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-overwrite", "-report", report, *sources, "-outdir", outdir],
                        preexec_fn=cap_file_size)

    assert res.returncode == 1, res.stderr
    records = read_report(report)
    assert len(records) == len(sources)
    for rec in records:
        assert not rec["ok"], rec
        # libtiff says why (EFBIG) on some versions, only where on others.
        assert "File too large" in rec["error"] or "Write error" in rec["error"], rec
    assert {n: (outdir / n).read_bytes() for n in all_files(outdir)} == before
    _assert_no_temp_files(outdir)


###############################################################################
# Output directory problems


def test_output_directory_is_a_file(tmp_path, run_batchwarp):
    sources = _tiles(tmp_path / "in", count=2, size=16)
    outdir = tmp_path / "out.tif"
    outdir.write_bytes(b"precious")

    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", outdir])

    assert res.returncode == 1
    assert f"Output directory '{outdir}' exists and is not a directory" in res.stderr
    assert outdir.read_bytes() == b"precious"


def _world_readable_tmpdir():
    # pytest's tmp_path lives under a 0700 directory that another user
    # cannot enter.
    path = tempfile.mkdtemp(prefix="batchwarp_unwritable_")
    os.chmod(path, 0o755)
    return path


def _as_nobody(argv):
    """argv run as user nobody when this process is root (root may write
    anywhere), else as is."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def test_unwritable_output_directory(batchwarp_bin):
    base = _world_readable_tmpdir()
    try:
        sources = _tiles(os.path.join(base, "in"), count=2, size=16)
        for s in sources:
            os.chmod(s, 0o644)
        os.chmod(os.path.join(base, "in"), 0o755)
        outdir = os.path.join(base, "out")
        os.mkdir(outdir)
        os.chmod(outdir, 0o555)
        argv = _as_nobody([batchwarp_bin, "--version"])
        probe = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if probe.returncode != 0:
            pytest.skip(f"the program cannot run as an unprivileged user here: {probe.stdout.strip()}")

        res = subprocess.run(_as_nobody([batchwarp_bin, *WARP, "-q", *sources, "-outdir", outdir]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)

        assert res.returncode == 1, res.stderr
        assert f"Output directory '{outdir}' is not writable: Permission denied" in res.stderr
        assert os.listdir(outdir) == []
    finally:
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                os.chmod(os.path.join(root, d), stat.S_IRWXU)
        shutil.rmtree(base)


def test_output_directory_that_is_the_source_directory_is_refused(tmp_path, run_batchwarp):
    src = tmp_path / "tiles"
    _tiles(src, count=3, size=16)
    before = all_files(src)

    # Even with a suffix that keeps names apart, a rerun would warp the
    # outputs themselves.
    res = run_batchwarp([*WARP, "-q", "-suffix", "_3857", src, "-outdir", src])

    assert res.returncode == 2
    assert f"Output directory '{src}' is the source directory '{src}'" in res.stderr
    assert all_files(src) == before


def test_output_directory_inside_the_source_directory(tmp_path, run_batchwarp, run_gdalwarp):
    src = tmp_path / "tiles"
    sources = _tiles(src, count=3, size=16)
    outdir = src / "warped"
    report = tmp_path / "report.jsonl"

    res = run_batchwarp([*WARP, "-q", "-report", report, src, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    assert all_files(outdir) == sorted(os.path.basename(s) for s in sources)

    # The rerun sees the same sources, not the outputs, and redoes nothing.
    res = run_batchwarp([*WARP, "-q", "-report", report, src, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert sorted(norm(r["source"]) for r in records) == sorted(norm(s) for s in sources)
    assert all(r["skipped"] for r in records), records
    assert all_files(outdir) == sorted(os.path.basename(s) for s in sources)
    for s in sources:
        ref = tmp_path / os.path.basename(s)
        run_gdalwarp(WARP, s, ref)
        assert_same_raster(expected_output(outdir, s), ref)


def test_errors_name_the_output_not_the_temporary_file(tmp_path, run_batchwarp):
    """GDAL names the file it writes, which is a temporary one; the report
    and stderr name the output the user asked for."""
    huge = tmp_path / "huge.vrt"
    huge.write_text(
        '<VRTDataset rasterXSize="1000000" rasterYSize="1000000">'
        "<SRS>EPSG:4326</SRS><GeoTransform>2, 1e-6, 0, 49, 0, -1e-6</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"/></VRTDataset>')
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    # A relative -outdir, where GDAL's message carries the whole path.
    res = run_batchwarp([*WARP, "-q", "-report", report, huge, "-outdir", "out"], cwd=tmp_path)
    assert res.returncode == 1
    (rec,) = read_report(report)
    # GDAL 3.6 names the file written (here the temporary one, which must
    # not show); later versions name only the file.
    assert rec["error"].startswith(("out/huge.tif: Free disk space", "huge.tif: Free disk space")), rec["error"]
    assert "batchwarp-tmp" not in rec["error"] and "batchwarp-tmp" not in res.stderr


def test_retry_failed_with_nothing_left_writes_an_empty_report(tmp_path, run_batchwarp):
    """A chain of retries (-retry_failed prev.jsonl -report next.jsonl) keeps
    working once everything succeeded."""
    prev = tmp_path / "prev.jsonl"
    prev.write_text('{"source": "a.tif", "output": "out/a.tif", "ok": true}\n')
    nxt = tmp_path / "next.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retry_failed", prev, "-report", nxt, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert nxt.exists() and nxt.read_text() == ""


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_named_near_the_longest_file_name(tmp_path, run_batchwarp, run_gdalwarp, overwrite):
    """An output whose name is 251 bytes long: its sidecars' names
    (.aux.xml: 259 bytes) cannot exist, and gdalwarp writes it all the same.
    (Fails on the old code: the check for a sidecar planted there took
    'File name too long' for a failure, and the task failed, no output.)
    A name too long for the output itself fails with GDAL's message."""
    stem = "x" * 247
    src_dir = tmp_path / "in"
    src = make_small_rasters(src_dir, 1)[0]
    os.rename(src, src_dir / f"{stem}.tif")
    out = tmp_path / "out"
    for _ in range(2 if overwrite else 1):
        res = run_batchwarp(["-t_srs", "EPSG:3857", "-q", *(["-overwrite"] if overwrite else []), src_dir,
                             "-outdir", out])
        assert res.returncode == 0, res.stderr
    assert all_files(out) == [f"{stem}.tif"] and hidden_files(out) == []
    ref = tmp_path / "ref" / f"{stem}.tif"
    ref.parent.mkdir()
    run_gdalwarp(["-t_srs", "EPSG:3857"], src_dir / f"{stem}.tif", ref)
    assert_same_raster(out / f"{stem}.tif", ref)
    res = run_batchwarp(["-t_srs", "EPSG:3857", "-q", "-suffix", "_warped", src_dir, "-outdir", tmp_path / "out2"])
    assert res.returncode == 1
    assert "File name too long" in res.stderr and f"{stem}_warped.tif" in res.stderr, res.stderr


@pytest.mark.parametrize("outdir, reason", [
    ("/vsizip/{tmp}/out.zip", "is in an archive (/vsizip/)"),
    ("/vsitar/{tmp}/out.tar/d", "is in an archive (/vsitar/)"),
    ("/vsimem/out", "is in the memory of one process"),
    ("/vsistdout/", "is a stream"),
])
def test_output_directory_where_outputs_cannot_be_published(tmp_path, run_batchwarp, outdir, reason):
    """A usage error naming the directory and why, before any work, and
    nothing made. (Fails on the old code: /vsizip/ made an empty out.zip and
    failed saying 'No such file or directory'; /vsimem/ failed every task,
    as each worker wrote into its own memory.)"""
    src = make_small_rasters(tmp_path / "in", 1)[0]
    outdir = outdir.format(tmp=tmp_path)
    res = run_batchwarp(["-t_srs", "EPSG:3857", "-q", src, "-outdir", outdir])
    assert res.returncode == 2, res.stderr
    assert f"Output directory '{outdir}' {reason}" in res.stderr, res.stderr
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_source_in_process_memory_is_refused(tmp_path, run_batchwarp):
    """/vsimem/ of the caller is not the workers': a usage error naming it.
    (Fails on the old code: the task failed, saying only that the file was
    not found.)"""
    res = run_batchwarp(["-q", "/vsimem/a.tif", "-outdir", tmp_path / "out"])
    assert res.returncode == 2, res.stderr
    assert "Source '/vsimem/a.tif' is in the memory of one process" in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_the_driver_failed_to_write_fails_its_task(tmp_path, run_batchwarp):
    """GDAL 3.6's gdalwarp exits 0 here with a GeoTIFF of zeros (it does not
    look at what closing returns); newer ones fail, and so does the batch on
    every version: no output, the driver's reason in the report (README,
    "When a task succeeds")."""
    sources = make_small_rasters(tmp_path / "in", 1)
    out = tmp_path / "out"
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-co", "COMPRESS=JPEG", "-ot", "Int16", "-report", report,
                         *sources, "-outdir", out])
    assert res.returncode == 1, res.stderr
    (rec,) = read_report(report)
    assert not rec["ok"] and "BitsPerSample" in rec["error"], rec
    assert all_files(out) == []
