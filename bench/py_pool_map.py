"""The seed's own script, as written: a spawn multiprocessing.Pool whose
initializer sets GDAL up (exceptions, one thread, no directory scans, no VSI
cache), and pool.map() over every file with its default chunking; each task
opens the source, warps it with gdal.Warp and closes both datasets by
dropping them. A peer in bench/.

    py_pool_map.py PROCESSES OUTDIR LISTFILE -- GDALWARP OPTIONS...

The gdalwarp options are passed as they are (the bench's workload defines
them), where the seed spells the same ones as gdal.Warp keywords.
"""
import os
import sys
from multiprocessing import Pool, set_start_method

from osgeo import gdal


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
        return {"src": str(src_path), "ok": True, "error": None}
    except Exception as exc:  # the seed's pattern: report, do not raise
        return {"src": str(src_path), "ok": False, "error": str(exc)}


def main():
    processes, outdir, listfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    options = sys.argv[sys.argv.index("--") + 1 :]
    with open(listfile, encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f if line.strip()]
    tasks = [(s, os.path.join(outdir, os.path.basename(s)), options) for s in sources]
    with Pool(processes=processes, initializer=init_gdal_worker) as pool:
        results = pool.map(reproject_raster, tasks)
    failed = [r for r in results if not r["ok"]]
    for r in failed:
        print(f"FAIL {r['src']}: {r['error']}", file=sys.stderr)
    sys.exit(0 if not failed else 1)


if __name__ == "__main__":
    set_start_method("spawn", force=True)
    main()
