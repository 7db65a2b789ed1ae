"""The seed's own script, as written: a spawn multiprocessing.Pool whose
initializer sets GDAL up (exceptions, one thread, no directory scans, no VSI
cache), and pool.map() over every file with its default chunking; each task
opens the source, warps it with gdal.Warp, closes both datasets by dropping
them and logs one line to stdout, as the seed does. A peer in bench/.

    py_pool_map.py PROCESSES OUTDIR LISTFILE -- GDALWARP OPTIONS...

The gdalwarp options are passed as they are (the bench's workload defines
them), where the seed spells the same ones as gdal.Warp keywords.
"""
import logging
import os
import sys
from multiprocessing import Pool, set_start_method

from osgeo import gdal

logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s [%(levelname)s] %(processName)s: %(message)s",
    handlers=[logging.StreamHandler(sys.stdout)],
)


def init_gdal_worker():
    gdal.UseExceptions()
    os.environ["GDAL_NUM_THREADS"] = "1"
    os.environ["CPL_NUM_THREADS"] = "1"
    os.environ["GDAL_DISABLE_READDIR_ON_OPEN"] = "YES"
    os.environ["VSI_CACHE"] = "FALSE"
    if "GDAL_DATA" not in os.environ:
        os.environ["GDAL_DATA"] = "/usr/share/gdal"


def reproject_raster(task):
    src_path, dst_path, options = task
    try:
        src_ds = gdal.Open(str(src_path))
        if src_ds is None:
            raise RuntimeError(f"gdal.Open returned None for {src_path}")
        dst_ds = gdal.Warp(str(dst_path), src_ds, options=options)
        if dst_ds is None:
            raise RuntimeError(f"gdal.Warp produced no output for {src_path}")
        dst_ds = None
        src_ds = None
        logging.info("OK %s", os.path.basename(dst_path))
        return {"src": str(src_path), "ok": True, "error": None}
    except Exception as exc:  # the seed's pattern: report, do not raise
        logging.error("FAIL %s: %s", src_path, exc)
        return {"src": str(src_path), "ok": False, "error": str(exc)}


def main():
    processes, outdir, listfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    options = sys.argv[sys.argv.index("--") + 1 :]
    with open(listfile, encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f if line.strip()]
    tasks = [(s, os.path.join(outdir, os.path.basename(s)), options) for s in sources]
    logging.info("Submitting %d tasks to %d workers", len(tasks), processes)
    with Pool(processes=processes, initializer=init_gdal_worker) as pool:
        results = pool.map(reproject_raster, tasks)
    ok = sum(1 for r in results if r["ok"])
    logging.info("Completed %d/%d successfully.", ok, len(tasks))
    sys.exit(0 if ok == len(tasks) else 1)


if __name__ == "__main__":
    set_start_method("spawn", force=True)
    main()
