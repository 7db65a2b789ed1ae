"""The summary at the end of a batch, on stderr: counts of ok, skipped and
failed sources, elapsed time, the report's path and the failure reasons
grouped with a count each; -q silences it. (The plugin prints the same one:
see test_gdal_cli_plugin.py.)"""
import re

from conftest import make_small_rasters


def _summary(stderr):
    start = stderr.find("Batch summary:")
    assert start >= 0, stderr
    return stderr[start:]


def test_summary_counts_report_and_grouped_reasons(tmp_path, run_batchwarp):
    make_small_rasters(tmp_path / "in", 3)
    for name in ("bad1.tif", "bad2.tif", "bad3.tif"):
        (tmp_path / "in" / name).write_text("not a raster")
    # Another reason: a GeoTIFF cut short.
    (tmp_path / "in" / "cut.tif").write_bytes((tmp_path / "in" / "t0000.tif").read_bytes()[:300])
    report = tmp_path / "run.jsonl"
    res = run_batchwarp(["-t_srs", "EPSG:3857", tmp_path / "in", "-outdir", tmp_path / "out",
                         "-report", report])
    assert res.returncode == 1
    summary = _summary(res.stderr)
    assert re.search(r"7 sources: 3 ok, 0 skipped, 4 failed, in \d+\.\d s\.", summary), summary
    assert f"Report: {report}\n" in summary
    # The three unreadable files share one reason, whatever their names.
    lines = [line.strip() for line in summary.splitlines() if " x " in line]
    assert lines, summary
    count, reason = lines[0].split(" x ", 1)
    assert int(count) == 3 and "bad" not in reason and "<source>" in reason, summary
    assert len(lines) == 2 and int(lines[1].split(" x ", 1)[0]) == 1, summary

    # A rerun keeps the outputs made: they count as skipped.
    res = run_batchwarp(["-t_srs", "EPSG:3857", tmp_path / "in", "-outdir", tmp_path / "out"])
    summary = _summary(res.stderr)
    assert re.search(r"7 sources: 0 ok, 3 skipped, 4 failed", summary), summary
    assert "Report:" not in summary


def test_summary_all_ok(tmp_path, run_batchwarp):
    make_small_rasters(tmp_path / "in", 2)
    res = run_batchwarp(["-t_srs", "EPSG:3857", tmp_path / "in", "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    summary = _summary(res.stderr)
    assert "2 sources: 2 ok, 0 skipped, 0 failed" in summary
    assert "reason" not in summary


def test_quiet_silences_the_summary(tmp_path, run_batchwarp):
    make_small_rasters(tmp_path / "in", 2)
    (tmp_path / "in" / "bad.tif").write_text("not a raster")
    res = run_batchwarp(["-q", "-t_srs", "EPSG:3857", tmp_path / "in", "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    assert "Batch summary" not in res.stderr
    assert "bad.tif" in res.stderr  # the failure itself is still named


def test_dry_run_has_no_summary(tmp_path, run_batchwarp):
    make_small_rasters(tmp_path / "in", 2)
    res = run_batchwarp(["-dry_run", "-t_srs", "EPSG:3857", tmp_path / "in", "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert "Batch summary" not in res.stderr
