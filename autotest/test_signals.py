"""Interrupted runs: SIGINT and SIGTERM stop the batch cleanly; SIGKILL of
the whole process group leaves only complete outputs; a rerun completes the
rest and cleans up."""
import os
import signal
import subprocess
import time

import pytest

from conftest import (all_files, assert_same_raster, expected_output, hidden_files, make_small_rasters, norm,
                      read_report)
from fault_util import alive

WARP = ["-t_srs", "EPSG:3857", "-r", "cubic", "-co", "COMPRESS=DEFLATE"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return make_small_rasters(tmp_path_factory.mktemp("sig"), 150, size=256)


def start(batchwarp_bin, sources, out, report, **kw):
    argv = [batchwarp_bin, *WARP, "-q", "-j", "2", "-report", str(report), os.path.dirname(sources[0]),
            "-outdir", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_lines(report, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(report):
            with open(report, encoding="utf-8") as f:
                if sum(1 for _ in f) >= n:
                    return
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        time.sleep(0.01)
    raise AssertionError(f"fewer than {n} report lines after {timeout} s")


def worker_pids_of(pid):
    """Pids of the children of pid (its workers)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def assert_complete_outputs(tmp_path, run_gdalwarp, out, sample=None):
    """Every file under a final name opens and is gdalwarp's output."""
    names = [n for n in all_files(out) if not n.startswith(".")]
    for n in names if sample is None else names[:: max(1, len(names) // sample)]:
        src = next(s for s in SOURCES if os.path.basename(s) == n)
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, src, ref)
        assert_same_raster(out / n, ref)
        os.unlink(ref)
    return names


SOURCES = []


@pytest.fixture(autouse=True)
def _sources_global(sources):
    SOURCES[:] = sources


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stop_signal_keeps_complete_outputs_and_rerun_finishes(tmp_path, batchwarp_bin, run_batchwarp,
                                                               run_gdalwarp, sources, signum, status):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    proc = start(batchwarp_bin, sources, out, report)
    wait_for_lines(report, 5, proc)
    workers = worker_pids_of(proc.pid)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == status, stderr
    assert "Interrupted" in stderr
    records = read_report(report)
    done = {os.path.basename(r["source"]) for r in records}
    assert 5 <= len(done) < len(sources), "the batch must have been cut short"
    assert all(r["ok"] for r in records)
    # Exactly the reported outputs exist, complete; no temporary file.
    assert set(all_files(out)) == done
    assert hidden_files(out) == []
    assert_complete_outputs(tmp_path, run_gdalwarp, out, sample=8)
    assert alive(workers) == []

    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, os.path.dirname(sources[0]),
                         "-outdir", out])
    assert res.returncode == 0, res.stderr
    records = read_report(report)
    assert len(records) == len(sources)
    assert {os.path.basename(r["source"]) for r in records if r["skipped"]} == done
    assert len(all_files(out)) == len(sources) and hidden_files(out) == []


def test_sigkill_of_the_process_group(tmp_path, batchwarp_bin, run_batchwarp, run_gdalwarp, sources):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    proc = start(batchwarp_bin, sources, out, report, start_new_session=True)
    wait_for_lines(report, 10, proc)
    workers = worker_pids_of(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(workers) == []

    # Final names hold only complete outputs; the run's temporary directory
    # (and what was in it) may remain.
    finished = assert_complete_outputs(tmp_path, run_gdalwarp, out)
    assert len(finished) >= 10
    stale = hidden_files(out)
    assert all(n.startswith(".batchwarp-tmp-") for n in stale), stale

    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, os.path.dirname(sources[0]),
                         "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert hidden_files(out) == [], "the rerun removes the temporary files of the killed run"
    assert len(all_files(out)) == len(sources)
    assert sum(r["skipped"] for r in read_report(report)) == len(finished)
    assert_complete_outputs(tmp_path, run_gdalwarp, out, sample=8)


def test_second_sigint_exits_at_once(tmp_path, batchwarp_bin, run_batchwarp, sources):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    proc = start(batchwarp_bin, sources, out, report)
    wait_for_lines(report, 3, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    # Whatever is under a final name is complete, and the next run finishes.
    res = run_batchwarp([*WARP, "-q", "-j", "2", os.path.dirname(sources[0]), "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert hidden_files(out) == []
