"""gdal_batchwarp against the usual ways of batching gdalwarp, side by side.

Each repetition runs every tool on every workload, in an order that rotates
between repetitions, each into a fresh output directory; gdal_batchwarp and
the peers it is close to run in more repetitions (see CLOSE_PEERS). The table
reports medians, and ratios taken within a repetition. Run through bench/run,
which builds the program and installs the peers (GNU parallel, matplotlib).
"""
import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

HERE = os.path.dirname(os.path.abspath(__file__))
WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear", "-co", "COMPRESS=LZW", "-co", "TILED=YES"]
# (a) as issue 15 item 8 tried it, as a new user would: gdalwarp's usual
# error threshold spelled out, and BigTIFF outputs.
WARP_OF = {"a": WARP + ["-et", "0.125", "-co", "BIGTIFF=YES"]}
# BENCH_SKIP=parallel,xargs,sequential_multi leaves those tools out (one
# process per file: minutes per repetition), e.g. to compare two builds of
# gdal_batchwarp with its close peers only.
SKIP = [t for t in os.environ.get("BENCH_SKIP", "").split(",") if t]
NCPU = os.cpu_count() or 1
TOOLS = ["gdal_batchwarp", "parallel", "xargs", "python_spawn_pool", "sequential_multi", "python_pool_map"]
# The seed's script as written (pool.map, default chunking): a peer of (a) only.
ONLY_IN_A = ["python_pool_map"]
# gdal_batchwarp -j 1 with a report: the task times of the in-process limit.
LIMIT_TOOL = "gdal_batchwarp_j1"
# The same limit measured: one in-process gdal.Warp loop per core, side by
# side, start-up excluded (py_inprocess_loops.py).
LOOPS_TOOL = "inprocess_loops"


###############################################################################
# Data


def write_raster(path, size, lon, lat, seed, pixel=None):
    """A Float32 EPSG:4326 raster with a smooth, varied pattern."""
    pixel = pixel or 0.1 / 256
    ds = gdal.GetDriverByName("GTiff").Create(path, size, size, 1, gdal.GDT_Float32, ["TILED=YES"])
    ds.SetGeoTransform([lon, pixel, 0, lat, 0, -pixel])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetSpatialRef(srs)
    band = ds.GetRasterBand(1)
    step = 1024
    for y0 in range(0, size, step):
        rows = min(step, size - y0)
        y, x = np.mgrid[y0 : y0 + rows, 0:size].astype(np.float32)
        band.WriteArray((np.sin(x * 0.013 + seed) * np.cos(y * 0.017 - seed) * 1000 + x * 0.01).astype(np.float32),
                        0, y0)
    ds = None


def tiles(directory, count, size, prefix="tile"):
    os.makedirs(directory, exist_ok=True)
    per_row = int(math.ceil(math.sqrt(count)))
    deg = 0.1 * size / 256
    paths = []
    for i in range(count):
        path = os.path.join(directory, f"{prefix}_{i:05d}.tif")
        if not os.path.exists(path):
            write_raster(path, size, 2.0 + (i % per_row) * deg, 49.0 - (i // per_row) * deg, i,
                         pixel=deg / size)
        paths.append(path)
    return paths


def make_workloads(data, quick, only):
    """name -> (description, directory, sources)."""
    spec = {
        "a": ("400 tiles 256x256", 400 if not quick else 60),
        "b": ("200 tiles, then 3 scenes (2048², 2048², 6500²) sorted last", 200 if not quick else 30),
        "c": ("one large scene 10980x10980 (a Sentinel-2 tile)", 1),
        "d": ("5000 tiny tiles 8x8", 5000 if not quick else 500),
    }
    out = {}
    for name, (what, count) in spec.items():
        if name not in only:
            continue
        directory = os.path.join(data, f"{name}{'_quick' if quick else ''}")
        stamp = os.path.join(directory, ".complete")
        if name == "a":
            sources = tiles(directory, count, 256)
        elif name == "b":
            sources = tiles(directory, count, 256)
            # Scenes of different sizes, as in a real archive; the largest
            # sorts last, where a name-ordered pool starts it last and alone.
            sizes = [2048, 2048, 6500] if not quick else [512, 512, 1600]
            for k, big in enumerate(sizes):
                path = os.path.join(directory, f"zz_scene_{k}.tif")
                if not os.path.exists(path):
                    write_raster(path, big, 5.0 + k, 47.0, 100 + k, pixel=0.5 / 2048)
                sources.append(path)
        elif name == "c":
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, "scene.tif")
            size = 10980 if not quick else 2048
            if not os.path.exists(path):
                write_raster(path, size, 2.0, 49.0, 7, pixel=1.0 / size)
            sources = [path]
        else:
            sources = tiles(directory, count, 8, prefix="tiny")
        open(stamp, "w").close()
        out[name] = (f"({name}) {what}" if not quick else f"({name}) {what}, quick: {len(sources)} files",
                     directory, sorted(sources))
    return out


