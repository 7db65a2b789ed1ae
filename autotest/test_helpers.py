"""Checks of the suite's own helpers: the data generator writes what it
claims, and assert_same_raster passes on equal datasets and fails on each
kind of difference it is meant to catch."""
import os

import pytest
from osgeo import gdal, osr

from conftest import VARIED_RASTERS, assert_same_raster, driver_extension, make_raster, make_varied_rasters, parse_report


def test_varied_rasters_are_varied(tmp_path):
    paths = make_varied_rasters(tmp_path)
    assert [os.path.basename(p) for p in paths] == sorted(name for name, _ in VARIED_RASTERS)
    seen_types, seen_bands, with_nodata = set(), set(), 0
    for path, (_, kw) in zip(paths, sorted(VARIED_RASTERS)):
        ds = gdal.Open(path)
        assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (kw["xsize"], kw["ysize"], kw["bands"])
        srs = ds.GetSpatialRef()
        assert srs is not None and srs.GetAuthorityCode(None) == "4326"
        seen_bands.add(ds.RasterCount)
        for b in range(1, ds.RasterCount + 1):
            band = ds.GetRasterBand(b)
            seen_types.add(band.DataType)
            arr = band.ReadAsArray()
            nodata = band.GetNoDataValue()
            if nodata is not None:
                with_nodata += 1
                assert (arr == nodata).sum() > 0, f"{path} band {b} has no nodata pixels"
                valid = arr[arr != nodata]
            else:
                valid = arr.ravel()
            # a varied pattern, not a constant
            assert len(set(valid.tolist())) > 10, f"{path} band {b} is not varied"
        if ds.RasterCount > 1:
            assert (ds.GetRasterBand(1).ReadRaster() != ds.GetRasterBand(2).ReadRaster())
    assert len(seen_types) >= 3 and len(seen_bands) >= 2 and with_nodata >= 2


def test_same_raster_passes_on_identical_gdalwarp_runs(tmp_path, run_gdalwarp):
    (src,) = [p for p in make_varied_rasters(tmp_path / "src") if "c_int16" in p]
    opts = ["-t_srs", "EPSG:3857", "-r", "bilinear"]
    run_gdalwarp(opts, src, tmp_path / "one.tif")
    run_gdalwarp(opts, src, tmp_path / "two.tif")
    assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


@pytest.mark.parametrize(
    "other_opts,what",
    [
        (["-t_srs", "EPSG:3857", "-r", "cubic"], "pixels"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-ot", "Int32"], "data type"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-dstnodata", "-7"], "nodata"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-co", "COMPRESS=DEFLATE"], "image structure"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-co", "TILED=YES", "-co", "BLOCKXSIZE=32",
          "-co", "BLOCKYSIZE=32"], "block size|image structure"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-ts", "70", "70"], "size"),
        (["-t_srs", "EPSG:3857", "-r", "bilinear", "-te", "2.1", "48.16", "2.74", "48.8", "-te_srs", "EPSG:4326",
          "-ts", "50", "75"], "geotransform"),
    ],
    ids=["pixels", "data_type", "nodata", "image_structure", "block_size", "size", "geotransform"],
)
def test_same_raster_detects_difference(tmp_path, run_gdalwarp, other_opts, what):
    (src,) = [p for p in make_varied_rasters(tmp_path / "src") if "c_int16" in p]
    run_gdalwarp(["-t_srs", "EPSG:3857", "-r", "bilinear"], src, tmp_path / "ref.tif")
    run_gdalwarp(other_opts, src, tmp_path / "other.tif")
    with pytest.raises(AssertionError, match=what) as exc:
        assert_same_raster(tmp_path / "ref.tif", tmp_path / "other.tif")
    print(f"{what}: {exc.value}")


def test_same_raster_detects_band_count(tmp_path):
    make_raster(tmp_path / "one.tif", bands=1, seed=3)
    make_raster(tmp_path / "two.tif", bands=2, seed=3)
    with pytest.raises(AssertionError, match="band count"):
        assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


def test_same_raster_detects_single_pixel(tmp_path):
    make_raster(tmp_path / "one.tif", seed=4)
    make_raster(tmp_path / "two.tif", seed=4)
    assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")
    ds = gdal.Open(str(tmp_path / "two.tif"), gdal.GA_Update)
    ds.GetRasterBand(1).WriteRaster(63, 63, 1, 1, b"\0\0\x80\x3f")  # 1.0f in a corner
    ds = None
    with pytest.raises(AssertionError, match="pixels differ"):
        assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


def test_same_raster_detects_tiny_geotransform_shift(tmp_path):
    make_raster(tmp_path / "one.tif", seed=5)
    make_raster(tmp_path / "two.tif", seed=5, origin=(2.0 + 1e-7, 49.0))
    with pytest.raises(AssertionError, match="geotransform"):
        assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


def test_same_raster_detects_crs(tmp_path):
    make_raster(tmp_path / "one.tif", seed=6, epsg=4326)
    make_raster(tmp_path / "two.tif", seed=6, epsg=4269)
    with pytest.raises(AssertionError, match="CRS differs"):
        assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


def test_same_raster_detects_nodata(tmp_path):
    make_raster(tmp_path / "one.tif", seed=7, dtype=gdal.GDT_Int16)
    make_raster(tmp_path / "two.tif", seed=7, dtype=gdal.GDT_Int16)
    ds = gdal.Open(str(tmp_path / "two.tif"), gdal.GA_Update)
    ds.GetRasterBand(1).SetNoDataValue(12345)
    ds = None
    with pytest.raises(AssertionError, match="nodata differs"):
        assert_same_raster(tmp_path / "one.tif", tmp_path / "two.tif")


def test_driver_extension():
    assert driver_extension("GTiff") == "tif"
    assert driver_extension("COG") == "tif"
    assert driver_extension("HFA") == "img"


def test_parse_report_rejects_bad_lines():
    good = ('{"source":"a.tif","output":"o/a.tif","ok":true,"skipped":false,"error":null,'
            '"seconds":0.1,"worker_pid":12,"attempts":1,"threads":1,"shard":null,"messages":[]}')
    assert len(parse_report(good + "\n" + good.replace("a.tif", "b.tif") + "\n")) == 2
    for bad in [
        good.replace('"attempts":1', '"attempts":"1"'),
        good.replace(',"attempts":1', ""),
        good.replace('"ok":true', '"ok":"true"'),
        good.replace('"ok":true', '"ok":false'),  # failed without an error
        good.replace('"error":null', '"error":"boom"'),  # ok with an error
        good + "\n\n" + good,
        "not json",
    ]:
        with pytest.raises((AssertionError, ValueError)):
            parse_report(bad)
