"""Drives libgdalbatchwarp from Python through ctypes: options from a list of
strings, a progress callback and a callback per finished file, the batch's
status. Needs only the library (not GDAL's Python bindings).

    python3 batchwarp_ctypes.py [--lib PATH] OUTDIR SRC... [-- OPTION...]

OPTIONs are gdalwarp's and gdal_batchwarp's own (default: -t_srs EPSG:3857).
One line per finished file is printed on stdout; the exit status is the
batch's (0 all done, 1 a file failed, 2 usage error).

The library is found with --lib, $GDAL_BATCHWARP_LIB, or the system's loader
(libgdalbatchwarp.so.0 once installed). A build tree's library works too,
e.g. --lib build/plugin/libgdalbatchwarp.so: it finds its worker beside it.
"""
import argparse
import ctypes
import os
import sys

GDAL_BATCHWARP_OK, GDAL_BATCHWARP_FAILED, GDAL_BATCHWARP_USAGE_ERROR = 0, 1, 2


class GDALBatchWarpResult(ctypes.Structure):
    """struct GDALBatchWarpResult of gdal_batchwarp.h, field for field."""

    _fields_ = [
        ("pszSource", ctypes.c_char_p),
        ("pszOutput", ctypes.c_char_p),
        ("bOk", ctypes.c_int),
        ("bSkipped", ctypes.c_int),
        ("pszError", ctypes.c_char_p),
        ("dfSeconds", ctypes.c_double),
        ("nWorkerPid", ctypes.c_int),
        ("nAttempts", ctypes.c_int),
        ("nThreads", ctypes.c_int),
        ("pszShard", ctypes.c_char_p),
        ("papszMessages", ctypes.POINTER(ctypes.c_char_p)),  # NULL-terminated, or NULL
    ]


# void (*GDALBatchWarpResultFunc)(const GDALBatchWarpResult *, void *)
RESULT_FUNC = ctypes.CFUNCTYPE(None, ctypes.POINTER(GDALBatchWarpResult), ctypes.c_void_p)
# int (*GDALProgressFunc)(double, const char *, void *): FALSE cancels
PROGRESS_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p)


def load(path=None):
    """Loads libgdalbatchwarp and declares the prototypes used here."""
    lib = ctypes.CDLL(path or os.environ.get("GDAL_BATCHWARP_LIB") or "libgdalbatchwarp.so.0")
    lib.GDALBatchWarpOptionsNew.restype = ctypes.c_void_p
    lib.GDALBatchWarpOptionsNew.argtypes = [ctypes.POINTER(ctypes.c_char_p),
                                            ctypes.POINTER(ctypes.c_int)]
    lib.GDALBatchWarpOptionsFree.restype = None
    lib.GDALBatchWarpOptionsFree.argtypes = [ctypes.c_void_p]
    lib.GDALBatchWarpOptionsSetProgress.restype = None
    lib.GDALBatchWarpOptionsSetProgress.argtypes = [ctypes.c_void_p, PROGRESS_FUNC, ctypes.c_void_p]
    lib.GDALBatchWarpOptionsSetResultCallback.restype = None
    lib.GDALBatchWarpOptionsSetResultCallback.argtypes = [ctypes.c_void_p, RESULT_FUNC,
                                                          ctypes.c_void_p]
    lib.GDALBatchWarp.restype = ctypes.c_int
    lib.GDALBatchWarp.argtypes = [ctypes.c_void_p]
    lib.GDALBatchWarpGetVersion.restype = ctypes.c_char_p
    lib.GDALBatchWarpGetVersion.argtypes = []
    return lib


def loaded_path(name="libgdalbatchwarp"):
    """The file the library was loaded from (Linux: /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(path).startswith(name + ".so"):
                    return path
    except OSError:
        pass
    return None


def _text(value):
    return value.decode("utf-8", "replace") if value is not None else None


def run_batch(lib, args, on_result, on_progress=None):
    """Runs a batch with the command-line words `args` (as for gdal_batchwarp,
    without the program name). on_result(dict) is called once per finished
    source; on_progress(fraction) returns False to cancel. Returns the
    batch's status (0 ok, 1 a file failed, 2 usage error)."""
    argv = (ctypes.c_char_p * (len(args) + 1))(*[os.fsencode(a) for a in args], None)
    usage_error = ctypes.c_int(0)
    options = lib.GDALBatchWarpOptionsNew(argv, ctypes.byref(usage_error))
    if not options:
        return GDAL_BATCHWARP_USAGE_ERROR  # GDAL printed why (CPLError)

    # The callbacks must stay referenced until GDALBatchWarp() returns.
    @RESULT_FUNC
    def result_callback(result, _user):
        r = result.contents
        on_result({
            "source": _text(r.pszSource), "output": _text(r.pszOutput), "ok": bool(r.bOk),
            "skipped": bool(r.bSkipped), "error": _text(r.pszError), "seconds": r.dfSeconds,
            "worker_pid": r.nWorkerPid, "attempts": r.nAttempts, "threads": r.nThreads,
            "shard": _text(r.pszShard),
        })

    @PROGRESS_FUNC
    def progress_callback(complete, _message, _user):
        return 1 if on_progress is None or on_progress(complete) is not False else 0

    try:
        lib.GDALBatchWarpOptionsSetResultCallback(options, result_callback, None)
        lib.GDALBatchWarpOptionsSetProgress(options, progress_callback, None)
        return lib.GDALBatchWarp(options)
    finally:
        lib.GDALBatchWarpOptionsFree(options)


def main():
    argv = sys.argv[1:]
    options = []
    if "--" in argv:
        options = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", help="path of libgdalbatchwarp (default: $GDAL_BATCHWARP_LIB, "
                                  "then the loader's libgdalbatchwarp.so.0)")
    ap.add_argument("outdir")
    ap.add_argument("sources", nargs="+")
    args = ap.parse_args(argv)

    try:
        lib = load(args.lib)
    except OSError as e:
        print(f"cannot load libgdalbatchwarp ({e}): install it, or give --lib PATH or "
              "GDAL_BATCHWARP_LIB", file=sys.stderr)
        return GDAL_BATCHWARP_FAILED
    print(f"libgdalbatchwarp {lib.GDALBatchWarpGetVersion().decode()} from {loaded_path()}",
          file=sys.stderr)

    def on_result(r):
        state = "FAILED" if not r["ok"] else "kept" if r["skipped"] else "ok"
        error = f": {r['error']}" if r["error"] else ""
        print(f"{state} {r['source']} -> {r['output']} ({r['seconds']:.3f} s, "
              f"worker {r['worker_pid']}){error}", flush=True)

    def on_progress(complete):
        print(f"\rprogress {complete * 100:3.0f}%", end="", file=sys.stderr, flush=True)
        return True

    words = [*(options or ["-t_srs", "EPSG:3857"]), "-outdir", args.outdir, "--", *args.sources]
    status = run_batch(lib, words, on_result, on_progress)
    print(f"\nstatus {status}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