###############################################################################
# Measuring


def _children(pid):
    """Children of pid, from /proc/PID/task/*/children (cheap: no scan of all
    of /proc, so the sampling does not steal the tools' CPU)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def tree_rss(pid):
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        todo.extend(_children(p))
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
    return total


def measure(argv, stdin_data=None, env=None):
    """Runs argv; returns (wall s, CPU s of the whole tree, peak tree RSS bytes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate(stdin_data.encode() if stdin_data else None)
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak[0]


def command(tool, batchwarp, sources, outdir, listfile, jobs=NCPU, report=None, warp=None):
    """argv and stdin of one tool warping `sources` into `outdir` with the gdalwarp options `warp`."""
    os.makedirs(outdir, exist_ok=True)
    warp = warp or WARP
    gdalwarp = ["gdalwarp", "-q", "-overwrite", *warp]
    if tool == "gdal_batchwarp":
        argv = [batchwarp, *warp, "-q", "-j", str(jobs), "-input_file_list", listfile, "-outdir", outdir]
        if report:
            argv += ["-report", report]
        return argv, None
    if tool == "parallel":
        return ["parallel", "--will-cite", "-j", str(jobs), *gdalwarp, "{}", f"{outdir}/{{/}}",
                "::::", listfile], None
    if tool == "xargs":
        script = f'exec gdalwarp -q -overwrite {" ".join(warp)} "$1" "{outdir}/$(basename "$1")"'
        return ["xargs", "-P", str(jobs), "-n", "1", "-a", listfile, "sh", "-c", script, "sh"], None
    if tool == "python_spawn_pool":
        return [sys.executable, os.path.join(HERE, "py_spawn_pool.py"), str(jobs), outdir, listfile, "--",
                *warp], None
    if tool == "python_pool_map":
        return [sys.executable, os.path.join(HERE, "py_pool_map.py"), str(jobs), outdir, listfile, "--",
                *warp], None
    if tool == LOOPS_TOOL:
        return [sys.executable, os.path.join(HERE, "py_inprocess_loops.py"), str(jobs), outdir, listfile,
                report, "--", *warp], None
    if tool == "sequential_multi":
        script = (f'while IFS= read -r f; do gdalwarp -q -overwrite {" ".join(warp)} -multi '
                  f'-wo NUM_THREADS=ALL_CPUS -co NUM_THREADS=ALL_CPUS "$f" "{outdir}/$(basename "$f")" || exit 1; '
                  f"done < {listfile}")
        return ["sh", "-c", script], None
    raise ValueError(tool)


###############################################################################
# Identity


def same_raster(a, b):
    da, db = gdal.Open(a), gdal.Open(b)
    if (da.RasterXSize, da.RasterYSize, da.RasterCount) != (db.RasterXSize, db.RasterYSize, db.RasterCount):
        return "size"
    if any(abs(x - y) > 1e-9 for x, y in zip(da.GetGeoTransform(), db.GetGeoTransform())):
        return "geotransform"
    if not da.GetSpatialRef().IsSame(db.GetSpatialRef()):
        return "CRS"
    for i in range(1, da.RasterCount + 1):
        ba, bb = da.GetRasterBand(i), db.GetRasterBand(i)
        if ba.GetNoDataValue() != bb.GetNoDataValue():
            return "nodata"
        if ba.ReadRaster() != bb.ReadRaster():
            return f"band {i} pixels"
    return None


def check_identical(reference_dir, other_dir, sources):
    for s in sources:
        name = os.path.basename(s)
        a, b = os.path.join(reference_dir, name), os.path.join(other_dir, name)
        if not os.path.exists(b):
            return f"{b} missing"
        why = same_raster(a, b)
        if why:
            return f"{name}: {why} differ"
    return None


###############################################################################
# Reporting


def fmt_ratio(x):
    return f"{x:.2f}x" if x is not None else "-"


def write_results(results, checks, outdir, meta):
    os.makedirs(outdir, exist_ok=True)
    lines = [f"Machine: {meta['cpus']} CPUs, GDAL {meta['gdal']}. Wall and CPU time: medians over the runs; "
             f"peak RSS: the largest. Ratio: the median, over the repetitions that ran both, of the peer's wall "
             f"time / gdal_batchwarp's in the same repetition (above 1: gdal_batchwarp is faster)."
             + (f" Load average (1 min) after each run: {meta['load_1min'][0]:.1f} to {meta['load_1min'][1]:.1f}"
                f" on {meta['cpus']} CPUs." if meta.get("load_1min") else ""), ""]
    lines.append("| workload | tool | runs | wall (s) | CPU (s) | peak RSS (MB) | ratio | requests/source |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for wl, tools in results.items():
        for tool, r in tools.items():
            ratio = "1.00x (ref)" if tool == "gdal_batchwarp" else fmt_ratio(r["ratio"])
            rq = f"{r['requests_per_source']:.1f}" if "requests_per_source" in r else "-"
            lines.append(f"| {wl} | {tool} | {r['runs']} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                         f"{r['rss'] / 2**20:.0f} | {ratio} | {rq} |")
    lines.append("")
    lines.append("| check | value | target | result |")
    lines.append("| --- | --- | --- | --- |")
    for c in checks:
        lines.append(f"| {c['what']} | {c['value']} | {c['target']} | {'PASS' if c['ok'] else 'FAIL'} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(outdir, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "results": results, "checks": checks}, f, indent=1)
    return text


def draw_chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(results)
    tools = [t for t in TOOLS if any(t in results[w] for w in workloads)]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(tools)
    for k, tool in enumerate(tools):
        xs = [i + k * width for i, w in enumerate(workloads) if tool in results[w]]
        ys = [results[w][tool]["wall"] for w in workloads if tool in results[w]]
        ax.bar(xs, ys, width, label=tool)
    ax.set_xticks([i + width * (len(tools) - 1) / 2 for i in range(len(workloads))])
    ax.set_xticklabels([w.split(")")[0] + ")" for w in workloads])
    ax.set_yscale("log")
    ax.set_ylabel("wall time (s, log scale), lower is better")
    ax.set_title(f"gdal_batchwarp vs the usual ways, {NCPU} cores, GDAL {gdal.__version__}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


###############################################################################


# On a shared virtual machine the speed of one and the same run drifts by
# 20% within a minute, so three runs cannot resolve the 10% a target asks
# about. Where a peer is that close, it and gdal_batchwarp run more often,
# and each ratio is taken between runs of the same repetition (run one after
# the other), then the median of those is reported.
CLOSE_PEERS = {
    "a": ["python_spawn_pool", "python_pool_map", LIMIT_TOOL, LOOPS_TOOL],
    "b": ["python_spawn_pool"],
    "c": ["sequential_multi"],
    "d": ["python_spawn_pool"],
}


def runs_of(name, tool, reps, close_reps):
    close = CLOSE_PEERS.get(name, [])
    return close_reps if close and (tool == "gdal_batchwarp" or tool in close) else reps


def task_seconds(report):
    with open(report, encoding="utf-8") as f:
        return sum(json.loads(line)["seconds"] for line in f)


def limit_seconds(tool, report):
    """The seconds a limit tool reports: the tasks' total for LIMIT_TOOL,
    the loops' wall for LOOPS_TOOL."""
    if tool == LOOPS_TOOL:
        with open(report, encoding="utf-8") as f:
            return json.load(f)["loop_seconds"]
    return task_seconds(report)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batchwarp", required=True)
    ap.add_argument("--quick", action="store_true", help="small workloads, 1 repetition (a smoke test)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of every tool (default 3)")
    ap.add_argument("--close-reps", type=int, default=None,
                    help="repetitions of gdal_batchwarp and the peers it is close to (default 3 x --reps)")
    ap.add_argument("--workloads", "--only", dest="workloads", default="a,b,c,d,e,f",
                    help="comma-separated workloads to run, e.g. --only e (default: all)")
    ap.add_argument("--data", default=os.environ.get("BENCH_DATA", os.path.join(HERE, "data")))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", os.path.join(HERE, "work")))
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    close_reps = max(args.close_reps or 3 * reps, reps)
    results_dir = args.results if not args.quick else os.path.join(args.work, "quick-results")

    print(f"generating data in {args.data} ...", flush=True)
    workloads = make_workloads(args.data, args.quick, args.workloads.split(","))
    tools_for = {name: [t for t in TOOLS if (name == "a" or t not in ONLY_IN_A) and t not in SKIP]
                 for name in workloads}
    # 5000 files at ~40 ms of start-up each: one process per file takes
    # minutes per repetition; overhead is measured on gdal_batchwarp and
    # the Python pool.
    if "d" in tools_for:
        tools_for["d"] = ["gdal_batchwarp", "python_spawn_pool"]
    # The in-process limit of (a), measured in every repetition next to the
    # runs it is compared with.
    if "a" in tools_for:
        tools_for["a"] += [LIMIT_TOOL, LOOPS_TOOL]

    # samples[name][tool][rep] = (wall, CPU, peak RSS, task seconds or None)
    loads = []  # the 1-minute load average after each run
    samples = {name: {t: {} for t in tools_for[name]} for name in workloads}
    identity_failures = []
    for rep in range(close_reps):
        for name, (what, directory, sources) in workloads.items():
            listfile = os.path.join(args.work, f"{name}.list")
            os.makedirs(args.work, exist_ok=True)
            with open(listfile, "w", encoding="utf-8") as f:
                f.write("\n".join(sources) + "\n")
            tools = [t for t in tools_for[name] if rep < runs_of(name, t, reps, close_reps)]
            if not tools:
                continue
            order = tools[rep % len(tools):] + tools[: rep % len(tools)]
            outdirs = {}
            for tool in order:
                outdir = os.path.join(args.work, "out", name, tool)
                shutil.rmtree(outdir, ignore_errors=True)
                report = None
                if tool == LIMIT_TOOL:
                    report = os.path.join(args.work, f"{name}_j1.jsonl")
                    argv, stdin_data = command("gdal_batchwarp", args.batchwarp, sources, outdir, listfile,
                                               jobs=1, report=report, warp=WARP_OF.get(name, WARP))
                elif tool == LOOPS_TOOL:
                    report = os.path.join(args.work, f"{name}_loops.json")
                    argv, stdin_data = command(tool, args.batchwarp, sources, outdir, listfile, report=report,
                                               warp=WARP_OF.get(name, WARP))
                else:
                    argv, stdin_data = command(tool, args.batchwarp, sources, outdir, listfile,
                                               warp=WARP_OF.get(name, WARP))
                # The previous run's outputs must not be written back to
                # disk during this one.
                os.sync()
                wall, cpu, rss = measure(argv, stdin_data)
                samples[name][tool][rep] = (wall, cpu, rss, limit_seconds(tool, report) if report else None)
                outdirs[tool] = outdir
                # What else ran on the machine meanwhile: figures taken under
                # load say little about the tools.
                loads.append(os.getloadavg()[0])
                print(f"rep {rep + 1}/{runs_of(name, tool, reps, close_reps)} {what:<45} {tool:<18} "
                      f"wall {wall:7.2f} s  CPU {cpu:7.2f} s  peak {rss / 2**20:6.0f} MB  load {loads[-1]:4.1f}",
                      flush=True)
            if rep == 0:
                for tool, outdir in outdirs.items():
                    if tool != "gdal_batchwarp":
                        why = check_identical(outdirs["gdal_batchwarp"], outdir, sources)
                        if why:
                            identity_failures.append(f"{what}: {tool}: {why}")
                print(f"   outputs of {', '.join(t for t in outdirs if t != 'gdal_batchwarp')} "
                      f"{'identical to' if not identity_failures else 'CHECKED against'} gdal_batchwarp's",
                      flush=True)

    results = {}
    for name, per_tool in samples.items():
        what = workloads[name][0]
        ours = per_tool.get("gdal_batchwarp", {})
        results[what] = {}
        for tool, runs in per_tool.items():
            if tool in (LIMIT_TOOL, LOOPS_TOOL) or not runs:
                continue
            paired = [runs[r][0] / ours[r][0] for r in runs if r in ours]
            results[what][tool] = {
                "wall": statistics.median(v[0] for v in runs.values()),
                "cpu": statistics.median(v[1] for v in runs.values()),
                "rss": max(v[2] for v in runs.values()),
                "runs": len(runs),
                "ratio": statistics.median(paired) if paired and tool != "gdal_batchwarp" else None,
            }

    checks = targets(args, workloads, results, samples)
    meta = {"cpus": NCPU, "gdal": gdal.__version__, "reps": reps, "close_reps": close_reps,
            "quick": args.quick, "warp_options": WARP,
            "warp_options_of": WARP_OF, "skipped_tools": SKIP,
            "load_1min": [min(loads), max(loads)] if loads else None}
    # (e) and (f): on the S3 test server (bench/bench_s3.py).
    selected = args.workloads.split(",")
    if "e" in selected or "f" in selected:
        import bench_s3

        if "e" in selected:
            what, res_e, checks_e, ident_e = bench_s3.run_e(args, reps, args.quick, write_raster, measure,
                                                            check_identical, WARP)
            results[what] = res_e
            checks += checks_e
            identity_failures += ident_e
        if "f" in selected:
            what, res_f, checks_f = bench_s3.run_f(args, args.quick, write_raster, WARP)
            meta["scale"] = {what: res_f}
            checks += checks_f
    table = write_results(results, checks, results_dir, meta)
    try:
        if results:  # none with --only f: scale figures, no wall times to chart
            draw_chart(results, os.path.join(results_dir, "chart.png"))
    except ImportError as e:
        print(f"no chart: {e}", file=sys.stderr)
    print()
    print(table)
    print(f"written to {results_dir}/results.md, results.json, chart.png")
    if identity_failures:
        print("OUTPUTS DIFFER:\n  " + "\n  ".join(identity_failures), file=sys.stderr)
        return 1
    if args.strict and not all(c["ok"] for c in checks):
        return 1
    return 0


def targets(args, workloads, results, samples):
    """The issue's targets, each with its measured value."""
    checks = []

    def ratio(wl, peer):
        return results.get(wl, {}).get(peer, {}).get("ratio")

    def add(what, value, target, ok):
        checks.append({"what": what, "value": value, "target": target, "ok": bool(ok)})

    names = {k: v[0] for k, v in workloads.items()}
    if "a" in names:
        wl = names["a"]
        if "parallel" not in SKIP:
            add("(a) vs GNU parallel", fmt_ratio(ratio(wl, "parallel")), ">= 5x", (ratio(wl, "parallel") or 0) >= 5)
        add("(a) vs Python spawn pool", fmt_ratio(ratio(wl, "python_spawn_pool")), ">= 1.1x",
            (ratio(wl, "python_spawn_pool") or 0) >= 1.1)
        add("(a) vs the seed's script (pool.map)", fmt_ratio(ratio(wl, "python_pool_map")), ">= 1.15x",
            (ratio(wl, "python_pool_map") or 0) >= 1.15)
        # The in-process limit: the tasks' own time in one worker (-j 1),
        # over the cores, taken in the same repetition as the wall time.
        ours, limit = samples["a"]["gdal_batchwarp"], samples["a"][LIMIT_TOOL]
        per_rep = sorted((ours[r][0] / (limit[r][3] / NCPU), ours[r][0], limit[r][3] / NCPU)
                         for r in ours if r in limit)
        mid = per_rep[len(per_rep) // 2]
        add(f"(a) wall / in-process limit (one worker's task times / {NCPU} cores, same repetition; median)",
            f"{mid[1]:.2f} s / {mid[2]:.2f} s = {mid[0]:.2f}", "<= 1.08", mid[0] <= 1.08)
        # The same limit measured, tasks side by side (not in the issue's
        # targets: it shows how much of the gap above is the cores', which
        # run two tasks at once slower than one alone).
        loops = samples["a"].get(LOOPS_TOOL, {})
        per_rep = sorted((ours[r][0] / loops[r][3], ours[r][0], loops[r][3], limit[r][3] / NCPU)
                         for r in ours if r in loops and r in limit)
        if per_rep:
            mid = per_rep[len(per_rep) // 2]
            add(f"(a) wall / {NCPU} in-process gdal.Warp loops side by side, start-up excluded (same repetition; "
                f"median); the loops' own time / the limit above: {mid[2] / mid[3]:.2f}",
                f"{mid[1]:.2f} s / {mid[2]:.2f} s = {mid[0]:.2f}", "-", True)
    if "b" in names:
        wl = names["b"]
        for peer in ("parallel", "python_spawn_pool"):
            add(f"(b) vs {peer}", fmt_ratio(ratio(wl, peer)), ">= 1.3x", (ratio(wl, peer) or 0) >= 1.3)
    if "c" in names:
        wl = names["c"]
        add("(c) vs sequential gdalwarp -multi ALL_CPUS", fmt_ratio(ratio(wl, "sequential_multi")), ">= 0.95x",
            (ratio(wl, "sequential_multi") or 0) >= 0.95)
    if "d" in names:
        report = os.path.join(args.work, "d_j1.jsonl")
        listfile = os.path.join(args.work, "d.list")
        outdir = os.path.join(args.work, "out", "d", "j1")
        shutil.rmtree(outdir, ignore_errors=True)
        argv, _ = command("gdal_batchwarp", args.batchwarp, workloads["d"][2], outdir, listfile, jobs=1,
                          report=report)
        wall, _, _ = measure(argv)
        n = len(workloads["d"][2])
        per_task_ms = (wall - task_seconds(report)) / n * 1000
        add("(d) pool overhead per task, -j 1: (wall - sum of task times) / tasks",
            f"{per_task_ms:.3f} ms", "< 1 ms", per_task_ms < 1)
    return checks


if __name__ == "__main__":
    sys.exit(main())
