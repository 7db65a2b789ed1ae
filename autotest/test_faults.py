"""Workers that crash, abort, exit or hang, through the test-only fault
hooks: the batch finishes, exactly the faulted files fail with the reason
(or succeed on retry), and everything else is identical to gdalwarp."""
import os

import pytest

from conftest import (all_files, assert_same_raster, expected_output, hidden_files, make_small_rasters, norm,
                      read_report, records_by_source)
from fault_util import alive, faults_env, require_fault_hooks

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    return make_small_rasters(tmp_path_factory.mktemp("hundred"), 100, size=16)


@pytest.fixture(autouse=True)
def _hooks(batchwarp_bin):
    require_fault_hooks(batchwarp_bin)


def name(sources, i):
    return os.path.basename(sources[i])


def test_faulted_files_fail_alone_with_the_reason(tmp_path, run_batchwarp, run_gdalwarp, hundred):
    faults = {"segv": [name(hundred, 7)], "abort": [name(hundred, 30)], "exit": [name(hundred, 55)],
              "hang": [name(hundred, 81)]}
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"

    res = run_batchwarp([*WARP, "-q", "-j", "2", "-timeout", "3", "-report", report,
                         os.path.dirname(hundred[0]), "-outdir", out], env=faults_env(**faults))

    assert res.returncode == 1, res.stderr
    records = records_by_source(read_report(report))
    assert len(records) == 100
    failed = {os.path.basename(s): r for s, r in records.items() if not r["ok"]}
    assert set(failed) == {n for names in faults.values() for n in names}
    expected = {
        name(hundred, 7): "killed by signal SIGSEGV",
        name(hundred, 30): "killed by signal SIGABRT",
        name(hundred, 55): "exited with status 3",
        name(hundred, 81): "timed out after 3 s",
    }
    for n, text in expected.items():
        assert text in failed[n]["error"], failed[n]
        assert not os.path.exists(out / n)
        if "worker process" in failed[n]["error"]:
            assert str(failed[n]["worker_pid"]) in failed[n]["error"]
    assert all_files(out) == sorted(os.path.basename(s) for s in hundred if os.path.basename(s) not in failed)
    assert hidden_files(out) == []
    # The files next to each faulted one, and a sample of the rest.
    check = {i + d for i in (7, 30, 55, 81) for d in (-1, 1)} | set(range(0, 100, 12))
    for i in sorted(check):
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, hundred[i], ref)
        assert_same_raster(expected_output(out, hundred[i]), ref)
        os.unlink(ref)
    assert alive([r["worker_pid"] for r in records.values() if r["worker_pid"]]) == []


def test_retries_on_fresh_workers(tmp_path, run_batchwarp, hundred):
    once = [name(hundred, i) for i in (3, 40, 77)]
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-retries", "1", "-report", report, *hundred[:80],
                         "-outdir", tmp_path / "out"],
                        env=faults_env(segv_once=once[:2], exit_once=once[2:]))
    assert res.returncode == 0, res.stderr
    records = records_by_source(read_report(report))
    assert len(records) == 80 and all(r["ok"] for r in records.values())
    for s, r in records.items():
        assert r["attempts"] == (2 if os.path.basename(s) in once else 1), r


def test_retries_are_bounded(tmp_path, run_batchwarp, hundred):
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retries", "2", "-report", report, *hundred[:5],
                         "-outdir", tmp_path / "out"], env=faults_env(segv=[name(hundred, 2)]))
    assert res.returncode == 1
    failed = [r for r in read_report(report) if not r["ok"]]
    assert len(failed) == 1 and failed[0]["attempts"] == 3


def test_retry_failed_reruns_only_the_failures(tmp_path, run_batchwarp, hundred):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    bad = [name(hundred, 1), name(hundred, 8)]
    res = run_batchwarp([*WARP, "-q", "-report", report, *hundred[:10], "-outdir", out],
                        env=faults_env(exit=bad))
    assert res.returncode == 1
    before = {n: os.path.getmtime(out / n) for n in all_files(out)}

    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-report", retry, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert sorted(os.path.basename(r["source"]) for r in read_report(retry)) == sorted(bad)
    assert all(os.path.getmtime(out / n) == t for n, t in before.items())
    assert len(all_files(out)) == 10


def test_memory_cap_fails_the_task_cleanly(tmp_path, run_batchwarp):
    """-worker_mem_limit: a warp that needs more memory than the cap (here a
    20000 x 20000 Float32 output in one 1.6 GB chunk) fails with GDAL's
    allocation error, not the OOM killer, and the rest of the batch runs."""
    sources = make_small_rasters(tmp_path / "in", 3)
    big_options = ["-t_srs", "EPSG:3857", "-ts", "20000", "20000", "-wm", "2000", "-co", "SPARSE_OK=TRUE"]
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*big_options, "-q", "-worker_mem_limit", "400MB", "-report", report, *sources,
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    records = read_report(report)
    assert len(records) == 3 and not any(r["ok"] for r in records)
    for r in records:
        assert "cannot allocate 1600000000 bytes" in r["error"], r["error"]
    assert all_files(tmp_path / "out") == []

    # The same cap lets a warp that fits run: the cap is not what breaks workers.
    res = run_batchwarp([*big_options, "-q", "-ts", "200", "200", "-worker_mem_limit", "400MB",
                         *sources, "-outdir", tmp_path / "small"])
    assert res.returncode == 0, res.stderr


def test_workers_past_the_rss_threshold_are_replaced(tmp_path, run_batchwarp, hundred):
    report = tmp_path / "report.jsonl"
    # Every worker's resident size is past 1 MB after a task: one task per worker.
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-max_worker_rss", "1MB", "-report", report, *hundred[:6],
                         "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert len({r["worker_pid"] for r in read_report(report)}) == 6
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, *hundred[:6], "-outdir", tmp_path / "out2"])
    assert len({r["worker_pid"] for r in read_report(report)}) <= 2
