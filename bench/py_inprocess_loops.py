"""The in-process limit of a pool, measured rather than computed: one spawned
process per core, each with GDAL imported and set up before the clock
starts, then all released at once to call gdal.Warp on their share of the
files (every N-th, in list order). Prints and writes the seconds from the
release to the last process's end: what a pool would take if starting
processes, handing out work and collecting results cost nothing, with the
tasks running side by side on the same cores (which no single-process
measure shows: two tasks at once each run slower on a shared core).

    py_inprocess_loops.py PROCESSES OUTDIR LISTFILE RESULT_JSON -- GDALWARP OPTIONS...
"""
import json
import multiprocessing
import os
import sys
import time


def _loop(barrier, queue, jobs, options):
    from osgeo import gdal

    gdal.UseExceptions()
    barrier.wait()
    start = time.monotonic()  # CLOCK_MONOTONIC: one clock for all processes
    for src, dst in jobs:
        gdal.Warp(dst, src, options=options)
    queue.put((start, time.monotonic()))


def main():
    processes, outdir, listfile, result = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    options = sys.argv[sys.argv.index("--") + 1 :]
    with open(listfile, encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f if line.strip()]
    jobs = [(s, os.path.join(outdir, os.path.basename(s))) for s in sources]
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_loop, args=(barrier, queue, jobs[k::processes], options))
             for k in range(processes)]
    for p in procs:
        p.start()
    spans = [queue.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"a loop failed ({p.exitcode})")
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    with open(result, "w", encoding="utf-8") as f:
        json.dump({"loop_seconds": seconds, "processes": processes}, f)
    print(f"{seconds:.3f}")


if __name__ == "__main__":
    main()
