"""Refused before any work, with exit 2 and nothing written (issue 11, items
5 and 6): a report path that is a source or an output of the plan, an
output that is any source of the batch (by path, link or hard link), and a
quoted source pattern that matches the batch's own outputs."""
import hashlib
import os

import pytest

from conftest import make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]


def snapshot(directory):
    """Name -> content digest of every file below `directory`."""
    out = {}
    for root, _, files in os.walk(directory):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, directory)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture
def tree(tmp_path):
    sources = make_small_rasters(tmp_path / "in", 3)
    return tmp_path, sources


def refused(res, *words):
    assert res.returncode == 2, (res.returncode, res.stderr)
    for w in words:
        assert str(w) in res.stderr, res.stderr


def test_report_naming_a_source_is_refused(tree, run_batchwarp):
    tmp_path, sources = tree
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", "-report", sources[1], *sources, "-outdir", tmp_path / "out"])
    refused(res, sources[1], "-report")
    assert snapshot(tmp_path) == before


def test_report_naming_a_source_through_a_link_is_refused(tree, run_batchwarp):
    tmp_path, sources = tree
    (tmp_path / "report.jsonl").symlink_to(sources[0])
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", "-report", tmp_path / "report.jsonl", *sources, "-outdir", tmp_path / "out"])
    refused(res, "-report")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("existing", [True, False], ids=["existing-output", "new-output"])
def test_report_naming_an_output_is_refused(tree, run_batchwarp, existing):
    tmp_path, sources = tree
    out = tmp_path / "out"
    if existing:
        res = run_batchwarp([*WARP, "-q", *sources, "-outdir", out])
        assert res.returncode == 0, res.stderr
    before = snapshot(tmp_path)
    target = out / os.path.basename(sources[2])
    res = run_batchwarp([*WARP, "-q", "-report", target, *sources, "-outdir", out])
    refused(res, target, "-report")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "no-overwrite"])
def test_an_output_that_is_another_source_is_refused(tmp_path, run_batchwarp, overwrite):
    """-suffix _w with the sources a.tif and a_w.tif in the output directory:
    a.tif's output is the source a_w.tif."""
    d = tmp_path / "in"
    make_small_rasters(d, 2)
    os.rename(d / "t0000.tif", d / "a.tif")
    os.rename(d / "t0001.tif", d / "a_w.tif")
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", "-suffix", "_w", *(["-overwrite"] if overwrite else []), d / "a.tif",
                         d / "a_w.tif", "-outdir", d])
    refused(res, d / "a_w.tif", "also a source")
    assert snapshot(tmp_path) == before


def test_an_output_that_is_a_hard_link_to_another_source_is_refused(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    os.link(sources[1], out / os.path.basename(sources[0]))
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", out])
    refused(res, "also a source")
    assert snapshot(tmp_path) == before


def test_a_quoted_pattern_that_matches_the_outputs_is_refused(tmp_path, run_batchwarp):
    d = tmp_path / "in"
    make_small_rasters(d, 3)
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", "-suffix", "_w", str(d / "*.tif"), "-outdir", d])
    refused(res, "pattern", d / "*.tif")
    assert snapshot(tmp_path) == before
    # The same pattern into another directory is fine.
    res = run_batchwarp([*WARP, "-q", "-suffix", "_w", str(d / "*.tif"), "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert len(os.listdir(tmp_path / "out")) == 3


@pytest.mark.parametrize("sidecar", [".ovr", ".msk", ".aux.xml"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_named_like_a_sidecar_of_another_output_is_refused(tmp_path, run_batchwarp, sidecar,
                                                                      overwrite):
    """-output_template {name} with the sources x.tif and x.tif.ovr: the
    outputs x.tif and x.tif.ovr. GDAL takes x.tif.ovr as x.tif's overviews
    (.msk its mask, .aux.xml its metadata), and publishing x.tif removed
    it as the sidecar of an earlier x.tif: x.tif.ovr was reported ok, and was
    gone. Refused before any work, as a report named like a sidecar is."""
    d = tmp_path / "in"
    make_small_rasters(d, 2)
    os.rename(d / "t0000.tif", d / "x.tif")
    os.rename(d / "t0001.tif", d / f"x.tif{sidecar}")
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    res = run_batchwarp([*WARP, "-q", "-of", "GTiff", "-output_template", "{name}",
                         *(["-overwrite"] if overwrite else []), d / "x.tif", d / f"x.tif{sidecar}",
                         "-outdir", out])
    refused(res, out / "x.tif", out / f"x.tif{sidecar}", "sidecar")
    assert snapshot(tmp_path) == before
    assert not out.exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_source_that_links_to_an_output_not_yet_made_is_refused(tmp_path, run_batchwarp, overwrite):
    """A source that is a link to where another source's output will be
    (in/link.tif -> ../out/a.tif, dangling when the batch is planned) was
    not seen as an output: its task read whatever stood there when it ran,
    another task's output if that one had been published before, nothing if
    not (the outcome hung on -j and the order of the batch). Refused, like
    an output that is any source."""
    d = tmp_path / "in"
    make_small_rasters(d, 1)
    os.rename(d / "t0000.tif", d / "a.tif")
    before = snapshot(tmp_path)
    os.symlink("../out/a.tif", d / "link.tif")
    res = run_batchwarp([*WARP, "-q", *(["-overwrite"] if overwrite else []), d / "a.tif", d / "link.tif",
                         "-outdir", tmp_path / "out"])
    refused(res, tmp_path / "out" / "a.tif", d / "link.tif", "also a source")
    os.unlink(d / "link.tif")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "out").exists()
