"""Resuming long batches through their reports: -retry_failed into the very
report it reads, a retry stopped midway, reports read back after edits."""
import json
import os
import shutil

from conftest import all_files, make_small_rasters, norm, parse_report, read_report
from fault_util import faults_env, kill_and_reap, no_faults_env, require_fault_hooks, start_batchwarp, wait_for_gate

WARP = ["-t_srs", "EPSG:3857"]


def latest_by_source(path):
    """Each source's latest line of a report, as -retry_failed and
    -merge_reports read it."""
    latest = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            latest[norm(rec["source"])] = rec
    return latest


def test_retry_failed_into_its_own_report_loses_no_failure_when_stopped(tmp_path, batchwarp_bin, run_batchwarp):
    """-retry_failed R -report R, killed midway, then run again: every
    failure is retried in the end. R was emptied when the retry started, so
    the failures it had not reached yet were in no report: the next
    -retry_failed R found nothing to do and exited 0, their outputs never
    made. Now R's lines are kept and the retry's appended (the latest line
    of each source is its state), and a retry with nothing left leaves R as
    it is (it was emptied)."""
    require_fault_hooks(batchwarp_bin)
    good = make_small_rasters(tmp_path / "good", 1)[0]
    names = [f"m{i}.tif" for i in range(4)]
    sources = [str(tmp_path / "in" / n) for n in names]
    os.makedirs(tmp_path / "in")
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, *sources, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert sorted(norm(r["source"]) for r in read_report(report) if not r["ok"]) == sorted(map(norm, sources))

    for s in sources:
        shutil.copy(good, s)
    # One worker; whichever source comes second stops at the gate, and the
    # supervisor is killed there: at least three failures are not retried.
    gate = str(tmp_path / "gate")
    env = faults_env(gate=names)
    env["GDAL_BATCHWARP_TEST_GATE"] = gate
    proc = start_batchwarp(batchwarp_bin, [*WARP, "-q", "-j", "1", "-retry_failed", report, "-report", report,
                                           "-outdir", out], env=env)
    try:
        wait_for_gate(proc, gate)
        proc.kill()
    finally:
        kill_and_reap(proc)
    # A line cut short by the kill, as a run killed while writing one leaves it.
    with open(report, "a", encoding="utf-8") as f:
        f.write('{"source":"' + sources[0])

    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-report", report, "-outdir", out],
                        env=no_faults_env())
    assert res.returncode == 0, res.stderr
    assert all_files(out) == sorted(names)
    latest = latest_by_source(report)  # every line whole: the cut one was dropped
    assert sorted(latest) == sorted(map(norm, sources))
    assert all(r["ok"] for r in latest.values()), latest

    # Nothing left to retry: the report is left as it is, not emptied.
    before = report.read_bytes()
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-report", report, "-outdir", out],
                        env=no_faults_env())
    assert res.returncode == 0, res.stderr
    assert report.read_bytes() == before


def test_retry_failed_into_its_own_report_keeps_a_last_line_without_its_newline(tmp_path, run_batchwarp):
    """A report whose last line, whole, lost its end of line (an editor's
    doing): appended to, that line is kept and ended, not taken for a line
    cut short."""
    good = make_small_rasters(tmp_path / "in", 1)[0]
    src = str(tmp_path / "in" / "m.tif")
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    assert run_batchwarp([*WARP, "-q", "-j", "1", "-report", report, src, good, "-outdir", out]).returncode == 1
    lines = report.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["ok"] != json.loads(lines[0])["ok"]
    report.write_text("\n".join(lines))
    shutil.copy(good, src)
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-report", report, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert "cut short" not in res.stderr
    assert report.read_text().splitlines()[:2] == lines
    latest = latest_by_source(report)
    assert sorted(latest) == sorted(map(norm, [src, good]))
    assert all(r["ok"] for r in latest.values()), latest


