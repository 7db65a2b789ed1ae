"""-memory_budget bounds the resident memory of the whole process tree
(supervisor and workers), and the default budget is what keeps -j from
taking the machine down."""
import os
import re
import resource

import numpy as np
import pytest
from osgeo import gdal, osr

from conftest import assert_same_raster, expected_output, read_report
from process_tree import run_sampling_peak_rss

MB = 1024 * 1024
WARP = ["-t_srs", "EPSG:3857", "-co", "COMPRESS=DEFLATE", "-co", "TILED=YES"]


def _large_compressible_raster(path, size, lon):
    """A size x size Float32 raster, small on disk (a repeated row, DEFLATE)
    but size*size*4 bytes once warped: the output's dirty blocks are what
    fills a worker's block cache."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 1, gdal.GDT_Float32,
                                              ["TILED=YES", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform([lon, 0.0003, 0, 49, 0, -0.0003])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetSpatialRef(srs)
    band = ds.GetRasterBand(1)
    rows = (np.arange(size) % 251).astype(np.float32)[None, :].repeat(500, axis=0)
    for y in range(0, size, 500):
        band.WriteArray(rows[: min(500, size - y)], 0, y)
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def large_sources(tmp_path_factory):
    directory = tmp_path_factory.mktemp("large")
    return [_large_compressible_raster(directory / f"scene{i}.tif", 6000, 2.0 + i) for i in range(2)]


def test_peak_memory_of_the_process_tree_stays_within_the_budget(tmp_path, batchwarp_bin, large_sources,
                                                                 run_gdalwarp, not_sanitized):
    budget_mb = 300
    argv = [batchwarp_bin, *WARP, "-q", "-j", "2", "-memory_budget", f"{budget_mb}MB",
            *large_sources, "-outdir", tmp_path / "out"]

    (rc, _, stderr), peak = run_sampling_peak_rss(argv)

    assert rc == 0, stderr
    assert peak <= budget_mb * MB, f"peak RSS of the process tree {peak / MB:.0f} MB > budget {budget_mb} MB"
    # The budget changes memory use only, never pixels.
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, large_sources[0], ref)
    assert_same_raster(expected_output(tmp_path / "out", large_sources[0]), ref)


def test_without_the_budget_the_same_batch_uses_more(tmp_path, batchwarp_bin, large_sources):
    """The premise of the test above: these sources do need more than the
    budget when the caches are GDAL's defaults, so the budget is what held
    the peak down."""
    argv = [batchwarp_bin, *WARP, "-q", "-j", "2", *large_sources, "-outdir", tmp_path / "out"]
    (rc, _, stderr), peak = run_sampling_peak_rss(argv, env={**os.environ, "GDAL_CACHEMAX": "1024"})
    assert rc == 0, stderr
    assert peak > 300 * MB, f"peak {peak / MB:.0f} MB: the sources are too small to test the budget"


def test_budget_too_small_for_one_worker_is_a_usage_error(tmp_path, run_batchwarp, large_sources):
    res = run_batchwarp([*WARP, "-q", "-memory_budget", "200MB", large_sources[0], "-outdir", tmp_path / "out"])
    assert res.returncode == 2
    assert "-memory_budget of 200 MB is too small" in res.stderr
    assert not (tmp_path / "out").exists()


def test_budget_lowers_the_number_of_workers(tmp_path, run_batchwarp, small_rasters):
    sources = small_rasters(tmp_path / "in", 8)
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-j", "4", "-memory_budget", "700MB", "-report", report,
                         *sources, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    # (700 - 96) MB / (96 + 16 + 64) MB per worker (baseline, least cache,
    # gdalwarp's -wm): 3 workers.
    assert "Running 3 workers instead of 4" in res.stderr
    pids = {r["worker_pid"] for r in read_report(report)}
    assert 1 <= len(pids) <= 3, pids


def _limit_address_space(nbytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
    return limit


def test_default_budget_is_a_quarter_of_the_usable_ram_and_quiet_keeps_the_warning(tmp_path, run_batchwarp,
                                                                                    small_rasters, not_sanitized):
    """The default -memory_budget is 25% of the RAM GDAL counts as usable
    (CPLGetUsablePhysicalRAM: the physical RAM, or the address-space limit,
    ulimit -v, if lower), as --help and the docs say. And -q silences the
    progress bar and the summary, not warnings: the one that says the budget
    holds fewer workers than -j asked for is still printed, as --help says."""
    limit = 3000 * MB
    if gdal.GetUsablePhysicalRAM() <= limit:
        pytest.skip("this machine has less usable RAM than the address-space limit the test sets")
    sources = small_rasters(tmp_path / "in", 8)
    res = run_batchwarp(["-q", "-t_srs", "EPSG:3857", "-j", "64", *sources, "-outdir", tmp_path / "out"],
                        preexec_fn=_limit_address_space(limit))
    assert res.returncode == 0, res.stderr
    # (750 - 96) MB / (96 + 16 + 64) MB per worker: 3 workers, not 8.
    found = re.search(r"Running (\d+) workers instead of 64: that is what the memory budget of (\d+) MB holds",
                      res.stderr)
    assert found, res.stderr
    assert int(found.group(2)) == limit // 4 // MB
    assert "0...10" not in res.stderr and "Batch summary" not in res.stderr
    help_text = run_batchwarp(["--help"]).stdout
    quiet_entry = re.search(r"^  -q, -quiet +(.*?)\n(?=  -|\n)", help_text, re.S | re.M).group(1)
    assert "no warnings" not in quiet_entry and "Warnings" in quiet_entry
    assert "(default: 25%)" in " ".join(help_text.split())
