#!/usr/bin/env python3
"""What the `gdal raster batch-warp` plugin costs every GDAL program: the
cost of GDALAllRegister() with the plugin on GDAL_DRIVER_PATH, against an
empty GDAL_DRIVER_PATH and against an empty C plugin with the same entry
points (GDAL >= 3.11, e.g. in the sid chroot of autotest/matrix).

1. Instructions executed inside GDALAllRegister(), counted by
   `valgrind --tool=callgrind --toggle-collect=GDALAllRegister`: the same
   whatever else loads the machine, so small differences can be told apart
   (a hardware counter, `perf stat -e instructions`, is not available in the
   virtual machines this project runs on). Each configuration is counted
   --callgrind-runs times; the spread is given.
2. The dynamic loader's own count of symbol relocations (LD_DEBUG=statistics).
3. Wall and CPU time, in fresh processes, rounds in random order (--runs; 0
   skips it): on a loaded machine these drift by more than the plugin costs.

    bench/plugin_load_cost.py PLUGIN_DIR [--old-plugin-dir DIR] [--runs N]
                              [--callgrind-runs N] [--out FILE.md]

--old-plugin-dir adds another build of the plugin (e.g. an older commit's) to
the instruction counts.
"""
import argparse
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# What the loader looks up in gdal_BatchWarp.so, and nothing else: the least
# any plugin of that name can cost.
EMPTY_PLUGIN_C = """
void GDALRegister_BatchWarp(void);
void GDALRegisterMe(void);
void GDALRegister_BatchWarp(void) {}
void GDALRegisterMe(void) {}
"""


def gdal_flags():
    return [f for opt in ("--cflags", "--libs")
            for f in subprocess.run(["gdal-config", opt], capture_output=True, text=True,
                                    check=True).stdout.split()]


def build(tmpdir):
    exe = os.path.join(tmpdir, "gdal_allregister_time")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "gdal_allregister_time.c"), *gdal_flags()],
                   check=True)
    empty_plugin_dir = os.path.join(tmpdir, "empty_c_plugin")
    os.mkdir(empty_plugin_dir)
    src = os.path.join(tmpdir, "empty_plugin.c")
    with open(src, "w") as f:
        f.write(EMPTY_PLUGIN_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", os.path.join(empty_plugin_dir, "gdal_BatchWarp.so"),
                    src], check=True)
    return exe, empty_plugin_dir


def once(exe, driver_path):
    env = {**os.environ, "GDAL_DRIVER_PATH": driver_path}
    res = subprocess.run([exe], capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0 or res.stderr:
        sys.exit(f"GDALAllRegister() with GDAL_DRIVER_PATH={driver_path} logged: {res.stderr!r}")
    wall, cpu, _ = res.stdout.split()
    return float(wall), float(cpu)


def instructions(exe, driver_path, tmpdir):
    out = os.path.join(tmpdir, "callgrind.out")
    env = {**os.environ, "GDAL_DRIVER_PATH": driver_path}
    res = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=GDALAllRegister",
                          f"--callgrind-out-file={out}", exe], capture_output=True, text=True, env=env,
                         check=False)
    m = re.search(r"Collected : (\d+)", res.stderr)
    if res.returncode != 0 or not m:
        sys.exit(f"callgrind with GDAL_DRIVER_PATH={driver_path} failed: {res.stderr[-2000:]}")
    os.unlink(out)
    return int(m.group(1))


def relocations(exe, driver_path):
    env = {**os.environ, "GDAL_DRIVER_PATH": driver_path, "LD_DEBUG": "statistics"}
    res = subprocess.run([exe], capture_output=True, text=True, env=env, check=False)
    m = re.findall(r"final number of relocations: (\d+)", res.stderr)
    return int(m[-1]) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plugin_dir")
    ap.add_argument("--old-plugin-dir")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--callgrind-runs", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    gdal_version = subprocess.run(["gdal-config", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [f"# GDALAllRegister() with and without the batch-warp plugin (GDAL {gdal_version})", ""]
    with tempfile.TemporaryDirectory() as tmp:
        exe, empty_plugin = build(tmp)
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        configs = [("no plugin (empty directory)", empty), ("empty C plugin", empty_plugin),
                   ("batch-warp plugin", args.plugin_dir)]
        if args.old_plugin_dir:
            configs.append(("batch-warp plugin, other build", args.old_plugin_dir))

        if args.callgrind_runs > 0 and shutil.which("valgrind"):
            counts = {label: sorted(instructions(exe, path, tmp) for _ in range(args.callgrind_runs))
                      for label, path in configs}
            relocs = {label: relocations(exe, path) for label, path in configs}
            base = statistics.median(counts[configs[0][0]])
            empty_added = statistics.median(counts["empty C plugin"]) - base
            lines += [
                f"Instructions executed in GDALAllRegister() (callgrind, median of {args.callgrind_runs}; "
                f"`bench/plugin_load_cost.py {shlex.quote(args.plugin_dir)}`):",
                "",
                "| GDAL_DRIVER_PATH | instructions | spread | / no plugin | added | added / empty C plugin's "
                "| symbol relocations |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            for label, _ in configs:
                c = counts[label]
                med = statistics.median(c)
                added = med - base
                vs_empty = "1 (ref)" if label == "empty C plugin" else (
                    "-" if label == configs[0][0] else f"{added / empty_added:.2f}")
                lines.append(f"| {label} | {med:,.0f} | {c[-1] - c[0]:,} | {med / base:.4f} | {added:+,.0f} | "
                             f"{vs_empty} | {relocs[label] if relocs[label] is not None else '-'} |")
            lines.append("")
        elif args.callgrind_runs > 0:
            lines += ["valgrind is not installed: no instruction counts.", ""]

        if args.runs > 0:
            for _, path in configs:
                once(exe, path)  # warm the page cache
            times = {label: [] for label, _ in configs}  # (wall, cpu) pairs
            rng = random.Random(1)
            for _ in range(args.runs):
                # Each round in a random order: a loaded machine drifts.
                order = configs[:]
                rng.shuffle(order)
                for label, path in order:
                    times[label].append(once(exe, path))
            lines += [
                f"Time of GDALAllRegister(): {args.runs} fresh processes each, in rounds of random order. CPU",
                "time is the process's own (CLOCK_PROCESS_CPUTIME_ID), which other load disturbs less.",
                "",
                "| GDAL_DRIVER_PATH | wall median ms | wall min ms | CPU median ms | CPU min ms | CPU / no plugin |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            c0 = statistics.median(c for _, c in times[configs[0][0]])
            for label, _ in configs:
                wall = [w for w, _ in times[label]]
                cpu = [c for _, c in times[label]]
                lines.append(f"| {label} | {statistics.median(wall) * 1e3:.2f} | {min(wall) * 1e3:.2f} | "
                             f"{statistics.median(cpu) * 1e3:.2f} | {min(cpu) * 1e3:.2f} | "
                             f"{statistics.median(cpu) / c0:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
