"""-retry_failed with a report whose last line was cut short (a run killed
while writing it): the sources of the complete lines are retried, with a
warning about the cut line (issue 11, item 9)."""
import json
import os
import shutil

from conftest import make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def test_retry_failed_takes_the_complete_lines_of_a_cut_report(tmp_path, run_batchwarp):
    good = make_small_rasters(tmp_path / "in", 1)[0]
    missing = [str(tmp_path / "in" / n) for n in ("m1.tif", "m2.tif")]
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, good, *missing, "-outdir", out])
    assert res.returncode == 1, res.stderr
    lines = report.read_text().splitlines()
    failed = [json.loads(line)["source"] for line in lines if not json.loads(line)["ok"]]
    assert sorted(failed) == sorted(missing)
    # Cut the last line in the middle, as a kill while writing it would.
    text = report.read_text()
    report.write_text(text[: len(text) - len(lines[-1]) // 2 - 1])
    cut_source = json.loads(lines[-1])["source"]
    whole_failed = [s for s in failed if s != cut_source]
    for m in missing:
        shutil.copy(good, m)
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert f"line {len(lines)} is cut short" in res.stderr, res.stderr
    for s in whole_failed:
        assert os.path.isfile(out / os.path.basename(s))
