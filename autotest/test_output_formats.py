"""Output formats beyond GTiff (-of): a dataset of several files, or written
by CreateCopy (gdalwarp warps to a temporary GTiff, then copies). For each,
-outdir ends with the files gdalwarp writes for the same source, options and
output name, and no other; each file has gdalwarp's bytes where gdalwarp
writes the same bytes twice over (some drivers record the time)."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from osgeo import gdal

from attacker import as_nobody, needs_root
from conftest import all_files, assert_same_raster, driver_extension, file_bytes, make_raster

WARP = ["-t_srs", "EPSG:3857"]

# label: (driver, options, make_raster arguments). Two sources each, -j 2.
FORMATS = {
    # Files that the driver's list (GDALGetFileList) does not name: made at
    # close (MRF's index and data, BT's .prj, ISIS3's history, ILWIS's .grf
    # and .csy), or even the main file (RRASTER's .grd, PDS4's label).
    "MRF": ("MRF", ["-co", "COMPRESS=DEFLATE"], {}),
    "BT": ("BT", [], {}),
    "ISIS3_detached": ("ISIS3", ["-co", "DATA_LOCATION=EXTERNAL"], {}),
    "ISIS3_no_history": ("ISIS3", ["-co", "DATA_LOCATION=EXTERNAL", "-co", "ADD_GDAL_HISTORY=NO"], {}),
    "ILWIS": ("ILWIS", [], {}),
    # Several bands: none at the name given (x.mpl and x_band_N.mpr), as
    # gdalwarp writes them, exiting 0.
    "ILWIS_bands": ("ILWIS", [], {"bands": 2}),
    "RRASTER": ("RRASTER", [], {}),
    "PDS4": ("PDS4", [], {}),
    # Sidecars the driver lists. ENVI's header names the output as given.
    "ENVI": ("ENVI", [], {}),
    "EHdr": ("EHdr", [], {}),
    "HFA_spill": ("HFA", ["-co", "USE_SPILL=YES"], {}),
    "ERS": ("ERS", [], {}),
    "RST": ("RST", [], {}),
    "SAGA": ("SAGA", [], {}),
    # CreateCopy only (GIF: see the failure test below).
    "PNG_worldfile": ("PNG", ["-co", "WORLDFILE=YES"], {"dtype": gdal.GDT_Byte, "bands": 3}),
    "JPEG": ("JPEG", [], {"dtype": gdal.GDT_Byte, "bands": 3}),
    "AAIGrid": ("AAIGrid", [], {}),
}


# Files whose bytes are not the warp's: ISIS3's history names the program
# that wrote it (and the second it ran), and the label gives its size
# (compared without the history in ISIS3_no_history); GDAL 3.6 writes
# uninitialised memory in RST's .ref ("delta WGS84 : 4.65e-310 ..."), which
# two gdalwarp runs may happen to share.
NOT_COMPARED = {"ISIS3_detached": (".History.IsisCube", ".lbl"), "RST": (".ref",)}


def _need(driver):
    if gdal.GetDriverByName(driver) is None:
        pytest.skip(f"GDAL has no {driver} driver")


def _snapshot(directory):
    return {name: file_bytes(os.path.join(directory, name)) for name in all_files(directory)}


def _clear(directory):
    for name in all_files(directory):
        os.unlink(os.path.join(directory, name))


def _check_files_and_bytes(tmp_path, run_batchwarp, run_gdalwarp, label, extra):
    driver, options, spec = FORMATS[label]
    _need(driver)
    options = [*WARP, "-of", driver, *options]
    (tmp_path / "in").mkdir()
    sources = [make_raster(tmp_path / "in" / f"s{i}.tif", seed=i, origin=(2.0 + 0.1 * i, 49.0), **spec)
               for i in range(2)]
    out = tmp_path / "out"
    out.mkdir()
    ext = driver_extension(driver)
    # gdalwarp writes each output at the very name gdal_batchwarp will use
    # (some drivers record it), the first one twice: a file of the same bytes
    # both times is repeatable, and so is the second output's file of the
    # same suffix (s0.hdr, s1.hdr).
    expected, repeatable = {}, set()
    for i, s in enumerate(sources):
        name = f"s{i}" + (f".{ext}" if ext else "")
        runs = []
        for _ in range(2 if i == 0 else 1):
            run_gdalwarp(options, s, out / name)
            runs.append(_snapshot(out))
            _clear(out)
        if i == 0:
            assert set(runs[0]) == set(runs[1]), f"gdalwarp wrote different files: {runs}"
            suffixes = {n[2:] for n in runs[0] if runs[0][n] == runs[1][n]}
        expected.update(runs[0])
        repeatable |= {n for n in runs[0] if n[2:] in suffixes}
    res = run_batchwarp([*extra, *options, "-q", "-j", "2", *sources, "-outdir", out])
    assert res.returncode == 0, res.stderr
    got = _snapshot(out)
    assert sorted(got) == sorted(expected), "not the files gdalwarp writes"
    differ = sorted(n for n in repeatable if got[n] != expected[n] and not n.endswith(NOT_COMPARED.get(label, ())))
    assert differ == [], f"not gdalwarp's bytes: {differ}"
    assert repeatable, "nothing to compare"


@pytest.mark.parametrize("label", sorted(FORMATS))
def test_files_and_bytes_are_gdalwarps(tmp_path, run_batchwarp, run_gdalwarp, label):
    _check_files_and_bytes(tmp_path, run_batchwarp, run_gdalwarp, label, [])


@pytest.mark.parametrize("label", ["MRF", "ISIS3_no_history", "ENVI", "ILWIS_bands"])
def test_staged_outputs_are_gdalwarps_too(tmp_path, run_batchwarp, run_gdalwarp, label):
    """Outputs to /vsi directories are written in a local staging directory,
    then copied: the same files and bytes (an ISIS3 label names its data
    file as the output names it, not as the staged copy was named)."""
    _check_files_and_bytes(tmp_path, run_batchwarp, run_gdalwarp, label,
                           ["--config", "BATCHWARP_STAGE_OUTPUTS", "YES", "--config", "CPL_TMPDIR", tmp_path])
    assert [n for n in all_files(tmp_path) if n not in ("in", "out")] == [], "staged files left"


def test_a_format_written_as_a_directory_tree_fails_clearly(tmp_path, run_batchwarp, run_gdalwarp):
    """KMLSUPEROVERLAY's .kml form writes its tiles in directories beside it
    (0/0/0.jpg, shared by every output of the directory): gdal_batchwarp,
    which publishes files, fails the task naming the source and the reason,
    and leaves nothing behind, not a .kml without its tiles."""
    _need("KMLSUPEROVERLAY")
    src = make_raster(tmp_path / "s.tif", dtype=gdal.GDT_Byte, bands=3)
    ref = tmp_path / "ref"
    ref.mkdir()
    run_gdalwarp(["-of", "KMLSUPEROVERLAY"], src, ref / "s.kml")
    assert any(os.path.isdir(ref / n) for n in all_files(ref)), "the premise: gdalwarp writes a tree"
    out = tmp_path / "out"
    res = run_batchwarp(["-of", "KMLSUPEROVERLAY", "-q", src, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert f"FAILED {src}" in res.stderr and "not a regular file" in res.stderr, res.stderr
    assert all_files(out) == []


# The first run writes a sidecar that the second, with -overwrite, does not.
OVERWRITES = {
    "HFA_spill_then_not": ("HFA", ["-co", "USE_SPILL=YES"], [], {}),
    "PNG_worldfile_then_not": ("PNG", ["-co", "WORLDFILE=YES"], [], {"dtype": gdal.GDT_Byte, "bands": 3}),
    "ISIS3_history_then_not": ("ISIS3", ["-co", "DATA_LOCATION=EXTERNAL"],
                               ["-co", "DATA_LOCATION=EXTERNAL", "-co", "ADD_GDAL_HISTORY=NO"], {}),
}


@pytest.mark.parametrize("label", sorted(OVERWRITES))
def test_overwrite_leaves_gdalwarps_files(tmp_path, run_batchwarp, run_gdalwarp, label):
    """gdalwarp -overwrite deletes the earlier dataset, every file of it,
    before it writes the new one: none of the earlier sidecars is left
    beside the new output (a stale .wld is read by other programs)."""
    driver, first, second, spec = OVERWRITES[label]
    _need(driver)
    src = make_raster(tmp_path / "s.tif", **spec)
    name = "s." + driver_extension(driver)
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir()
    run_gdalwarp([*WARP, "-of", driver, *first], src, ref / name)
    before = all_files(ref)
    run_gdalwarp([*WARP, "-of", driver, *second, "-overwrite"], src, ref / name)
    assert all_files(ref) != before, "the premise: the second run writes fewer files"
    res = run_batchwarp([*WARP, "-of", driver, *first, "-q", src, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == before
    res = run_batchwarp([*WARP, "-of", driver, *second, "-q", "-overwrite", src, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert all_files(out) == all_files(ref)


@pytest.mark.parametrize("driver, options, spec", [
    ("GIF", [], {"dtype": gdal.GDT_Byte, "bands": 2}),   # CreateCopy refuses 2 bands
    ("MRF", [], {}),                                      # MRF's PNG refuses Float32, half-way
])
def test_a_driver_refusing_the_data_fails_the_task_and_leaves_nothing(tmp_path, run_batchwarp, gdalwarp_bin,
                                                                      driver, options, spec):
    _need(driver)
    src = make_raster(tmp_path / "s.tif", **spec)
    ref = tmp_path / "ref"
    ref.mkdir()
    res = subprocess.run([gdalwarp_bin, "-q", *WARP, "-of", driver, *options, src,
                          ref / ("s." + driver_extension(driver))], capture_output=True, text=True)
    assert res.returncode == 1, "the premise: gdalwarp fails"
    reason = res.stderr.strip().splitlines()[0].split(": ", 1)[1]
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-of", driver, *options, "-q", src, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert f"FAILED {src}: {reason}" in res.stderr
    assert all_files(out) == []


def test_two_outputs_sharing_a_file_fail_clearly_instead_of_sharing_it(tmp_path, run_batchwarp, run_gdalwarp):
    """ENVI names the header of "x" and of "x.y" alike ("x.hdr"): gdalwarp
    run on each writes one over the other, and one output is left with the
    other's header. gdal_batchwarp publishes the first and fails the second,
    naming the file; the first output is whole, with its own header."""
    _need("ENVI")
    (tmp_path / "in").mkdir()
    small = make_raster(tmp_path / "in" / "x.tif", xsize=40, ysize=30)
    large = make_raster(tmp_path / "in" / "x.y.tif", xsize=90, ysize=70, seed=1)
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-of", "ENVI", "-q", "-j", "2", small, large, "-outdir", out])
    assert res.returncode == 1, res.stderr
    assert f"'{out / 'x.hdr'}', a file of " in res.stderr and "is also a file of another output" in res.stderr
    published = [n for n in ("x", "x.y") if (out / n).exists()]
    assert len(published) == 1, all_files(out)
    assert all_files(out) == sorted([published[0], f"{published[0]}.aux.xml", "x.hdr"])
    # The one published reads as gdalwarp's output of its own source.
    ref = tmp_path / "ref"
    ref.mkdir()
    run_gdalwarp([*WARP, "-of", "ENVI"], small if published[0] == "x" else large, ref / published[0])
    assert_same_raster(out / published[0], ref / published[0])


@needs_root
def test_overwrite_removes_no_file_on_the_word_of_another_users_output(run_batchwarp):
    """In an output directory others write to (0777), another user's file at
    an output's name is replaced with -overwrite, but its files are not
    removed on its own word: here an ENVI dataset of nobody's whose header,
    s.hdr, is a file of root's (say, one root keeps there). The earlier
    output's list is taken only from a file of the run's own user, and only
    files of the run's own user are removed. (Fails on the code before:
    root's s.hdr was removed as a stale sidecar.)"""
    _need("ENVI")
    base = pathlib.Path(tempfile.mkdtemp(prefix="bw_stale_", dir="/tmp"))  # reachable by nobody
    try:
        _overwrite_over_nobodys_envi(base, run_batchwarp)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _overwrite_over_nobodys_envi(base, run_batchwarp):
    os.chmod(base, 0o755)
    src = make_raster(base / "s.tif")
    os.chmod(src, 0o644)
    out = base / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    # nobody writes an ENVI dataset under the output's name (s.tif and s.hdr)...
    staged = base / "nobody"
    staged.mkdir()
    os.chmod(staged, 0o777)
    as_nobody("gdal_translate", "-q", "-of", "ENVI", str(src), str(staged / "s.tif"))
    as_nobody("mv", str(staged / "s.tif"), str(out / "s.tif"))
    # ...whose header is root's own file.
    os.rename(staged / "s.hdr", out / "s.hdr")
    os.chown(out / "s.hdr", 0, 0)
    header = (out / "s.hdr").read_bytes()
    assert gdal.Info(str(out / "s.tif"), format="json")["driverShortName"] == "ENVI", "the premise"
    res = run_batchwarp([*WARP, "-q", "-overwrite", src, "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert (out / "s.hdr").read_bytes() == header
    assert os.stat(out / "s.tif").st_uid == 0
