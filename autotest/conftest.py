"""Fixtures and helpers for the gdal_batchwarp end-to-end tests.

The program under test is a C executable: it is run with subprocess, and
its outputs are compared with those of the `gdalwarp` command-line program
run with the same options on each source file.
"""
import base64
import json
import math
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal, osr

gdal.UseExceptions()
osr.UseExceptions()

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(REPO_ROOT, "build", "utility", "gdal_batchwarp")
DEFAULT_TIMEOUT = 120

REPORT_KEYS = {"source", "output", "ok", "error", "seconds", "worker_pid", "attempts", "skipped", "threads", "shard",
               "messages"}
# Only for a source or output whose name is not valid UTF-8: its exact bytes.
REPORT_BYTES_KEYS = {"source_bytes", "output_bytes"}


###############################################################################
# Programs


def _batchwarp_path():
    return os.environ.get("GDAL_BATCHWARP_BIN") or DEFAULT_BIN


@pytest.fixture(scope="session")
def batchwarp_bin():
    path = _batchwarp_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip(
            f"gdal_batchwarp executable not found at {path}: build it with "
            "'cmake -S . -B build && cmake --build build' or set GDAL_BATCHWARP_BIN"
        )
    return path


_SANITIZED = {}


def sanitized_build(path=None):
    """True when the program is an AddressSanitizer build (-DBATCHWARP_SANITIZE=ON).
    ASan reserves terabytes of address space for its shadow memory and holds
    freed memory in quarantine: an address-space limit (RLIMIT_AS, ulimit -v,
    -worker_mem_limit) stops it from starting, and resident sizes are not
    those of the plain build."""
    path = path or _batchwarp_path()
    if path not in _SANITIZED:
        try:
            with open(path, "rb") as f:
                _SANITIZED[path] = b"__asan_init" in f.read()
        except OSError:
            _SANITIZED[path] = False
    return _SANITIZED[path]


@pytest.fixture
def not_sanitized(batchwarp_bin):
    """Skips a test that limits address space or measures memory under an ASan build."""
    if sanitized_build(batchwarp_bin):
        pytest.skip("ASan build: address-space limits and memory sizes do not apply (see sanitized_build)")


