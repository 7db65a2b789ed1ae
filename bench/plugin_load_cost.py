#!/usr/bin/env python3
"""What the `gdal raster batch-warp` plugin costs every GDAL program: the time
of GDALAllRegister() with the plugin on GDAL_DRIVER_PATH against an empty
GDAL_DRIVER_PATH, measured alternately in fresh processes (GDAL >= 3.11,
e.g. in the sid chroot of autotest/matrix).

    bench/plugin_load_cost.py PLUGIN_DIR [--runs N] [--out FILE.md]
"""
import argparse
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def build(tmpdir):
    exe = os.path.join(tmpdir, "gdal_allregister_time")
    flags = [f for opt in ("--cflags", "--libs")
             for f in subprocess.run(["gdal-config", opt], capture_output=True, text=True,
                                     check=True).stdout.split()]
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "gdal_allregister_time.c"), *flags],
                   check=True)
    return exe


def once(exe, driver_path):
    env = {**os.environ, "GDAL_DRIVER_PATH": driver_path}
    res = subprocess.run([exe], capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0 or res.stderr:
        sys.exit(f"GDALAllRegister() with GDAL_DRIVER_PATH={driver_path} logged: {res.stderr!r}")
    wall, cpu, _ = res.stdout.split()
    return float(wall), float(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plugin_dir")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(tmp)
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        once(exe, empty), once(exe, args.plugin_dir)  # warm the page cache
        without, with_plugin = [], []  # (wall, cpu) pairs
        rng = random.Random(1)
        for _ in range(args.runs):
            # Each pair in a random order: a loaded machine drifts.
            pair = [(without, empty), (with_plugin, args.plugin_dir)]
            rng.shuffle(pair)
            for sink, path in pair:
                sink.append(once(exe, path))
    gdal_version = subprocess.run(["gdal-config", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"# GDALAllRegister() with and without the batch-warp plugin (GDAL {gdal_version})",
        "",
        f"{args.runs} fresh processes each, in pairs of random order; "
        f"`bench/plugin_load_cost.py {shlex.quote(args.plugin_dir)}`. CPU time is the",
        "process's own (CLOCK_PROCESS_CPUTIME_ID), which other load on the machine disturbs less.",
        "",
        "| GDAL_DRIVER_PATH | wall median ms | wall min ms | CPU median ms | CPU min ms |",
        "|---|---|---|---|---|",
    ]
    medians = {}
    for label, runs in (("empty directory", without), ("the plugin's directory", with_plugin)):
        wall = [w for w, _ in runs]
        cpu = [c for _, c in runs]
        medians[label] = (statistics.median(wall), statistics.median(cpu))
        lines.append(f"| {label} | {medians[label][0] * 1e3:.2f} | {min(wall) * 1e3:.2f} | "
                     f"{medians[label][1] * 1e3:.2f} | {min(cpu) * 1e3:.2f} |")
    (w0, c0), (w1, c1) = medians["empty directory"], medians["the plugin's directory"]
    lines += ["", f"Ratio of medians, with / without the plugin: wall {w1 / w0:.3f} ({(w1 - w0) * 1e3:+.2f} ms), "
              f"CPU {c1 / c0:.3f} ({(c1 - c0) * 1e3:+.2f} ms)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
