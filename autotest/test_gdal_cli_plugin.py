"""`gdal raster batch-warp`: the gdal_batchwarp engine as a plugin of GDAL
>= 3.11 (the `gdal` program and gdal.Run in Python), loaded from
GDAL_DRIVER_PATH. It loads without a word in every host program, takes every
argument of `gdal raster reproject` of the running GDAL, and its outputs are
identical to reproject's, gdalwarp's and the standalone program's."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from osgeo import gdal

from conftest import (REPO_ROOT, all_files, assert_same_raster, file_bytes, make_small_rasters, read_report,
                      sanitized_build)

WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture(scope="module")
def plugin_dir(batchwarp_bin):
    if sanitized_build(batchwarp_bin):
        pytest.skip("ASan build: its plugin loads into the uninstrumented gdal and python only with LD_PRELOAD")
    if int(gdal.VersionInfo("VERSION_NUM")) < 3110000:
        pytest.skip(f"GDAL {gdal.__version__} < 3.11: no `gdal` CLI algorithms, the plugin is not built")
    if shutil.which("gdal") is None:
        pytest.skip("the `gdal` program is not installed")
    directory = os.environ.get("GDAL_BATCHWARP_GDAL_PLUGIN_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(batchwarp_bin)), "plugin", "gdal_algorithm")
    plugin = os.path.join(directory, "gdal_BatchWarp.so")
    # GDAL is new enough: the build must have made the plugin.
    assert os.path.exists(plugin), f"{plugin} was not built with GDAL {gdal.__version__}"
    return directory


@pytest.fixture(scope="module")
def gdal_cli(plugin_dir):
    """Environment that loads the plugin into every GDAL program."""
    return {**os.environ, "GDAL_DRIVER_PATH": plugin_dir}


def run(argv, env, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=300, **kw)


def run_python(code, env):
    return run([sys.executable, "-c", textwrap.dedent(code)], env)


# -- 1. Loading cleanly ------------------------------------------------------

def test_plugin_is_loaded(gdal_cli):
    res = run(["gdal", "raster", "--help"], gdal_cli)
    assert "batch-warp" in res.stdout + res.stderr


def test_python_with_exceptions_loads_cleanly(gdal_cli):
    # Fails with a plugin that only exports GDALRegisterMe: GDAL's loader
    # first looks up GDALRegister_BatchWarp, and the failed lookup raises.
    res = run_python("""
        from osgeo import gdal
        gdal.UseExceptions()
        gdal.AllRegister()
        assert gdal.GetLastErrorType() == gdal.CE_None, gdal.GetLastErrorMsg()
        print(gdal.GetDriverCount())
    """, gdal_cli)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


@pytest.mark.parametrize("argv", [["gdalinfo", "--formats"], ["gdal", "--version"]], ids=["gdalinfo", "gdal"])
def test_gdal_programs_log_nothing(gdal_cli, argv):
    res = run(argv, {**gdal_cli, "CPL_DEBUG": "OFF"})
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_c_program_calling_gdalallregister_logs_nothing(gdal_cli, tmp_path):
    if shutil.which("cc") is None or shutil.which("gdal-config") is None:
        pytest.skip("no C compiler or gdal-config")
    exe = tmp_path / "allregister"
    flags = [f for opt in ("--cflags", "--libs") for f in run(["gdal-config", opt], os.environ).stdout.split()]
    subprocess.run(["cc", "-o", exe, os.path.join(REPO_ROOT, "bench", "gdal_allregister_time.c"), *flags],
                   check=True)
    # The program fails when GDALAllRegister() left an error behind.
    res = run([exe], gdal_cli)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def needed_libraries(path):
    res = run(["readelf", "-d", path], os.environ)
    assert res.returncode == 0, res.stderr
    return [line.split("[", 1)[1].rstrip("]") for line in res.stdout.splitlines() if "(NEEDED)" in line]


def test_registration_loads_only_the_small_entry_object(gdal_cli, plugin_dir):
    """What GDALAllRegister() maps for batch-warp: the entry object alone,
    depending on the C library only. A plugin linked to libgdal (as the first
    one was) makes the dynamic loader walk libgdal's whole dependency tree
    again at every GDALAllRegister(): ~50% more instructions on GDAL 3.13
    (bench/plugin_load_cost.py). The algorithm and libgdalbatchwarp are
    mapped when batch-warp is instantiated and when a batch runs."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is not installed")
    res = run_python("""
        import json
        def mapped():
            with open("/proc/self/maps") as f:
                return sorted({line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6
                               and line.split(None, 5)[5].startswith("/")})
        out = {"before": mapped()}
        from osgeo import gdal  # which calls GDALAllRegister()
        gdal.UseExceptions()
        gdal.AllRegister()
        out["registered"] = mapped()
        raster = gdal.GetGlobalAlgorithmRegistry().InstantiateAlg("raster")
        # GDAL instantiates each declared sub-algorithm to list them.
        out["names"] = raster.GetSubAlgorithmNames()
        alg = raster.InstantiateSubAlgorithm("batch-warp")
        out["instantiated"] = mapped()
        out["has_output_crs"] = alg.GetArg("output-crs") is not None
        print(json.dumps(out))
    """, gdal_cli)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    out = json.loads(res.stdout)
    assert "batch-warp" in out["names"]
    entry = os.path.realpath(os.path.join(plugin_dir, "gdal_BatchWarp.so"))
    added = [p for p in out["registered"] if p not in out["before"]]
    assert entry in [os.path.realpath(p) for p in added], added
    assert not [p for p in out["registered"] if "libgdalbatchwarp" in os.path.basename(p)], added
    for path in added:
        if "batchwarp" in path.lower():
            needed = needed_libraries(path)
            assert needed == ["libc.so.6"], f"{path} needs {needed}: GDALAllRegister() pays for their trees"
    # Instantiating batch-warp (`gdal raster --help` does) maps the algorithm,
    # from beside libgdalbatchwarp, not from the plugin directory.
    algorithm = [p for p in out["instantiated"] if os.path.basename(p) == "libgdalbatchwarp_algorithm.so"]
    assert len(algorithm) == 1, out["instantiated"]
    assert os.path.dirname(algorithm[0]) != os.path.realpath(plugin_dir)
    assert out["has_output_crs"]


