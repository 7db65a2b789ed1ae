"""GDAL's own gdalwarp tests, run through gdalwarp (the oracle) and through
gdal_batchwarp at -j 1 and -j 2 (issue 12).

cases.json is made by extract_cases.py from GDAL 3.6's
autotest/utilities/test_gdalwarp.py and test_gdalwarp_lib.py; gdal/ holds the
test data they read, at GDAL's paths. Each case is run from gdal/utilities,
as GDAL's tests are, with its source and output given by absolute paths and
its output named as gdal_batchwarp names it (<stem>.<driver's extension>), so
that both programs write the same names.

Where gdalwarp writes the same bytes twice, gdal_batchwarp's output and
sidecars must have those bytes; otherwise size, geotransform, CRS, data
types, nodata, pixels, masks, metadata and the set of sidecars must agree.
Where gdalwarp fails, gdal_batchwarp must fail the task too. Cases that
cannot be batch cases are listed in EXCEPTIONS.md with their reasons.
"""
import collections
import filecmp
import json
import os
import shutil
import subprocess

import pytest
from osgeo import gdal

from conftest import assert_same_raster, driver_extension

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "cases.json"), encoding="utf-8") as _f:
    CASES = json.load(_f)["cases"]
BATCH_CASES = [c for c in CASES if c["exception"] is None]
TIMEOUT = 120


@pytest.fixture(scope="module")
def gdal_tree(tmp_path_factory):
    """A writable copy of the test data: some drivers write .aux.xml next
    to a source they read."""
    root = tmp_path_factory.mktemp("gdal") / "gdal"
    shutil.copytree(os.path.join(HERE, "gdal"), root)
    return root


def _run(argv, cwd):
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def _stem(path):
    return os.path.basename(path).split(".")[0]


def _prepare(case, gdal_tree, casedir):
    """The case's source as an absolute path, made by its setup commands
    (gdal_translate) where GDAL's test makes it so."""
    cwd = gdal_tree / "utilities"
    src = case["sources"][0]
    for step in case["setup"]:
        args = list(step["args"])
        made = casedir / "setup" / os.path.basename(args[-1])
        made.parent.mkdir(exist_ok=True)
        args[-1] = made
        res = _run([step["program"], *args], cwd)
        assert res.returncode == 0, f"setup {step} failed: {res.stderr}"
        if os.path.basename(src) == made.name:
            src = str(made)
    return os.path.normpath(os.path.join(cwd, src))


def _warp_options(case):
    options = list(case["options"])
    if "-of" not in options and "-f" not in options:
        options = ["-of", case["driver"], *options]
    return options


