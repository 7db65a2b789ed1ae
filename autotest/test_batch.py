"""Batches: 200+ files with -j 2, a batch with one unreadable file, reruns
that keep what is done."""
import os

import pytest

from conftest import (all_files, assert_same_raster, expected_output, hidden_files, make_small_rasters, norm,
                      parse_report, read_report, records_by_source)

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture(scope="module")
def many_sources(tmp_path_factory):
    return make_small_rasters(tmp_path_factory.mktemp("many"), 210, size=16)


def test_batch_of_210_files_with_two_workers(tmp_path, run_batchwarp, run_gdalwarp, many_sources):
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, os.path.dirname(many_sources[0]),
                         "-outdir", out])

    assert res.returncode == 0, res.stderr
    records = records_by_source(read_report(report))
    assert len(records) == 210
    assert set(records) == {norm(s) for s in many_sources}
    assert all(r["ok"] and r["attempts"] == 1 and r["error"] is None for r in records.values())
    assert len({r["worker_pid"] for r in records.values()}) <= 2
    assert all_files(out) == sorted(os.path.basename(s) for s in many_sources)
    for source in many_sources[::21]:
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, source, ref)
        assert_same_raster(expected_output(out, source), ref)
        os.unlink(ref)


def test_listing_a_large_directory_draws_the_progress_bar_once(tmp_path, run_batchwarp, many_sources):
    """The check for a stop while a directory is listed (every 64 entries)
    asks the progress callback at 0%: the bar is drawn once all the same,
    not a "0" per 64 entries (which -dry_run printed alone before, 20,000
    listed objects giving 312 of them)."""
    directory = os.path.dirname(many_sources[0])
    res = run_batchwarp(["-dry_run", *WARP, directory, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    # A dry run only prints its plan: no bar at all (it drew a lone "0" that
    # never went on, being done before any task).
    assert res.stderr == "", res.stderr
    res = run_batchwarp([*WARP, "-j", "2", directory, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("0...10...20...30...40...50...60...70...80...90...100 - done."), res.stderr


def test_report_to_stdout(tmp_path, run_batchwarp, many_sources):
    res = run_batchwarp([*WARP, "-q", "-report", "-", *many_sources[:5], "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert sorted(norm(r["source"]) for r in parse_report(res.stdout)) == sorted(norm(s) for s in many_sources[:5])


def test_one_unreadable_file_fails_alone(tmp_path, run_batchwarp, run_gdalwarp):
    src = tmp_path / "in"
    sources = make_small_rasters(src, 20)
    bad = src / "t0007x.tif"
    bad.write_text("this is not a GeoTIFF\n")
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"

    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, src, "-outdir", out])

    assert res.returncode == 1
    records = records_by_source(read_report(report))
    assert len(records) == 21
    failed = [r for r in records.values() if not r["ok"]]
    assert [norm(r["source"]) for r in failed] == [norm(bad)]
    # GDAL's own message, naming the file.
    # "... as a supported ..." (GDAL 3.6) or "... as being in a supported ..." (later).
    assert "not recognized as" in failed[0]["error"] and "supported file format" in failed[0]["error"]
    assert str(bad) in failed[0]["error"]
    assert f"FAILED {bad}" in res.stderr
    assert all_files(out) == sorted(os.path.basename(s) for s in sources)
    assert hidden_files(out) == []
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, sources[3], ref)
    assert_same_raster(expected_output(out, sources[3]), ref)

    # The rerun keeps the 20 outputs and fails the bad file again, alone.
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, src, "-outdir", out])
    assert res.returncode == 1
    records = records_by_source(read_report(report))
    assert sum(r["skipped"] for r in records.values()) == 20
    assert [norm(r["source"]) for r in records.values() if not r["ok"]] == [norm(bad)]


def test_unreadable_permissions(tmp_path, run_batchwarp):
    if os.geteuid() == 0:
        pytest.skip("root reads any file: see test_bad_inputs for the unprivileged run")
    sources = make_small_rasters(tmp_path / "in", 2)
    os.chmod(sources[0], 0)
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, *sources, "-outdir", tmp_path / "out"])
    assert res.returncode == 1
    failed = [r for r in read_report(report) if not r["ok"]]
    assert [norm(r["source"]) for r in failed] == [norm(sources[0])]
    assert "Permission denied" in failed[0]["error"]