# -- 2. Arguments of `gdal raster reproject` ---------------------------------

def json_usage(alg, env):
    res = run(["gdal", "raster", alg, "--json-usage"], env)
    assert res.returncode == 0, res.stderr
    usage = json.loads(res.stdout)
    return {a["name"]: a for key in ("input_arguments", "output_arguments", "input_output_arguments")
            for a in usage.get(key, [])}


# Reproject's single output is the batch's --output-dir.
NOT_IN_BATCH = {"output"}


def test_every_reproject_argument_is_accepted(gdal_cli):
    reproject = json_usage("reproject", gdal_cli)
    batch = json_usage("batch-warp", gdal_cli)
    assert "output-crs" in reproject or "dst-crs" in reproject
    for name, arg in reproject.items():
        if name in NOT_IN_BATCH:
            continue
        assert name in batch, f"--{name} of `gdal raster reproject` missing from batch-warp"
        for key in ("type", "choices", "default", "metavar", "mutual_exclusion_group", "min_value", "max_value"):
            assert batch[name].get(key) == arg.get(key), (name, key)
    assert batch["input"]["type"] == reproject["input"]["type"]
    for name in ("output-dir", "num-workers", "recursive", "report", "retries", "timeout", "memory-budget",
                 "shard"):
        assert name in batch, name


def test_short_names_and_aliases_are_reprojects(gdal_cli):
    # --json-usage does not list short names and aliases: the Python API does.
    res = run_python("""
        import json
        from osgeo import gdal
        gdal.UseExceptions()
        raster = gdal.GetGlobalAlgorithmRegistry().InstantiateAlg("raster")
        out = {}
        for name in ("reproject", "batch-warp"):
            alg = raster.InstantiateSubAlgorithm(name)
            args = {}
            for n in alg.GetArgNames():
                a = alg.GetArg(n)
                args[n] = [a.GetShortName(), sorted(a.GetAliases() or []), a.GetType()]
            hidden = {}
            for c in ("t_srs", "s_srs", "dst-crs", "src-crs", "tap", "bbox_srs", "src-nodata", "dst-nodata",
                      "of", "f", "co", "oo", "if", "wo", "to", "et", "j", "r", "s", "d"):
                try:
                    a = alg.GetArg(c)
                except RuntimeError:
                    a = None
                hidden[c] = a.GetName() if a else None
            out[name] = {"args": args, "hidden": hidden}
        print(json.dumps(out))
    """, gdal_cli)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    reproject, batch = out["reproject"], out["batch-warp"]
    for name, (short, aliases, typ) in reproject["args"].items():
        if name in NOT_IN_BATCH:
            continue
        assert name in batch["args"], name
        if name == "input":
            assert batch["args"][name][2] == typ
            continue
        assert batch["args"][name] == [short, aliases, typ], name
    for spelling, target in reproject["hidden"].items():
        if target is not None and target not in NOT_IN_BATCH:
            assert batch["hidden"][spelling] == target, spelling
    # -j is reproject's threads; workers are -w / --num-workers.
    assert batch["hidden"]["j"] == "num-threads"
    assert batch["args"]["num-workers"][0] in ("w", "")