def _files(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def _oracle(case, gdal_tree, src, outdir):
    outdir.mkdir()
    out = outdir / f"{_stem(src)}.{driver_extension(case['driver'])}"
    res = _run(["gdalwarp", *_warp_options(case), src, out], gdal_tree / "utilities")
    return res, out


def _batch(program, options, sources, outdir, jobs, gdal_tree):
    return _run([program, *options, "-q", "-j", str(jobs), *sources,
                 "-outdir", outdir, "-report", outdir.parent / f"{outdir.name}.jsonl"], gdal_tree / "utilities")


def _report(outdir):
    with open(outdir.parent / f"{outdir.name}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _assert_same_output(ref_dir, out_dir, main, repeatable):
    ref_files, out_files = _files(ref_dir), _files(out_dir)
    assert ref_files == out_files, f"files differ: gdalwarp wrote {ref_files}, gdal_batchwarp {out_files}"
    if repeatable:
        for name in ref_files:
            assert filecmp.cmp(ref_dir / name, out_dir / name, shallow=False), f"{name} differs from gdalwarp's"
        return
    assert_same_raster(ref_dir / main, out_dir / main)
    a, b = gdal.Open(str(ref_dir / main)), gdal.Open(str(out_dir / main))
    for domain in ("", "IMAGE_STRUCTURE"):
        assert a.GetMetadata(domain) == b.GetMetadata(domain), f"metadata ({domain!r}) differs"
    for i in range(1, a.RasterCount + 1):
        ba, bb = a.GetRasterBand(i), b.GetRasterBand(i)
        assert ba.GetMaskFlags() == bb.GetMaskFlags(), f"band {i} mask flags differ"
        if ba.GetMaskFlags() & gdal.GMF_PER_DATASET:
            assert ba.GetMaskBand().ReadRaster() == bb.GetMaskBand().ReadRaster(), f"band {i} mask differs"
        assert ba.GetMetadata() == bb.GetMetadata(), f"band {i} metadata differs"


@pytest.fixture(scope="module")
def batchwarp_abs(batchwarp_bin):
    """The program, by a path that does not depend on the working directory."""
    return os.path.abspath(batchwarp_bin)


@pytest.mark.parametrize("case", BATCH_CASES, ids=[c["id"] for c in BATCH_CASES])
def test_case(case, gdal_tree, tmp_path, batchwarp_abs):
    src = _prepare(case, gdal_tree, tmp_path)
    ref1, main = _oracle(case, gdal_tree, src, tmp_path / "ref1")
    if ref1.returncode != 0:
        # gdalwarp fails on this GDAL: so must the batch, and nothing appear.
        # Options that GDAL's parser or a simple check refuses (e.g. -tap
        # without -tr) are refused up front, with exit status 2 and GDAL's
        # own message; other failures fail the task (exit status 1).
        for jobs in (1, 2):
            out = tmp_path / f"j{jobs}"
            res = _batch(batchwarp_abs, _warp_options(case), [src], out, jobs, gdal_tree)
            assert res.returncode in (1, 2), f"gdalwarp failed ({ref1.stderr}) but gdal_batchwarp: {res.stderr}"
            if res.returncode == 2:
                first = ref1.stderr.strip().splitlines()[0]
                assert first in res.stderr, f"refused up front without gdalwarp's message {first!r}: {res.stderr}"
            assert not _files(out)
        return
    ref2, _ = _oracle(case, gdal_tree, src, tmp_path / "ref2")
    assert ref2.returncode == 0
    repeatable = all(filecmp.cmp(tmp_path / "ref1" / n, tmp_path / "ref2" / n, shallow=False)
                     for n in _files(tmp_path / "ref1")) and _files(tmp_path / "ref1") == _files(tmp_path / "ref2")
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        res = _batch(batchwarp_abs, _warp_options(case), [src], out, jobs, gdal_tree)
        assert res.returncode == 0, f"-j {jobs}: {res.stderr}"
        _assert_same_output(tmp_path / "ref1", out, main.name, repeatable)


def _groups():
    """Batch cases whose options and driver agree, with different source
    names: one batch of all their sources."""
    by_options = collections.defaultdict(dict)
    for c in BATCH_CASES:
        if c["setup"]:
            continue
        key = json.dumps(_warp_options(c))
        by_options[key].setdefault(_stem(c["sources"][0]), c)
    return [list(v.values()) for v in by_options.values() if len(v) > 1]


GROUPS = _groups()


@pytest.mark.parametrize("group", GROUPS, ids=[g[0]["id"] for g in GROUPS])
def test_batch_of_several_cases(group, gdal_tree, tmp_path, batchwarp_abs):
    refs = {}
    for case in group:
        src = _prepare(case, gdal_tree, tmp_path)
        d = tmp_path / f"ref_{_stem(src)}"
        res, main = _oracle(case, gdal_tree, src, d)
        res2, _ = _oracle(case, gdal_tree, src, tmp_path / f"ref2_{_stem(src)}")
        repeatable = res.returncode == 0 and res2.returncode == 0 and all(
            filecmp.cmp(d / n, tmp_path / f"ref2_{_stem(src)}" / n, shallow=False) for n in _files(d))
        refs[src] = (res.returncode, d, main, repeatable)
    out = tmp_path / "batch"
    res = _batch(batchwarp_abs, _warp_options(group[0]), list(refs), out, 2, gdal_tree)
    assert res.returncode == (0 if all(r[0] == 0 for r in refs.values()) else 1), res.stderr
    by_source = {os.path.normpath(r["source"]): r for r in _report(out)}
    for src, (rc, d, main, repeatable) in refs.items():
        rec = by_source[os.path.normpath(src)]
        assert rec["ok"] == (rc == 0), rec
        if rc != 0:
            continue
        for name in _files(d):
            got = out / name
            assert got.exists(), f"{name} missing from the batch's output"
            if repeatable:
                assert filecmp.cmp(d / name, got, shallow=False), f"{name} differs from gdalwarp's"
        if not repeatable:
            assert_same_raster(d / main.name, out / main.name)