# Set by scripts/test-sanitized: the directory the sanitizers' log_path
# names, where every process of a sanitized build (supervisor and each
# worker) writes its report instead of its stderr.
SANITIZER_LOG_DIR = os.environ.get("BATCHWARP_SANITIZER_LOG_DIR")


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fails the test during which a process of the program wrote a sanitizer
    report (ASan, UBSan, LSan), and shows it."""
    if not SANITIZER_LOG_DIR:
        yield
        return
    before = set(os.listdir(SANITIZER_LOG_DIR))
    yield
    new = sorted(set(os.listdir(SANITIZER_LOG_DIR)) - before)
    if new:
        texts = []
        for name in new:
            with open(os.path.join(SANITIZER_LOG_DIR, name), errors="replace") as f:
                texts.append(f"--- {name}\n{f.read()}")
        pytest.fail("sanitizer report(s) written during this test:\n" + "\n".join(texts), pytrace=False)


@pytest.fixture(scope="session")
def gdalwarp_bin():
    path = shutil.which("gdalwarp")
    if path is None:
        pytest.skip("the gdalwarp program (reference implementation) is not on PATH")
    return path


def _run(argv, timeout=DEFAULT_TIMEOUT, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in argv], timeout=timeout, **kw)


@pytest.fixture(scope="session")
def run_batchwarp(batchwarp_bin):
    """run_batchwarp(args, **kw) -> CompletedProcess (text stdout/stderr captured)."""

    def run(args, **kw):
        return _run([batchwarp_bin, *args], **kw)

    return run


@pytest.fixture(scope="session")
def run_gdalwarp(gdalwarp_bin):
    """run_gdalwarp(options, src, dst): the reference, `gdalwarp -q <options> src dst`.

    Fails the test if gdalwarp itself fails."""

    def run(options, src, dst, **kw):
        res = _run([gdalwarp_bin, "-q", *options, src, dst], **kw)
        assert res.returncode == 0, (
            f"reference gdalwarp failed ({res.returncode}): {' '.join(map(str, options))} {src} {dst}\n"
            f"{res.stderr}"
        )
        return res

    return run


@pytest.fixture(scope="session")
def gdalwarp_error_messages(gdalwarp_bin):
    """gdalwarp_error_messages(options) -> list of GDAL error messages that
    `gdalwarp <options> src dst` prints for a bad option (the "ERROR n: "
    prefix removed, continuation lines kept)."""

    def get(options):
        res = _run([gdalwarp_bin, *options, "/nonexistent/in.tif", "/nonexistent/out.tif"])
        assert res.returncode != 0, f"gdalwarp accepted {options}: the test premise is wrong"
        messages = []
        current = None
        for line in res.stderr.splitlines():
            m = re.match(r"^ERROR \d+: (.*)$", line)
            if m:
                current = [m.group(1)]
                messages.append(current)
            elif current is not None and line.strip() and not line.startswith("Usage:"):
                current.append(line)
            else:
                current = None
        assert messages, f"gdalwarp printed no error message for {options}:\n{res.stderr}"
        return ["\n".join(m) for m in messages]

    return get


###############################################################################
# Test data


_DTYPES = {
    gdal.GDT_Byte: np.uint8,
    gdal.GDT_Int16: np.int16,
    gdal.GDT_UInt16: np.uint16,
    gdal.GDT_Int32: np.int32,
    gdal.GDT_Float32: np.float32,
    gdal.GDT_Float64: np.float64,
}


def _pattern(xsize, ysize, band, seed):
    """A deterministic, non-trivial field in [0, 1): smooth waves plus a
    pixel-level texture, different for every band and seed."""
    y, x = np.mgrid[0:ysize, 0:xsize].astype(np.float64)
    phase = 0.7 * seed + 1.3 * band
    smooth = 0.5 + 0.25 * np.sin(x * (0.11 + 0.01 * band) + phase) * np.cos(y * 0.07 - phase)
    smooth += 0.15 * np.sin((x + 2 * y) * 0.05 + seed)
    texture = ((x.astype(np.int64) * 7 + y.astype(np.int64) * 13 + seed * 31 + band * 5) % 17) / 17.0
    field = 0.85 * smooth + 0.15 * texture
    return np.clip(field, 0.0, 0.999)


def make_raster(
    path,
    xsize=64,
    ysize=64,
    bands=1,
    dtype=gdal.GDT_Float32,
    nodata=None,
    origin=(2.0, 49.0),
    pixel_size=(0.01, 0.01),
    epsg=4326,
    seed=0,
    creation_options=None,
):
    """Writes a GeoTIFF with a varied pattern of values. With `nodata`, a
    rectangle and a sparse grid of pixels are set to the nodata value."""
    path = str(path)
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, xsize, ysize, bands, dtype, options=creation_options or [])
    ds.SetGeoTransform([origin[0], pixel_size[0], 0.0, origin[1], 0.0, -pixel_size[1]])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetSpatialRef(srs)
    np_type = _DTYPES[dtype]
    if np.issubdtype(np_type, np.integer):
        info = np.iinfo(np_type)
        lo, hi = max(info.min, -3000), min(info.max, 3000)
    else:
        lo, hi = -500.0, 1500.0
    for b in range(1, bands + 1):
        values = lo + _pattern(xsize, ysize, b, seed) * (hi - lo)
        values = values.astype(np_type)
        if nodata is not None:
            values[ysize // 5 : ysize // 5 + ysize // 6, xsize // 3 : xsize // 3 + xsize // 4] = nodata
            values[::11, ::7] = nodata
        band = ds.GetRasterBand(b)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(values)
    ds = None
    return path


# The varied set used by the comparison tests: different sizes, data types,
# band counts, pixel sizes and nodata. All lie within 2E-3.3E, 48.1N-49.1N
# (inside UTM zone 31N) and all intersect 2.2E-2.6E, 48.4N-48.8N.
VARIED_RASTERS = [
    ("a_float_nodata.tif", dict(xsize=64, ysize=64, bands=1, dtype=gdal.GDT_Float32,
                                nodata=-32767.0, origin=(2.0, 49.0), pixel_size=(0.01, 0.01))),
    ("b_byte_rgb.tif", dict(xsize=100, ysize=80, bands=3, dtype=gdal.GDT_Byte,
                            origin=(2.3, 48.9), pixel_size=(0.008, 0.008))),
    ("c_int16_nodata.tif", dict(xsize=64, ysize=64, bands=2, dtype=gdal.GDT_Int16,
                                nodata=-1, origin=(2.1, 48.8), pixel_size=(0.01, 0.01))),
    ("d_float.tif", dict(xsize=100, ysize=80, bands=1, dtype=gdal.GDT_Float32,
                         origin=(2.4, 49.1), pixel_size=(0.009, 0.007))),
]


def make_varied_rasters(directory):
    """Writes VARIED_RASTERS into `directory`; returns their paths, sorted."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for seed, (name, kw) in enumerate(VARIED_RASTERS):
        paths.append(make_raster(os.path.join(directory, name), seed=seed, **kw))
    return sorted(paths)


