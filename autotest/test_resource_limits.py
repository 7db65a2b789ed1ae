"""Limits the system puts on a batch that gdalwarp, one process, does not
meet: a container's pids limit (a cgroup's pids.max, which counts threads,
as ulimit -u does) below what -j asks for; the soft limit of open files
(ulimit -Sn) below what a -recursive tree's output directories need."""
import os
import subprocess
import uuid

import pytest

from conftest import make_small_rasters, read_report, sanitized_build

WARP = ["-t_srs", "EPSG:3857"]


@pytest.fixture
def pids_cgroup():
    """A new cgroup with the pids controller (v1 or v2), removed after."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        path = os.path.join(root, f"batchwarp-test-{uuid.uuid4().hex[:8]}")
        try:
            os.mkdir(path)
        except OSError:
            continue
        if os.path.exists(os.path.join(path, "pids.max")):
            break
        os.rmdir(path)
    else:
        pytest.skip("no pids cgroup can be made here (needs root and the pids controller)")
    yield path
    os.rmdir(path)


def test_a_pids_limit_below_j_runs_the_batch_on_the_workers_it_allows(tmp_path, batchwarp_bin, run_gdalwarp,
                                                                      pids_cgroup):
    """-j 16 where the system lets only a few processes start (pids.max 6):
    the spawn of a further worker failed with EAGAIN and the whole batch
    stopped, its running tasks too (exit 1, no output, gdalwarp's would all
    succeed). It now goes on with the workers it has, and says so."""
    sources = make_small_rasters(str(tmp_path / "in"), 12)
    with open(os.path.join(pids_cgroup, "pids.max"), "w") as f:
        f.write("6")
    report = tmp_path / "report.jsonl"
    env = dict(os.environ)
    if sanitized_build(batchwarp_bin):
        # LeakSanitizer's check at exit needs a process of its own, which
        # the limit refuses while other workers live: memory errors are
        # still caught, leaks by the other tests.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    res = subprocess.run(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', pids_cgroup, batchwarp_bin,
                          "-q", *WARP, "-j", "16", *sources, "-outdir", str(tmp_path / "out"), "-report",
                          str(report)], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert "Resource temporarily unavailable: the batch goes on with" in res.stderr, res.stderr
    records = read_report(report)
    assert len(records) == len(sources) and all(r["ok"] for r in records), records
    for src in sources:
        name = os.path.basename(src)
        ref = tmp_path / "ref" / name
        ref.parent.mkdir(exist_ok=True)
        run_gdalwarp([*WARP, "-wo", "NUM_THREADS=1"], src, ref)
        assert (tmp_path / "out" / name).read_bytes() == ref.read_bytes(), name


def test_a_recursive_tree_of_more_directories_than_the_soft_descriptor_limit_holds(tmp_path, batchwarp_bin,
                                                                                   run_gdalwarp):
    """-recursive over 120 directories under a soft limit of 256 open files
    (the hard one higher, as the usual 1024 and 524288): each output
    directory keeps three descriptors, so the batch failed before any work
    ('Cannot open output directory out/d0083: Too many open files', exit
    1), where gdalwarp does each file. The soft limit is now
    raised as far as the hard one allows."""
    from osgeo import gdal
    sources = []
    for i in range(120):
        src = tmp_path / "in" / f"d{i:04d}" / "a.tif"
        src.parent.mkdir(parents=True)
        ds = gdal.GetDriverByName("GTiff").Create(str(src), 4, 4, 1, gdal.GDT_Byte)
        ds.SetGeoTransform([1 + i * 0.01, 0.001, 0, 50, 0, -0.001])
        ds.SetProjection("EPSG:4326")
        ds.GetRasterBand(1).Fill(i)
        ds = None
        sources.append(src)
    report = tmp_path / "report.jsonl"
    res = subprocess.run(["prlimit", "--nofile=256:8192", batchwarp_bin, "-q", *WARP, "-recursive",
                          str(tmp_path / "in"), "-outdir", str(tmp_path / "out"), "-report", str(report)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert len(records) == len(sources) and all(r["ok"] for r in records), records
    ref = tmp_path / "ref.tif"
    run_gdalwarp([*WARP, "-wo", "NUM_THREADS=1"], sources[-1], ref)
    assert (tmp_path / "out" / "d0119" / "a.tif").read_bytes() == ref.read_bytes()


def test_running_out_of_descriptors_is_never_blamed_on_a_moved_output_directory(tmp_path, batchwarp_bin):
    """Under a limit of open files too low for publishing (ulimit -n 12),
    the check that the output directory is still where the batch was
    planned could not open it, and the task failed saying 'Output directory
    ... was moved or replaced during the run', which nobody did. The run
    may fail there (gdalwarp needs fewer descriptors), but for the real
    reason. Every limit from 8 to 24 is tried, so that what the program
    holds open by then does not decide where the check runs short. (Fails
    on the old code at 12 with -j 1.)"""
    sources = make_small_rasters(str(tmp_path / "in"), 2)
    seen_reasons = set()
    for limit in range(8, 25):
        for jobs in ("1", "2"):
            out = tmp_path / f"out{limit}_{jobs}"
            res = subprocess.run(["prlimit", f"--nofile={limit}:{limit}", batchwarp_bin, "-q", *WARP, "-j", jobs,
                                  *sources, "-outdir", str(out)], capture_output=True, text=True, timeout=300)
            assert "moved or replaced" not in res.stderr, (limit, jobs, res.stderr)
            if res.returncode != 0:
                assert "Too many open files" in res.stderr, (limit, jobs, res.stderr)
                seen_reasons.add(limit)
    # The range reaches from limits where nothing can run to ones where all does.
    assert seen_reasons and max(seen_reasons) < 24, seen_reasons
