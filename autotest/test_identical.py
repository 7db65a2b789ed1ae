"""Every output of gdal_batchwarp is the dataset gdalwarp writes from the same
source with the same options: size, geotransform, CRS, nodata, layout and
every band's pixels."""
import os

import pytest

from conftest import (assert_same_raster, driver_extension, expected_output, hidden_files, make_varied_rasters,
                      output_driver, read_report)

OPTION_SETS = {
    "t_srs_3857": ["-t_srs", "EPSG:3857"],
    "utm_tr": ["-t_srs", "EPSG:32631", "-tr", "500", "500"],
    "near": ["-t_srs", "EPSG:3857", "-r", "near"],
    "bilinear_lzw_tiled": ["-t_srs", "EPSG:3857", "-r", "bilinear", "-co", "COMPRESS=LZW", "-co", "TILED=YES"],
    "cubic_tr": ["-r", "cubic", "-tr", "0.005", "0.005"],
    "cog_deflate": ["-t_srs", "EPSG:3857", "-of", "COG", "-co", "COMPRESS=DEFLATE"],
    "dstnodata": ["-t_srs", "EPSG:3857", "-dstnodata", "0"],
    "te": ["-te", "2.2", "48.4", "2.6", "48.8"],
    "te_srs_ts": ["-t_srs", "EPSG:3857", "-te", "2.25", "48.45", "2.55", "48.75", "-te_srs", "EPSG:4326",
                  "-ts", "90", "70", "-r", "average"],
    "ot_srcnodata": ["-ot", "Int16", "-srcnodata", "-32767", "-t_srs", "EPSG:3857"],
    "multi_threads": ["-t_srs", "EPSG:3857", "-multi", "-wo", "NUM_THREADS=2", "-r", "lanczos"],
}


@pytest.fixture(scope="module")
def varied_sources(tmp_path_factory):
    return make_varied_rasters(tmp_path_factory.mktemp("varied"))


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_outputs_identical_to_gdalwarp(tmp_path, run_batchwarp, run_gdalwarp, varied_sources, name):
    options = OPTION_SETS[name]
    src_dir = os.path.dirname(varied_sources[0])
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"

    res = run_batchwarp([*options, "-q", "-j", "2", "-report", report, src_dir, "-outdir", out])

    assert res.returncode == 0, res.stderr
    driver = output_driver(options)
    records = read_report(report)
    assert len(records) == len(varied_sources)
    assert all(r["ok"] and not r["skipped"] for r in records)
    for source in varied_sources:
        output = expected_output(out, source, driver=driver)
        ref = tmp_path / f"ref_{os.path.basename(output)}"
        run_gdalwarp(options, source, ref)
        assert_same_raster(output, ref)
    assert sorted(os.listdir(out)) == sorted(os.path.basename(expected_output(out, s, driver=driver))
                                             for s in varied_sources)
    assert hidden_files(out) == []


def test_files_given_one_by_one_with_a_suffix(tmp_path, run_batchwarp, run_gdalwarp, varied_sources):
    options = OPTION_SETS["bilinear_lzw_tiled"]
    out = tmp_path / "out"
    res = run_batchwarp([*options, "-q", "-suffix", "_3857", *varied_sources[:2], "-outdir", out])
    assert res.returncode == 0, res.stderr
    for source in varied_sources[:2]:
        output = expected_output(out, source, suffix="_3857")
        assert output.endswith(f"_3857.{driver_extension('GTiff')}")
        ref = tmp_path / "ref.tif"
        run_gdalwarp(options, source, ref)
        assert_same_raster(output, ref)
        os.unlink(ref)