def test_retry_failed_into_another_report_writes_it_anew(tmp_path, run_batchwarp):
    """The usual chain (-retry_failed prev -report next): next holds the
    retry's lines only, prev is left as it was."""
    good = make_small_rasters(tmp_path / "good", 1)[0]
    src = str(tmp_path / "m.tif")
    out, prev, nxt = tmp_path / "out", tmp_path / "prev.jsonl", tmp_path / "next.jsonl"
    assert run_batchwarp([*WARP, "-q", "-report", prev, good, src, "-outdir", out]).returncode == 1
    nxt.write_text(prev.read_text())
    before = prev.read_bytes()
    shutil.copy(good, src)
    res = run_batchwarp([*WARP, "-q", "-retry_failed", prev, "-report", nxt, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert prev.read_bytes() == before
    assert [norm(r["source"]) for r in read_report(nxt)] == [norm(src)]


###############################################################################
# -merge_reports with a shard's report missing


def shard_env():
    """The environment without any scheduler's variables (the tests may run
    inside a Slurm job themselves)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("SLURM_ARRAY_", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                                 "BATCHWARP_SHARD_COUNT"))}


def run_shards(run_batchwarp, sources, out, tmp_path, count, prefix="s"):
    reports = []
    for index in range(count):
        report = tmp_path / f"{prefix}{index}.jsonl"
        res = run_batchwarp([*WARP, "-q", "-shard", f"{index}/{count}", "-report", report, *sources,
                             "-outdir", out], env=shard_env())
        assert res.returncode in (0, 1), res.stderr
        reports.append(report)
    return reports


def test_merge_reports_fails_when_a_shards_report_is_missing(tmp_path, run_batchwarp):
    """Merging the reports of 2 shards of 3 exited 0 (every source merged was
    ok) while a third of the batch had never been warped: the status said
    the batch was done."""
    sources = make_small_rasters(tmp_path / "in", 10)
    out = tmp_path / "out"
    reports = run_shards(run_batchwarp, sources, out, tmp_path, 3)
    res = run_batchwarp(["-merge_reports", *reports, "-report", tmp_path / "all.jsonl"])
    assert res.returncode == 0, res.stderr
    assert len(read_report(tmp_path / "all.jsonl")) == 10

    for missing in range(3):
        given = [r for i, r in enumerate(reports) if i != missing]
        merged = tmp_path / f"without{missing}.jsonl"
        res = run_batchwarp(["-merge_reports", *given, "-report", merged])
        assert res.returncode == 1, (missing, res.stderr)
        assert f"no line of shard {missing}/3" in res.stderr, res.stderr
        # What was merged is written all the same.
        assert len(read_report(merged)) == sum(len(read_report(r)) for r in given)
    res = run_batchwarp(["-merge_reports", reports[1]])
    assert res.returncode == 1
    assert "no line of shards 0/3, 2/3" in res.stderr, res.stderr


def test_merge_reports_of_shards_that_had_nothing_to_do(tmp_path, run_batchwarp):
    """More shards than sources: the shards without a line had nothing to
    do, and the merge of the others is complete."""
    sources = make_small_rasters(tmp_path / "in", 2)
    reports = run_shards(run_batchwarp, sources, tmp_path / "out", tmp_path, 5)
    with_lines = [r for r in reports if r.read_text()]
    assert len(with_lines) == 2
    res = run_batchwarp(["-merge_reports", *with_lines])
    assert res.returncode == 0, res.stderr


def test_merge_of_a_merged_report_whose_shard_was_retried_unsharded(tmp_path, run_batchwarp):
    """A shard whose every source failed, retried by one run without -shard:
    the merge of the shards and the retry, merged again, is complete (its
    lines of that shard were replaced by the retry's)."""
    sources = make_small_rasters(tmp_path / "in", 3)
    bad = str(tmp_path / "in" / "zz.tif")
    with open(bad, "w") as f:
        f.write("not a raster")
    out = tmp_path / "out"
    # Four sources, four shards: one each, the bad one's shard all failed.
    reports = run_shards(run_batchwarp, [*sources, bad], out, tmp_path, 4)
    merged = tmp_path / "merged.jsonl"
    assert run_batchwarp(["-merge_reports", *reports, "-report", merged]).returncode == 1
    shutil.copy(sources[0], bad)
    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retry_failed", merged, "-report", retry, "-outdir", out], env=shard_env())
    assert res.returncode == 0, res.stderr
    merged2 = tmp_path / "merged2.jsonl"
    res = run_batchwarp(["-merge_reports", merged, retry, "-report", merged2])
    assert res.returncode == 0, res.stderr
    res = run_batchwarp(["-merge_reports", merged2])
    assert res.returncode == 0, res.stderr
    assert len(parse_report(res.stdout)) == 4


###############################################################################
# -retry_failed of a failed -overwrite


def test_retry_failed_without_overwrite_says_it_kept_an_output_that_failed(tmp_path, batchwarp_bin,
                                                                          run_batchwarp):
    """A failed -overwrite task leaves the earlier output; -retry_failed
    without -overwrite then keeps it, as every run keeps existing outputs,
    and reports the source ok (skipped) though it was not warped again: it
    said nothing of it, and exited 0. Now a warning names the output and
    -overwrite."""
    require_fault_hooks(batchwarp_bin)
    a, b = make_small_rasters(tmp_path / "in", 2)
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    assert run_batchwarp([*WARP, "-q", a, b, "-outdir", out]).returncode == 0
    earlier = (out / os.path.basename(a)).read_bytes()
    res = run_batchwarp(["-t_srs", "EPSG:32631", "-q", "-overwrite", "-report", report, a, b, "-outdir", out],
                        env=faults_env(exit=[os.path.basename(a)]))
    assert res.returncode == 1
    assert [norm(r["source"]) for r in read_report(report) if not r["ok"]] == [norm(a)]
    assert (out / os.path.basename(a)).read_bytes() == earlier

    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp(["-t_srs", "EPSG:32631", "-q", "-retry_failed", report, "-report", retry, "-outdir", out],
                        env=no_faults_env())
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(retry)
    assert rec["skipped"] and rec["ok"], rec
    assert (out / os.path.basename(a)).read_bytes() == earlier
    assert (f"'{out / os.path.basename(a)}' exists, though '{report}' reports its source failed" in res.stderr
            and "Add -overwrite to warp it again" in res.stderr), res.stderr

    # With -overwrite it is warped again, and nothing is said.
    res = run_batchwarp(["-t_srs", "EPSG:32631", "-q", "-overwrite", "-retry_failed", report, "-report", retry,
                         "-outdir", out], env=no_faults_env())
    assert res.returncode == 0, res.stderr
    (rec,) = read_report(retry)
    assert rec["ok"] and not rec["skipped"], rec
    assert "Add -overwrite" not in res.stderr