def test_old_spelling_fails_clearly(tmp_path, gdal_cli):
    make_small_rasters(tmp_path / "in", 1)
    res = run(["gdal", "raster", "batch-warp", "--output-crs", "EPSG:3857", "--no-such-arg", "1",
               tmp_path / "in", tmp_path / "out"], gdal_cli)
    assert res.returncode != 0
    assert "no-such-arg" in res.stderr


# Each: reproject's arguments, and whether to compare bytes (else values,
# georeferencing and metadata).
CASES = [
    ["--output-crs", "EPSG:3857", "-r", "bilinear"],
    ["--dst-crs", "EPSG:4326", "--resolution", "0.0005,0.0005", "--output-nodata", "0",
     "--co", "COMPRESS=DEFLATE", "--co", "TILED=YES"],
    ["-d", "EPSG:3857", "--size", "20,24", "--add-alpha", "-j", "2", "-r", "cubic"],
    ["--output-crs", "EPSG:32631", "--resolution", "50,50", "--target-aligned-pixels", "--wo", "SAMPLE_GRID=YES",
     "--et", "0", "--input-nodata", "7"],
    ["--output-crs", "EPSG:4326", "--bbox", "1.05,49.75,1.25,49.95", "--bbox-crs", "EPSG:4326",
     "--of", "GTiff", "--overwrite"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c[:2]) for c in CASES])
def test_outputs_identical_to_reproject(tmp_path, gdal_cli, args):
    sources = make_small_rasters(tmp_path / "in", 3, size=32)
    res = run(["gdal", "raster", "batch-warp", *args, "--num-workers", "2", tmp_path / "in", tmp_path / "batch"],
              gdal_cli)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all_files(tmp_path / "batch") == [os.path.basename(s) for s in sources]
    for s in sources:
        name = os.path.basename(s)
        ref = tmp_path / f"ref_{name}"
        res = run(["gdal", "raster", "reproject", *args, s, ref], gdal_cli)
        assert res.returncode == 0, res.stderr
        assert_same_raster(tmp_path / "batch" / name, ref)
        assert file_bytes(tmp_path / "batch" / name) == file_bytes(ref), name


def test_like_matches_reproject(tmp_path, gdal_cli):
    sources = make_small_rasters(tmp_path / "in", 2, size=32)
    template = tmp_path / "template.tif"
    assert run(["gdal", "raster", "reproject", "--output-crs", "EPSG:3857", "--size", "17,19", sources[0],
                template], gdal_cli).returncode == 0
    res = run(["gdal", "raster", "batch-warp", "--like", template, tmp_path / "in", tmp_path / "batch"], gdal_cli)
    assert res.returncode == 0, res.stderr
    for s in sources:
        ref = tmp_path / f"ref_{os.path.basename(s)}"
        res = run(["gdal", "raster", "reproject", "--like", template, s, ref], gdal_cli)
        assert res.returncode == 0, res.stderr
        assert_same_raster(tmp_path / "batch" / os.path.basename(s), ref)


def test_outputs_identical_to_gdalwarp_and_the_program(tmp_path, gdal_cli, run_batchwarp, run_gdalwarp):
    sources = make_small_rasters(tmp_path / "in", 5, size=32)
    report = tmp_path / "report.jsonl"
    res = run(["gdal", "raster", "batch-warp", "--output-crs", "EPSG:3857", "-r", "bilinear", "-w", "2",
               "--report", report, tmp_path / "in", tmp_path / "via_gdal"], gdal_cli)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(read_report(report)) == 5

    res = run_batchwarp([*WARP, "-q", tmp_path / "in", "-outdir", tmp_path / "via_program"])
    assert res.returncode == 0, res.stderr
    assert all_files(tmp_path / "via_gdal") == all_files(tmp_path / "via_program") == [
        os.path.basename(s) for s in sources]
    for s in sources:
        name = os.path.basename(s)
        ref = tmp_path / f"ref_{name}"
        run_gdalwarp(WARP, s, ref)
        assert_same_raster(tmp_path / "via_gdal" / name, ref)
        assert_same_raster(tmp_path / "via_program" / name, ref)