def make_small_rasters(directory, count, size=16, prefix="t"):
    """Writes `count` small single-band Float32 GeoTIFFs in a grid of tiles;
    returns their paths, sorted."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    per_row = 20
    deg = 0.01 * size
    for i in range(count):
        col, row = i % per_row, i // per_row
        path = os.path.join(directory, f"{prefix}{i:04d}.tif")
        make_raster(path, xsize=size, ysize=size, bands=1, dtype=gdal.GDT_Float32,
                    origin=(1.0 + col * deg, 50.0 - row * deg), nodata=-9999.0 if i % 3 == 0 else None,
                    seed=i)
        paths.append(path)
    return sorted(paths)


@pytest.fixture(scope="session")
def raster_factory():
    return make_raster


@pytest.fixture(scope="session")
def varied_rasters():
    return make_varied_rasters


@pytest.fixture(scope="session")
def small_rasters():
    return make_small_rasters


###############################################################################
# Comparison


def _same_number(a, b):
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def _image_structure(obj):
    return obj.GetMetadata("IMAGE_STRUCTURE") or {}


def assert_same_raster(path_a, path_b):
    """Asserts that two rasters are the same dataset: size, band count, data
    types, geotransform (within 1e-9), CRS, nodata, block size, compression and
    layout, overview count, and every band's pixels byte for byte."""
    path_a, path_b = str(path_a), str(path_b)
    a = gdal.Open(path_a)
    b = gdal.Open(path_b)
    what = f"{path_a} vs {path_b}"

    assert (a.RasterXSize, a.RasterYSize) == (b.RasterXSize, b.RasterYSize), f"size differs: {what}"
    assert a.RasterCount == b.RasterCount, f"band count differs: {what}"

    gt_a, gt_b = a.GetGeoTransform(can_return_null=True), b.GetGeoTransform(can_return_null=True)
    assert (gt_a is None) == (gt_b is None), f"geotransform presence differs: {what}"
    if gt_a is not None:
        for i, (va, vb) in enumerate(zip(gt_a, gt_b)):
            assert abs(va - vb) <= 1e-9, f"geotransform[{i}] differs ({va!r} != {vb!r}): {what}"

    srs_a, srs_b = a.GetSpatialRef(), b.GetSpatialRef()
    assert (srs_a is None) == (srs_b is None), f"CRS presence differs: {what}"
    if srs_a is not None:
        assert srs_a.IsSame(srs_b), (
            f"CRS differs: {what}\n{srs_a.ExportToWkt()}\n!=\n{srs_b.ExportToWkt()}"
        )

    assert _image_structure(a) == _image_structure(b), (
        f"image structure (compression, interleave, layout) differs: {what}: "
        f"{_image_structure(a)} != {_image_structure(b)}"
    )

    for i in range(1, a.RasterCount + 1):
        ba, bb = a.GetRasterBand(i), b.GetRasterBand(i)
        assert ba.DataType == bb.DataType, (
            f"band {i} data type differs ({gdal.GetDataTypeName(ba.DataType)} != "
            f"{gdal.GetDataTypeName(bb.DataType)}): {what}"
        )
        assert _same_number(ba.GetNoDataValue(), bb.GetNoDataValue()), (
            f"band {i} nodata differs ({ba.GetNoDataValue()!r} != {bb.GetNoDataValue()!r}): {what}"
        )
        assert ba.GetBlockSize() == bb.GetBlockSize(), f"band {i} block size differs: {what}"
        assert ba.GetColorInterpretation() == bb.GetColorInterpretation(), (
            f"band {i} color interpretation differs: {what}"
        )
        assert ba.GetOverviewCount() == bb.GetOverviewCount(), f"band {i} overview count differs: {what}"
        data_a, data_b = ba.ReadRaster(), bb.ReadRaster()
        if data_a != data_b:
            n = sum(1 for x, y in zip(data_a, data_b) if x != y)
            raise AssertionError(f"band {i} pixels differ ({n} of {len(data_a)} bytes): {what}")
        for o in range(ba.GetOverviewCount()):
            assert ba.GetOverview(o).ReadRaster() == bb.GetOverview(o).ReadRaster(), (
                f"band {i} overview {o} pixels differ: {what}"
            )
    a = b = None


