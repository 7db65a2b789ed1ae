"""The usual Python way to batch gdalwarp: a multiprocessing pool of spawned
workers, each calling gdal.Warp on one file at a time. A peer in bench/.

    py_spawn_pool.py PROCESSES OUTDIR LISTFILE -- GDALWARP OPTIONS...
"""
import multiprocessing
import os
import sys


def _init():
    # Imported in each worker, as scripts in the wild do.
    global gdal
    from osgeo import gdal as _gdal

    _gdal.UseExceptions()
    gdal = _gdal


def _warp(job):
    src, dst, options = job
    gdal.Warp(dst, src, options=options)
    return dst


def main():
    processes, outdir, listfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    options = sys.argv[sys.argv.index("--") + 1 :]
    with open(listfile, encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f if line.strip()]
    jobs = [(s, os.path.join(outdir, os.path.basename(s)), options) for s in sources]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=processes, initializer=_init) as pool:
        for _ in pool.imap_unordered(_warp, jobs, chunksize=1):
            pass


if __name__ == "__main__":
    main()