def test_failure_is_reported_with_a_summary(tmp_path, gdal_cli):
    make_small_rasters(tmp_path / "in", 1)
    (tmp_path / "in" / "bad.tif").write_text("not a raster")
    res = run(["gdal", "raster", "batch-warp", "--output-crs", "EPSG:3857", tmp_path / "in", tmp_path / "out"],
              gdal_cli)
    assert res.returncode != 0
    assert "bad.tif" in res.stderr
    assert "2 sources: 1 ok, 0 skipped, 1 failed" in res.stderr
    assert "1 x " in res.stderr
    assert all_files(tmp_path / "out") == ["t0000.tif"]
    res = run(["gdal", "raster", "batch-warp", "-q", "--output-crs", "EPSG:3857", tmp_path / "in",
               tmp_path / "out"], gdal_cli)
    assert res.returncode != 0
    assert "Batch summary" not in res.stderr


def test_warnings_of_tasks_are_reported_once_each(tmp_path, gdal_cli):
    """What GDAL warns of while a file is warped (a creation option the
    driver does not know: --co COMPRES=LZW leaves outputs uncompressed) was
    reported by neither `gdal raster batch-warp` nor gdal.Run, as reproject
    reports it for one file. Each text is now reported once, naming its
    source, then counted."""
    make_small_rasters(tmp_path / "in", 3)
    res = run(["gdal", "raster", "batch-warp", "-q", "--output-crs", "EPSG:3857", "--co", "NOT_AN_OPTION=1",
               tmp_path / "in", tmp_path / "out"], gdal_cli)
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "does not support creation option NOT_AN_OPTION" in line]
    assert len(lines) == 1 and "t000" in lines[0], res.stderr
    assert "2 more errors or warnings of a text reported above" in res.stderr, res.stderr


def test_print_outputs_with_null_ends_each_path_with_nul(tmp_path, gdal_cli):
    """--print-outputs prints one path a line: an output whose name has a
    newline is refused, and --null (the program's -null) ends each path
    with a NUL byte instead, for xargs -0. The plugin had no --null: such
    a batch could not print its outputs at all."""
    make_small_rasters(tmp_path / "in", 1)
    os.rename(tmp_path / "in" / "t0000.tif", tmp_path / "in" / "a\nb.tif")
    make_small_rasters(tmp_path / "in", 1)
    argv = ["gdal", "raster", "batch-warp", "-q", "--output-crs", "EPSG:3857", "--print-outputs"]
    res = run([*argv, tmp_path / "in", tmp_path / "out"], gdal_cli)
    assert res.returncode != 0 and "--null" in res.stderr, res.stderr
    res = subprocess.run([str(a) for a in [*argv, "--null", tmp_path / "in", tmp_path / "out"]],
                         capture_output=True, env=gdal_cli, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(b"\0"), res.stdout
    printed = res.stdout[:-1].split(b"\0")
    assert sorted(printed) == sorted(os.fsencode(tmp_path / "out" / n) for n in ("a\nb.tif", "t0000.tif"))


# -- 3. Python, through GDAL -------------------------------------------------

def test_gdal_run_from_python(tmp_path, gdal_cli):
    make_small_rasters(tmp_path / "in", 4, size=32)
    (tmp_path / "in" / "bad.tif").write_text("not a raster")
    res = run_python(f"""
        import json, os
        from osgeo import gdal
        gdal.UseExceptions()
        good = sorted(os.path.join({str(tmp_path / "in")!r}, n) for n in os.listdir({str(tmp_path / "in")!r})
                      if n != "bad.tif")
        seen = []
        def progress(pct, msg, data):
            seen.append(pct)
            return True
        gdal.Run("raster", "batch-warp", input=good, output_dir={str(tmp_path / "ok")!r},
                 output_crs="EPSG:3857", num_workers=2, progress=progress)
        out = {{"ok_progress": seen[:], "ok_files": sorted(os.listdir({str(tmp_path / "ok")!r}))}}
        seen.clear()
        try:
            gdal.Run("raster", "batch-warp", input=[{str(tmp_path / "in")!r}],
                     output_dir={str(tmp_path / "mixed")!r}, output_crs="EPSG:3857", quiet=True,
                     progress=progress)
            out["error"] = None
        except RuntimeError as e:
            out["error"] = str(e)
        out["mixed_progress"] = seen
        out["mixed_files"] = sorted(os.listdir({str(tmp_path / "mixed")!r}))
        print(json.dumps(out))
    """, gdal_cli)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["ok_files"] == ["t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    prog = out["ok_progress"]
    assert prog[0] == 0.0 and prog[-1] == 1.0 and prog == sorted(prog)
    assert len(set(prog)) >= 5  # 0, then once per finished file
    # A failed file: an exception that names it, and the others done.
    assert out["error"] is not None and "bad.tif" in out["error"], out["error"]
    assert "not recognized" in out["error"]
    assert out["mixed_files"] == ["t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    assert out["mixed_progress"][-1] == 1.0