@pytest.fixture(name="assert_same_raster", scope="session")
def assert_same_raster_fixture():
    return assert_same_raster


###############################################################################
# Outputs and reports


def driver_extension(driver_name):
    """The output extension the spec asks for: the driver's DMD_EXTENSION,
    else the first of its DMD_EXTENSIONS (COG has only the latter)."""
    drv = gdal.GetDriverByName(driver_name)
    assert drv is not None, f"driver {driver_name} not available"
    ext = drv.GetMetadataItem(gdal.DMD_EXTENSION) or ""
    if not ext:
        ext = (drv.GetMetadataItem(gdal.DMD_EXTENSIONS) or "").split(" ")[0]
    return ext


def output_driver(options):
    """The -of value in a gdalwarp option list (last one wins), default GTiff."""
    drv = "GTiff"
    for i, opt in enumerate(options):
        if opt == "-of" and i + 1 < len(options):
            drv = options[i + 1]
    return drv


def expected_output(outdir, source, suffix="", driver="GTiff"):
    stem = os.path.splitext(os.path.basename(str(source)))[0]
    return os.path.join(str(outdir), f"{stem}{suffix}.{driver_extension(driver)}")


def _is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def parse_report(text):
    """Parses JSON-lines text; every non-empty line must be a JSON object
    with exactly the documented keys and types."""
    records = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        assert line.strip(), f"blank line {n} in report:\n{text}"
        rec = json.loads(line)
        assert isinstance(rec, dict), f"report line {n} is not an object: {line}"
        assert set(rec) - REPORT_BYTES_KEYS == REPORT_KEYS, \
            f"report line {n} keys {sorted(rec)} != {sorted(REPORT_KEYS)}"
        for key in REPORT_BYTES_KEYS & set(rec):
            name = base64.b64decode(rec[key], validate=True)
            assert name and not _is_utf8(name), f"report line {n}: {key} of a UTF-8 name: {line}"
        assert isinstance(rec["source"], str) and rec["source"], line
        assert isinstance(rec["output"], str) and rec["output"], line
        assert isinstance(rec["ok"], bool), line
        assert isinstance(rec["skipped"], bool), line
        assert rec["error"] is None or isinstance(rec["error"], str), line
        assert isinstance(rec["seconds"], (int, float)) and not isinstance(rec["seconds"], bool), line
        assert rec["seconds"] >= 0, line
        assert rec["worker_pid"] is None or (
            isinstance(rec["worker_pid"], int) and not isinstance(rec["worker_pid"], bool)
        ), line
        assert isinstance(rec["attempts"], int) and not isinstance(rec["attempts"], bool), line
        assert isinstance(rec["threads"], int) and not isinstance(rec["threads"], bool), line
        assert rec["threads"] >= (1 if rec["attempts"] else 0), line
        assert rec["shard"] is None or re.fullmatch(r"\d+/\d+", rec["shard"]), line
        assert isinstance(rec["messages"], list) and all(isinstance(m, str) for m in rec["messages"]), line
        if rec["ok"] and not rec["skipped"]:
            assert rec["error"] is None, f"successful task with an error: {line}"
            assert rec["attempts"] >= 1, line
            assert rec["worker_pid"] is not None and rec["worker_pid"] > 0, line
        if not rec["ok"]:
            assert rec["error"], f"failed task without an error message: {line}"
        records.append(rec)
    return records


def read_report(path):
    with open(path, encoding="utf-8") as f:
        return parse_report(f.read())


def norm(path):
    return os.path.normpath(os.path.abspath(str(path)))


def records_by_source(records):
    by_source = {}
    for rec in records:
        key = norm(rec["source"])
        assert key not in by_source, f"source {rec['source']} reported twice"
        by_source[key] = rec
    return by_source


def hidden_files(directory):
    if not os.path.isdir(directory):
        return []
    return sorted(n for n in os.listdir(directory) if n.startswith("."))


def all_files(directory):
    """Every entry of `directory` (hidden ones too); [] if it does not exist."""
    if not os.path.isdir(directory):
        return []
    return sorted(os.listdir(directory))


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()
