"""Drives libgdalbatchwarp from Python through ctypes: options from a list of
strings, a callback per finished file, the batch's status.

    python3 batchwarp_ctypes.py [--lib PATH] OUTDIR SRC... [-- GDALWARP OPTIONS]

The library is found with --lib, $GDAL_BATCHWARP_LIB, or the system's loader
(libgdalbatchwarp.so.0 once installed).
"""
import argparse
import ctypes
import os
import sys


class GDALBatchWarpResult(ctypes.Structure):
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
    ]


RESULT_FUNC = ctypes.CFUNCTYPE(None, ctypes.POINTER(GDALBatchWarpResult), ctypes.c_void_p)


def load(path=None):
    lib = ctypes.CDLL(path or os.environ.get("GDAL_BATCHWARP_LIB") or "libgdalbatchwarp.so.0")
    lib.GDALBatchWarpOptionsNew.restype = ctypes.c_void_p
    lib.GDALBatchWarpOptionsNew.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_int)]
    lib.GDALBatchWarpOptionsFree.argtypes = [ctypes.c_void_p]
    lib.GDALBatchWarpOptionsSetResultCallback.argtypes = [ctypes.c_void_p, RESULT_FUNC, ctypes.c_void_p]
    lib.GDALBatchWarp.restype = ctypes.c_int
    lib.GDALBatchWarp.argtypes = [ctypes.c_void_p]
    lib.GDALBatchWarpGetVersion.restype = ctypes.c_char_p
    return lib


def run_batch(lib, args, on_result):
    """Runs a batch with the command-line words `args`; returns its status
    (0 ok, 1 a file failed, 2 usage error)."""
    argv = (ctypes.c_char_p * (len(args) + 1))(*[a.encode() for a in args], None)
    usage_error = ctypes.c_int(0)
    options = lib.GDALBatchWarpOptionsNew(argv, ctypes.byref(usage_error))
    if not options:
        return 2

    @RESULT_FUNC
    def callback(result, _user):
        r = result.contents
        on_result(r.pszSource.decode(), r.pszOutput.decode(), bool(r.bOk),
                  r.pszError.decode() if r.pszError else None)

    lib.GDALBatchWarpOptionsSetResultCallback(options, callback, None)
    try:
        return lib.GDALBatchWarp(options)
    finally:
        lib.GDALBatchWarpOptionsFree(options)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("outdir")
    ap.add_argument("sources", nargs="+")
    argv = sys.argv[1:]
    warp = []
    if "--" in argv:
        warp = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = ap.parse_args(argv)
    lib = load(args.lib)
    print(f"libgdalbatchwarp {lib.GDALBatchWarpGetVersion().decode()}", file=sys.stderr)

    def on_result(source, output, ok, error):
        print(f"{'ok' if ok else 'FAILED'} {source} -> {output}{': ' + error if error else ''}")

    return run_batch(lib, [*(warp or ["-t_srs", "EPSG:3857"]), "-q", *args.sources, "-outdir", args.outdir],
                     on_result)


if __name__ == "__main__":
    sys.exit(main())
