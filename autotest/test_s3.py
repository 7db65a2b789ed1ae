"""Batches on a real S3 endpoint: s3rver on 127.0.0.1 behind the project's
fault-injecting proxy (autotest/s3_server.py). Sources listed from and
outputs written to /vsis3/, resume, -retry_failed, sharding, throttling,
dropped connections and truncated bodies, and the number of requests each
source costs."""
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid

import pytest
from osgeo import gdal

from conftest import all_files, assert_same_raster, make_raster, make_small_rasters, read_report, sanitized_build

WARP = ["-t_srs", "EPSG:3857"]
BUCKET = "bucket"
# What a listing's error says of each fault: the store's answer, or GDAL's
# parser on a reply cut short (its wording changed by GDAL 3.13).
LISTING_FAILURE_REASON = {"slowdown": "SlowDown", "drop": "no reply",
                          "truncate": "Parse error|doesn't have matching"}


@pytest.fixture(scope="module")
def s3():
    s3_server = pytest.importorskip("s3_server")
    try:
        server = s3_server.S3Server([BUCKET])
    except s3_server.S3rverUnavailable as e:
        if os.environ.get("BATCHWARP_REQUIRE_S3"):  # set by scripts/test: CI must run these
            raise
        pytest.skip(f"no S3 test server: {e}")
    yield server
    server.stop()


@pytest.fixture
def prefix(s3):
    """A fresh key prefix per test; the proxy's counts and faults reset."""
    s3.proxy.clear_faults()
    s3.proxy.reset_counts()
    return f"t{uuid.uuid4().hex[:12]}"


class S3Env:
    def __init__(self, server):
        self.server = server

    def __enter__(self):
        for k, v in self.server.env.items():
            gdal.SetThreadLocalConfigOption(k, v)
        return self

    def __exit__(self, *exc):
        for k in self.server.env:
            gdal.SetThreadLocalConfigOption(k, None)


def put(s3, local, key):
    """Uploads a local file to s3://bucket/key."""
    with open(local, "rb") as f:
        data = f.read()
    with S3Env(s3):
        f = gdal.VSIFOpenL(f"/vsis3/{BUCKET}/{key}", "wb")
        assert f is not None
        assert gdal.VSIFWriteL(data, 1, len(data), f) == len(data)
        assert gdal.VSIFCloseL(f) == 0


def get(s3, key, local):
    """Downloads s3://bucket/key to a local file."""
    with S3Env(s3):
        f = gdal.VSIFOpenL(f"/vsis3/{BUCKET}/{key}", "rb")
        assert f is not None, key
        gdal.VSIFSeekL(f, 0, 2)
        size = gdal.VSIFTellL(f)
        gdal.VSIFSeekL(f, 0, 0)
        data = gdal.VSIFReadL(1, size, f)
        gdal.VSIFCloseL(f)
    with open(local, "wb") as out:
        out.write(data)
    return local


def keys(s3, prefix):
    return [k[len(prefix) + 1:] for k in s3.keys(BUCKET, prefix + "/")]


def env_for(s3, **extra):
    env = dict(os.environ)
    env.update(s3.env)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def upload_tree(s3, prefix, local_dir):
    """Uploads every file below local_dir to <prefix>/<relative path>."""
    for dirpath, _, files in os.walk(local_dir):
        for f in files:
            path = os.path.join(dirpath, f)
            put(s3, path, f"{prefix}/{os.path.relpath(path, local_dir)}")


def source_requests(s3, key):
    """Requests that concerned one source object: on its key (HEAD, GET)
    or a listing whose prefix starts with the key's stem (GDAL's check
    whether a missing sidecar is a directory)."""
    path = f"/{BUCKET}/{key}"
    stem = path.rsplit(".", 1)[0]
    return sum(1 for method, full, p in s3.proxy.requests
               if p.startswith(stem) or (p == f"/{BUCKET}/" and f"prefix={key.rsplit('.', 1)[0]}" in
                                         full.replace("%2F", "/")))


def object_gets(s3, directory, names):
    """How many GETs the proxy saw on each object <directory>/<name>."""
    return {name: sum(1 for m, _, p in s3.proxy.requests if m == "GET" and p == f"/{BUCKET}/{directory}/{name}")
            for name in names}


###############################################################################
# Sources listed from a prefix


@pytest.mark.parametrize("recursive", [False, True])
def test_sources_listed_from_a_prefix(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp, recursive):
    local = tmp_path / "in"
    make_small_rasters(local, 3)
    make_small_rasters(local / "sub", 2, prefix="s")
    upload_tree(s3, f"{prefix}/in", local)
    out = tmp_path / "out"
    args = [*WARP, "-q", "-j", "2", *(["-recursive"] if recursive else []), f"/vsis3/{BUCKET}/{prefix}/in/",
            "-outdir", out]
    res = run_batchwarp(args, env=env_for(s3))
    assert res.returncode == 0, res.stderr
    expected = ["t0000.tif", "t0001.tif", "t0002.tif"] + (["sub/s0000.tif", "sub/s0001.tif"] if recursive else [])
    got = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert got == sorted(expected)
    for rel in expected:
        ref = tmp_path / ("ref_" + rel.replace("/", "_"))
        run_gdalwarp(WARP, local / rel, ref)
        assert_same_raster(out / rel, ref)


def test_plan_of_a_listed_prefix_asks_only_for_the_listing(tmp_path, s3, prefix, run_batchwarp):
    """-dry_run over a listed prefix: the listing gives names and sizes, so
    no source object is asked for on its own. (Fails on the code before
    issue 15: none here, but a HEAD per source of an explicit list.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 6)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    res = run_batchwarp(["-dry_run", *WARP, f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", tmp_path / "out"],
                        env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 6
    on_objects = [r for r in s3.proxy.requests if r[2].startswith(f"/{BUCKET}/{prefix}/in/t")]
    assert on_objects == []
    # Nor any file name a driver would look for in a dataset directory
    # (hdr.adf...): a plain prefix is no dataset. (Failed before: 4 probes.)
    others = [r for r in s3.proxy.requests if r[2] not in (f"/{BUCKET}/", f"/{BUCKET}/{prefix}/in/",
                                                           f"/{BUCKET}/{prefix}/in")]
    assert others == []
    # The listing once, nothing before it: a prefix named with its slash is
    # listed without a stat (which cost a request on the prefix's name and
    # a listing request of its own: 0.5 s of the plan of 20,000 objects on
    # s3rver). (Failed before: 3 requests.)
    assert [r[2] for r in s3.proxy.requests] == [f"/{BUCKET}/"], s3.proxy.requests


def test_a_listed_prefix_with_no_object_is_a_missing_directory(tmp_path, s3, prefix, run_batchwarp):
    res = run_batchwarp(["-dry_run", *WARP, f"/vsis3/{BUCKET}/{prefix}/nothing/", "-outdir", tmp_path / "out"],
                        env=env_for(s3))
    assert res.returncode != 0
    assert f"Source directory '/vsis3/{BUCKET}/{prefix}/nothing/' does not exist." in res.stderr, res.stderr


def test_plan_of_an_explicit_list_stats_no_source_in_sequence(tmp_path, s3, prefix, run_batchwarp):
    """-dry_run over an explicit list of objects with raster names: none is
    stat'ed one after the other. (Fails on the old code: one HEAD each.)"""
    local = tmp_path / "in"
    sources = make_small_rasters(local, 6)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    names = [f"/vsis3/{BUCKET}/{prefix}/in/{os.path.basename(s)}" for s in sources]
    res = run_batchwarp(["-dry_run", *WARP, *names, "-outdir", tmp_path / "out"], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 6
    on_objects = [r for r in s3.proxy.requests if r[2].startswith(f"/{BUCKET}/{prefix}/in/t")]
    assert on_objects == []


###############################################################################
# Outputs written to /vsis3/ (staged locally, then uploaded)


@pytest.mark.parametrize("driver", ["GTiff", "ENVI"])
def test_outputs_to_s3_are_complete_with_sidecars(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp, driver):
    sources = make_small_rasters(tmp_path / "in", 3)
    staging = tmp_path / "staging"
    staging.mkdir()
    options = [*WARP, "-of", driver]
    res = run_batchwarp([*options, "-q", "-j", "2", "--config", "CPL_TMPDIR", staging, *sources,
                         "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert all_files(staging) == [], "staged files must be gone once uploaded"
    suffix = ".tif" if driver == "GTiff" else ""
    uploaded = keys(s3, f"{prefix}/out")
    for s in sources:
        stem = os.path.splitext(os.path.basename(s))[0]
        ref = tmp_path / f"ref_{stem}{suffix}"
        run_gdalwarp(options, s, ref)
        # The same files as gdalwarp writes (ENVI: .hdr and .aux.xml too).
        ours = sorted(k[len(stem):] for k in uploaded if k.startswith(stem))
        theirs = sorted(n[len(ref.name) - len(suffix):] for n in all_files(tmp_path) if n.startswith(f"ref_{stem}"))
        assert ours == theirs and len(ours) >= (1 if driver == "GTiff" else 2), (ours, theirs)
        got = tmp_path / "got"
        got.mkdir(exist_ok=True)
        for k in uploaded:
            if k.startswith(stem):
                get(s3, f"{prefix}/out/{k}", got / ("ref_" + k))
        assert_same_raster(got / f"ref_{stem}{suffix}", ref)


def test_output_larger_than_a_multipart_chunk(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """A 7 MB output with 5 MB chunks goes up as a multipart upload, whole."""
    src = make_raster(tmp_path / "big.tif", xsize=1300, ysize=1300, seed=3)
    res = run_batchwarp([*WARP, "-q", "--config", "VSIS3_CHUNK_SIZE", "5", src,
                         "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    uploads = [r for r in s3.proxy.requests if r[0] == "POST" and "uploads" in r[1]]
    assert uploads, "the output was not sent as a multipart upload"
    parts = [r for r in s3.proxy.requests if r[0] == "PUT" and "partNumber=" in r[1]]
    assert len(parts) >= 2
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, src, ref)
    assert os.path.getsize(ref) > 5 * 1024 * 1024
    assert_same_raster(get(s3, f"{prefix}/out/big.tif", tmp_path / "got.tif"), ref)


def test_failed_task_leaves_no_object(tmp_path, s3, prefix, run_batchwarp):
    good = make_small_rasters(tmp_path / "in", 1)[0]
    bad = tmp_path / "in" / "bad.tif"
    bad.write_text("no raster")
    staging = tmp_path / "staging"
    staging.mkdir()
    res = run_batchwarp([*WARP, "-q", "--config", "CPL_TMPDIR", staging, good, bad,
                         "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"], env=env_for(s3))
    assert res.returncode == 1
    assert all_files(staging) == []
    assert keys(s3, f"{prefix}/out") == ["t0000.tif"]


def test_an_upload_the_store_refuses_fails_once_with_its_answer(tmp_path, s3, prefix, run_batchwarp):
    """An output the store will not take (403 AccessDenied on its PUT) was
    taken for a request dropped in transit: uploaded 3 times, then failed
    with "a request to the object store failed in transit (...): the reply
    was dropped or cut short" and "Cannot write '...': unknown reason". The
    task now fails at the first refusal, naming the source and what the
    store answered, and leaves no object. (Fails on the old code: 3 PUTs.)"""
    sources = make_small_rasters(tmp_path / "in", 2)
    report = tmp_path / "r.jsonl"
    s3.proxy.add_fault("denied", path=f"/{prefix}/out/t0000\\.tif$", method="PUT", times=10**6)
    res = run_batchwarp([*WARP, "-q", *sources, "-outdir", f"/vsis3/{BUCKET}/{prefix}/out", "-report", report],
                        env=env_for(s3))
    s3.proxy.clear_faults()
    assert res.returncode == 1, res.stderr
    puts = [p for m, _, p in s3.proxy.requests if m == "PUT" and p.endswith(f"/{prefix}/out/t0000.tif")]
    assert len(puts) == 1, puts
    error = {r["source"]: r for r in read_report(report)}[str(sources[0])]["error"]
    assert error.startswith(f"{sources[0]}: the object store refused a request: S3: "), error
    assert "AccessDenied" in error, error
    assert "in transit" not in res.stderr and "unknown reason" not in res.stderr, res.stderr
    assert keys(s3, f"{prefix}/out") == ["t0001.tif"]


###############################################################################
# Resume and -retry_failed against existing objects


def test_resume_skips_existing_objects_and_retry_failed_redoes_failures(tmp_path, s3, prefix, run_batchwarp):
    local = tmp_path / "in"
    make_small_rasters(local, 4)
    (local / "bad.tif").write_text("no raster")
    upload_tree(s3, f"{prefix}/in", local)
    src, out = f"/vsis3/{BUCKET}/{prefix}/in/", f"/vsis3/{BUCKET}/{prefix}/out"
    report = tmp_path / "r1.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report, src, "-outdir", out], env=env_for(s3))
    assert res.returncode == 1
    assert keys(s3, f"{prefix}/out") == ["t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    failed = [r for r in read_report(report) if not r["ok"]]
    assert [os.path.basename(r["source"]) for r in failed] == ["bad.tif"]

    # Resume: every existing output object is skipped, not rewritten.
    s3.proxy.reset_counts()
    report2 = tmp_path / "r2.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-report", report2, src, "-outdir", out], env=env_for(s3))
    assert res.returncode == 1
    records = read_report(report2)
    assert sorted(os.path.basename(r["source"]) for r in records if r.get("skipped")) == \
        ["t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    assert not [r for r in s3.proxy.requests if r[0] == "PUT" and r[2].endswith(".tif")]
    # Whether each output exists comes from one listing of -outdir, not from
    # a request per output (the code before issue 15 stat'ed each).
    assert not [r for r in s3.proxy.requests if r[2].startswith(f"/{BUCKET}/{prefix}/out/t")]

    # The bad object is fixed; -retry_failed redoes it alone.
    put(s3, make_raster(tmp_path / "fixed.tif", seed=9), f"{prefix}/in/bad.tif")
    s3.proxy.reset_counts()
    report3 = tmp_path / "r3.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-report", report3, "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert [os.path.basename(r["source"]) for r in read_report(report3)] == ["bad.tif"]
    assert keys(s3, f"{prefix}/out") == ["bad.tif", "t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    written = {p for m, _, p in s3.proxy.requests if m == "PUT" and p.endswith(".tif")}
    assert written == {f"/{BUCKET}/{prefix}/out/bad.tif"}


@pytest.fixture
def fail_listings_of(s3):
    """fail_listings_of(kind, key_prefix, times): the next `times` listing
    requests for key_prefix (GET /bucket?prefix=<key_prefix>/...) get the
    fault `kind`; the returned dict counts them ("hits")."""
    import urllib.parse

    record = s3.proxy.record
    left = {}

    def faulty(method, full_path, path):
        fault = record(method, full_path, path)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(full_path).query)
        if (fault is None and left.get("n", 0) > 0 and method == "GET" and path.rstrip("/") == f"/{BUCKET}"
                and query.get("prefix", [""])[0].rstrip("/") == left["prefix"]):
            left["n"] -= 1
            left["hits"] += 1
            return s3_server_fault(left["kind"])
        return fault

    def arm(kind, key_prefix, times):
        left.update(kind=kind, prefix=key_prefix, n=times, hits=0)
        return left

    s3.proxy.record = faulty
    yield arm
    s3.proxy.record = record


PAM_XML = """<PAMDataset>
  <Metadata><MDI key="FROM">the earlier output</MDI></Metadata>
</PAMDataset>
"""


def put_earlier_output(s3, tmp_path, directory):
    """An earlier t0000.tif in <directory> with an .ovr and an .aux.xml, and
    an object that is not one of its files."""
    earlier = make_raster(tmp_path / "earlier.tif", seed=9)
    ovr = tmp_path / "earlier.tif.ovr"
    gdal.Translate(str(ovr), str(earlier), options="-of GTiff -outsize 50% 50%")
    pam = tmp_path / "pam.xml"
    pam.write_text(PAM_XML)
    put(s3, earlier, f"{directory}/t0000.tif")
    put(s3, ovr, f"{directory}/t0000.tif.ovr")
    put(s3, pam, f"{directory}/t0000.tif.aux.xml")
    put(s3, pam, f"{directory}/t0000.tif.notes")


@pytest.mark.parametrize("listing", ["read", "fails"])
def test_overwrite_removes_the_earlier_outputs_sidecars_as_gdalwarp_does(tmp_path, s3, prefix, run_batchwarp,
                                                                       run_gdalwarp, fail_listings_of, listing):
    """-overwrite onto /vsis3/ leaves no file of the earlier output for GDAL
    to attach to the new one (its metadata, an .ovr), as gdalwarp -overwrite
    deletes the earlier dataset whole; objects that are not its files stay.
    They are found from a listing of the output directory: if it cannot be
    read, the batch is done all the same and says what it left. (Fails on
    the old code: the .aux.xml and .ovr stayed, and GDAL opened the new
    output with the earlier one's metadata and overviews.)"""
    src = make_small_rasters(tmp_path / "in", 1)[0]
    for directory in ("ours", "oracle"):
        put_earlier_output(s3, tmp_path, f"{prefix}/{directory}")
    env = env_for(s3, GDAL_HTTP_RETRY_DELAY=0.01)
    if listing == "fails":
        fail_listings_of("slowdown", f"{prefix}/ours", 100)
    res = run_batchwarp([*WARP, "-q", "-overwrite", src, "-outdir", f"/vsis3/{BUCKET}/{prefix}/ours"], env=env)
    assert res.returncode == 0, res.stderr
    run_gdalwarp([*WARP, "-overwrite"], src, f"/vsis3/{BUCKET}/{prefix}/oracle/t0000.tif",
                 env=env_for(s3, CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE="YES"))
    assert keys(s3, f"{prefix}/oracle") == ["t0000.tif", "t0000.tif.notes"], "the test's premise"
    if listing == "fails":
        assert f"{prefix}/ours" in res.stderr and "are left as they are" in res.stderr, res.stderr
        assert keys(s3, f"{prefix}/ours") == ["t0000.tif", "t0000.tif.aux.xml", "t0000.tif.notes",
                                              "t0000.tif.ovr"]
        return
    assert keys(s3, f"{prefix}/ours") == keys(s3, f"{prefix}/oracle")
    with S3Env(s3):
        ds = gdal.Open(f"/vsis3/{BUCKET}/{prefix}/ours/t0000.tif")
        assert ds.GetMetadataItem("FROM") is None
        assert ds.GetRasterBand(1).GetOverviewCount() == 0
        ds = None


def test_overwrite_of_a_dataset_of_several_files_never_leaves_the_earlier_main_file_with_new_sidecars(
        tmp_path, s3, prefix, batchwarp_bin, run_batchwarp):
    """-overwrite of an ENVI output (raw data and .hdr) on /vsis3/, the run
    killed between the upload of the new .hdr and that of the new main file:
    the earlier raw data stood beside the new header (a 16x16 dataset read
    as 40x40), and a rerun without -overwrite kept that mix as done. As on a
    local disk (08b28f6), the output is now missing until its new main file
    is in place, and a rerun writes it whole. The killed run also left a
    directory object of its temporary namespace on the store."""
    from fault_util import require_fault_hooks, wait_for_gate
    require_fault_hooks(batchwarp_bin)
    warp = [*WARP, "-of", "ENVI"]
    (small,) = make_small_rasters(str(tmp_path / "small"), 1, size=16)
    (large,) = make_small_rasters(str(tmp_path / "large"), 1, size=40)
    outdir = f"/vsis3/{BUCKET}/{prefix}/out"
    env = env_for(s3)
    assert run_batchwarp([*warp, "-q", small, "-outdir", outdir], env=env).returncode == 0
    main = os.path.splitext(os.path.basename(small))[0]
    assert {main, main + ".hdr"} <= set(keys(s3, f"{prefix}/out")), "the test's premise"
    earlier_hdr = get(s3, f"{prefix}/out/{main}.hdr", tmp_path / "earlier.hdr").read_bytes()

    gate = str(tmp_path / "gate")
    proc = subprocess.Popen([str(batchwarp_bin), *warp, "-q", "-overwrite", large, "-outdir", outdir],
                            env={**env, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_publish:{main}",
                                 "GDAL_BATCHWARP_TEST_GATE": gate},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        now = keys(s3, f"{prefix}/out")
        gdal.VSICurlClearCache()  # the earlier header was read by this process
        new_hdr = get(s3, f"{prefix}/out/{main}.hdr", tmp_path / "new.hdr").read_bytes()
        assert new_hdr != earlier_hdr, "the test's premise: the new header is in place"
        assert main not in now, f"the earlier main file is found with the new header: {now}"
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)

    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*warp, "-q", "-report", report, large, "-outdir", outdir], env=env)
    assert res.returncode == 0, res.stderr
    (record,) = read_report(report)
    assert record["ok"] and not record["skipped"], record
    ref = tmp_path / "ref"
    ref.mkdir()
    gdal.Warp(str(ref / main), large, options=gdal.WarpOptions(options=warp, warpOptions=["NUM_THREADS=1"]))
    gdal.VSICurlClearCache()
    assert get(s3, f"{prefix}/out/{main}", tmp_path / "got").read_bytes() == (ref / main).read_bytes()
    # Nothing of the killed run is left on the store: it made no directory
    # object there (a temporary directory named in the plan, into which
    # nothing is written, was made and left by a run killed, for good).
    assert not [k for k in keys(s3, f"{prefix}/out") if k.startswith(".batchwarp-tmp-")], keys(s3, prefix)


@pytest.mark.parametrize("driver", ["GTiff", "ENVI"])
def test_an_object_put_at_an_output_during_the_run_is_kept_without_overwrite(tmp_path, s3, prefix, batchwarp_bin,
                                                                            driver):
    """Another writer puts an object at an output's key while the batch
    runs without -overwrite (two tenants of one prefix, a second batch):
    as on a local disk (RENAME_NOREPLACE), the task fails naming it ('appeared
    during the run') and the object is left as that writer put it; the
    worker uploaded over it without a word (exit 0). A name found free says
    nothing either (GDAL's debug message of the 404 is not printed)."""
    from fault_util import require_fault_hooks, wait_for_gate
    require_fault_hooks(batchwarp_bin)
    warp = [*WARP, "-of", driver]
    src, other = make_small_rasters(str(tmp_path / "src"), 2)
    main = os.path.basename(src) if driver == "GTiff" else os.path.splitext(os.path.basename(src))[0]
    outdir = f"/vsis3/{BUCKET}/{prefix}/out"
    res = subprocess.run([str(batchwarp_bin), *warp, "-q", other, "-outdir", outdir], env=env_for(s3),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    theirs = tmp_path / "theirs.bin"
    theirs.write_bytes(b"another writer's object\n")
    gate = str(tmp_path / "gate")
    report = tmp_path / "report.jsonl"
    proc = subprocess.Popen([str(batchwarp_bin), *warp, "-q", "-report", str(report), src, "-outdir", outdir],
                            env={**env_for(s3), "GDAL_BATCHWARP_TEST_FAULTS": f"gate_publish:{main}",
                                 "GDAL_BATCHWARP_TEST_GATE": gate},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        put(s3, theirs, f"{prefix}/out/{main}")
        open(gate, "w").close()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    (record,) = read_report(report)
    assert not record["ok"] and "appeared during the run" in record["error"], record
    assert f"{outdir}/{main}" in record["error"], record
    gdal.VSICurlClearCache()
    assert get(s3, f"{prefix}/out/{main}", tmp_path / "got").read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("kind", ["slowdown", "drop", "truncate"])
def test_resume_reads_the_output_listing_again_or_refuses(tmp_path, s3, prefix, run_batchwarp, fail_listings_of,
                                                          kind):
    """Which outputs exist on a network -outdir comes from one listing of
    it. A request for that listing throttled, dropped or cut short: it is
    read again, and the existing outputs are still skipped. If it keeps
    failing, nothing is done and the error names the output directory and
    what the store answered: no existing output is replaced because its
    listing failed. (Fails on the old code: one failed listing request made
    every output look missing, and all were warped and written again.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 3)
    upload_tree(s3, f"{prefix}/in", local)
    src, out = f"/vsis3/{BUCKET}/{prefix}/in/", f"/vsis3/{BUCKET}/{prefix}/out"
    env = env_for(s3, GDAL_HTTP_RETRY_DELAY=0.01)
    res = run_batchwarp([*WARP, "-q", src, "-outdir", out], env=env)
    assert res.returncode == 0, res.stderr
    names = keys(s3, f"{prefix}/out")
    assert names == ["t0000.tif", "t0001.tif", "t0002.tif"]

    s3.proxy.reset_counts()
    state = fail_listings_of(kind, f"{prefix}/out", 1)
    report = tmp_path / "r.jsonl"
    res = run_batchwarp([*WARP, "-q", "-report", report, src, "-outdir", out], env=env)
    assert state["hits"] == 1
    assert res.returncode == 0, res.stderr
    assert sorted(os.path.basename(r["source"]) for r in read_report(report) if r.get("skipped")) == names
    assert not [r for r in s3.proxy.requests if r[0] == "PUT" and r[2].endswith(".tif")], s3.proxy.requests

    s3.proxy.reset_counts()
    state = fail_listings_of(kind, f"{prefix}/out", 10**6)
    res = run_batchwarp([*WARP, "-q", src, "-outdir", out], env=env)
    assert state["hits"] > 1
    assert res.returncode != 0, res.stderr
    assert f"Cannot list output directory '{out}'" in res.stderr, res.stderr
    assert re.search(LISTING_FAILURE_REASON[kind], res.stderr), res.stderr
    assert not [r for r in s3.proxy.requests if r[0] == "PUT" and r[2].endswith(".tif")], s3.proxy.requests
    assert keys(s3, f"{prefix}/out") == names


###############################################################################
# Sharding over a prefix


def test_shards_over_a_prefix_partition_it(tmp_path, s3, prefix, run_batchwarp):
    local = tmp_path / "in"
    make_small_rasters(local, 7)
    upload_tree(s3, f"{prefix}/in", local)
    shards = []
    for index in range(3):
        report = tmp_path / f"r{index}.jsonl"
        res = run_batchwarp([*WARP, "-q", "-shard", f"{index}/3", "-report", report,
                             f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"],
                            env=env_for(s3, BATCHWARP_SHARD_COUNT="", SLURM_ARRAY_TASK_ID="",
                                        SLURM_ARRAY_TASK_COUNT=""))
        assert res.returncode == 0, res.stderr
        shards.append({os.path.basename(r["source"]) for r in read_report(report)})
    assert sum(len(s) for s in shards) == 7
    assert set().union(*shards) == {f"t{i:04d}.tif" for i in range(7)}
    assert keys(s3, f"{prefix}/out") == [f"t{i:04d}.tif" for i in range(7)]


###############################################################################
# Faults injected by the proxy


@pytest.mark.parametrize("kind", ["slowdown", "drop"])
def test_throttled_and_dropped_requests_are_retried(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp, kind):
    """503 SlowDown replies and connections dropped without a reply, on the
    sources' reads and on the outputs' uploads, are retried: every task
    succeeds. (Fails on the old code: GDAL's default is no retry.)"""
    local = tmp_path / "in"
    sources = make_small_rasters(local, 4)
    upload_tree(s3, f"{prefix}/in", local)
    read_faults = [s3.proxy.add_fault(kind, path=f"/{prefix}/in/{name}$", method="GET", times=2)
                   for name in ("t0000.tif", "t0002.tif")]
    write_fault = s3.proxy.add_fault(kind, path=f"/{prefix}/out/t0001", method="PUT", times=2)
    res = run_batchwarp([*WARP, "-q", "-j", "2", f"/vsis3/{BUCKET}/{prefix}/in/",
                         "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert [f.hits for f in read_faults] == [2, 2] and write_fault.hits == 2
    assert keys(s3, f"{prefix}/out") == [os.path.basename(s) for s in sources]
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, sources[0], ref)
    assert_same_raster(get(s3, f"{prefix}/out/t0000.tif", tmp_path / "got.tif"), ref)


def test_a_reply_that_never_comes_is_given_up_and_asked_again(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """A connection that went dead on the way (a NAT or load balancer that
    forgot it) leaves a request waiting for a reply that never comes: GDAL
    sets no limit by default, so the plan's listing, a source's read and an
    output's upload each waited until the other end closed (here after
    s3_server.STALL_SECONDS, 120 s; on a real network, hours). With the
    defaults (GDAL_HTTP_LOW_SPEED_TIME=30, GDAL_HTTP_LOW_SPEED_LIMIT=1) each
    is given up after 30 s and asked again, and every task succeeds within
    its -timeout. (Fails on the old code: the task stalled on its read is
    killed at its -timeout.)"""
    import s3_server

    assert s3_server.STALL_SECONDS > 100
    local = tmp_path / "in"
    sources = make_small_rasters(local, 2)
    upload_tree(s3, f"{prefix}/in", local)
    stalls = [s3.proxy.add_fault("stall", path=f"^/{BUCKET}/?$", method="GET", times=1),
              s3.proxy.add_fault("stall", path=f"/{prefix}/in/t0000\\.tif$", method="GET", times=1),
              s3.proxy.add_fault("stall", path=f"/{prefix}/out/t0001\\.tif$", method="PUT", times=1)]
    res = run_batchwarp([*WARP, "-q", "-j", "2", "-timeout", "100", f"/vsis3/{BUCKET}/{prefix}/in/",
                         "-outdir", f"/vsis3/{BUCKET}/{prefix}/out"], env=env_for(s3), timeout=600)
    s3.proxy.clear_faults()
    assert [f.hits for f in stalls] == [1, 1, 1]
    assert res.returncode == 0, res.stderr
    assert keys(s3, f"{prefix}/out") == [os.path.basename(s) for s in sources]
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, sources[0], ref)
    assert_same_raster(get(s3, f"{prefix}/out/t0000.tif", tmp_path / "got.tif"), ref)


@pytest.mark.parametrize("how", ["--config", "environment"])
def test_retry_defaults_yield_to_the_users_settings(tmp_path, s3, prefix, run_batchwarp, how):
    """GDAL_HTTP_MAX_RETRY=5 is the default only where the user sets none:
    with a source throttled for good, GDAL asks 6 times per attempt of the
    task by default, twice with the user's GDAL_HTTP_MAX_RETRY=1 (given with
    --config or in the environment). The user's GDAL_HTTP_RETRY_DELAY alone
    (here to keep the test short) leaves the default count in place."""
    local = tmp_path / "in"
    make_small_rasters(local, 2)
    upload_tree(s3, f"{prefix}/in", local)
    hits = {}
    for label in ("default", "user"):
        fault = s3.proxy.add_fault("slowdown", path=f"/{prefix}/in/t0001\\.tif$", method="GET", times=10**6)
        # BATCHWARP_PREFETCH=NO: a worker's prefetch of t0001 (one try of
        # its own) would add to the requests counted here.
        config = [("GDAL_HTTP_RETRY_DELAY", "0.01"), ("BATCHWARP_PREFETCH", "NO")] + (
            [("GDAL_HTTP_MAX_RETRY", "1")] if label == "user" else [])
        report = tmp_path / f"{label}.jsonl"
        args = [*WARP, "-q", "-j", "1", "-report", report, f"/vsis3/{BUCKET}/{prefix}/in/",
                "-outdir", tmp_path / label]
        if how == "--config":
            args = [a for k, v in config for a in ("--config", k, v)] + args
            env = env_for(s3)
        else:
            env = env_for(s3, **dict(config))
        res = run_batchwarp(args, env=env)
        s3.proxy.clear_faults()
        assert res.returncode == 1, res.stderr
        failed = [r for r in read_report(report) if not r["ok"]]
        assert [os.path.basename(r["source"]) for r in failed] == ["t0001.tif"], failed
        attempts = failed[0].get("attempts", 1)
        hits[label] = fault.hits / attempts
    assert hits == {"default": 6, "user": 2}, hits


@pytest.fixture
def fail_listing_pages(s3):
    """fail_listing_pages(kind, times): the next `times` requests for a page
    of a listing after the first (they carry a marker, or with ListObjectsV2
    a continuation token) get the fault `kind` (the proxy's faults match
    paths, and every page has the bucket's)."""
    record = s3.proxy.record
    left = {}

    def faulty(method, full_path, path):
        fault = record(method, full_path, path)
        if fault is None and left.get("n", 0) > 0 and ("marker=" in full_path or "continuation-token=" in full_path):
            left["n"] -= 1
            left["hits"] += 1
            return s3_server_fault(left["kind"])
        return fault

    def arm(kind, times):
        left.update(kind=kind, n=times, hits=0)
        return left

    s3.proxy.record = faulty
    yield arm
    s3.proxy.record = record


def s3_server_fault(kind):
    import s3_server

    return s3_server.Fault(kind)


@pytest.mark.parametrize("kind", ["slowdown", "drop"])
@pytest.mark.parametrize("pattern", ["", "*.tif"])
def test_a_listing_page_that_fails_is_read_again_or_fails_the_batch(tmp_path, s3, prefix, run_batchwarp,
                                                                     fail_listing_pages, kind, pattern):
    """GDAL 3.6 ends a paged listing at a page that fails (throttled,
    dropped) as if it were complete: the batch would leave the objects of
    the pages after it out, in silence. The listing is read again, and if
    its pages keep failing, nothing is done and the error says so; the same
    for the listing a pattern is matched against. (Fails on the code before
    each was read again: 2 of 5 sources planned, exit status 0.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 5)
    upload_tree(s3, f"{prefix}/in", local)
    env = env_for(s3, AWS_MAX_KEYS=2, GDAL_HTTP_RETRY_DELAY=0.01)
    src = f"/vsis3/{BUCKET}/{prefix}/in/" + pattern
    args = ["-dry_run", *WARP, src, "-outdir", tmp_path / "out"]
    state = fail_listing_pages(kind, 1)
    res = run_batchwarp(args, env=env)
    assert res.returncode == 0, res.stderr
    assert state["hits"] == 1
    assert len(res.stdout.splitlines()) == 5, res.stdout
    fail_listing_pages(kind, 10**6)
    res = run_batchwarp(args, env=env)
    assert res.returncode != 0 and res.stdout == "", (res.stdout, res.stderr)
    directory = f"/vsis3/{BUCKET}/{prefix}/in" + ("/" if not pattern else "")
    assert f"Listing of source directory '{directory}' failed part-way" in res.stderr, res.stderr


@pytest.mark.parametrize("kind", ["slowdown", "drop", "truncate"])
def test_a_listing_whose_first_request_fails_is_read_again(tmp_path, s3, prefix, run_batchwarp, kind):
    """The first request of a listing throttled (503 SlowDown), dropped or
    cut short: GDAL 3.6 retries none of them for a listing, and the batch
    failed at once, or called a throttled prefix missing ("does not
    exist"). It is read again; if it keeps failing, the error names the
    directory and what the store answered, and says nothing of a missing
    directory. (Fails on the old code: exit status 2 on one fault.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 5)
    upload_tree(s3, f"{prefix}/in", local)
    env = env_for(s3, GDAL_HTTP_RETRY_DELAY=0.01)
    src = f"/vsis3/{BUCKET}/{prefix}/in/"
    args = ["-dry_run", *WARP, src, "-outdir", tmp_path / "out"]
    fault = s3.proxy.add_fault(kind, path=f"^/{BUCKET}/?$", method="GET", times=1)
    res = run_batchwarp(args, env=env)
    assert fault.hits == 1
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 5, res.stdout
    assert "ERROR" not in res.stderr, res.stderr
    s3.proxy.clear_faults()
    s3.proxy.add_fault(kind, path=f"^/{BUCKET}/?$", method="GET", times=10**6)
    res = run_batchwarp(args, env=env)
    s3.proxy.clear_faults()
    assert res.returncode != 0 and res.stdout == "", (res.stdout, res.stderr)
    assert f"Cannot list source directory '{src}'" in res.stderr, res.stderr
    assert "does not exist" not in res.stderr, res.stderr
    assert re.search(LISTING_FAILURE_REASON[kind], res.stderr), res.stderr


@pytest.mark.parametrize("what", ["missing bucket", "access denied", "missing output bucket"])
def test_a_listing_the_store_refuses_for_good_is_not_asked_again(tmp_path, s3, prefix, run_batchwarp, what):
    """A store's answer that a later request would get too (a bucket that
    does not exist, access denied) is not retried like a throttled or
    dropped one: the listing was asked for GDAL_HTTP_MAX_RETRY + 1 times,
    with back-off (6 requests and 15 s with the defaults, for a mistyped
    bucket name). It is asked for once, and the error names the directory
    and the store's answer. (Fails on the old code: 6 listing requests.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 2)
    upload_tree(s3, f"{prefix}/in", local)
    src = f"/vsis3/{BUCKET}/{prefix}/in/"
    outdir = tmp_path / "out"
    if what == "missing bucket":
        src = f"/vsis3/no-such-bucket-{prefix}/in/"
        listing, expected = f"^/no-such-bucket-{prefix}/?$", "NoSuchBucket"
    elif what == "access denied":
        s3.proxy.add_fault("denied", path=f"^/{BUCKET}/?$", method="GET", times=10**6)
        listing, expected = f"^/{BUCKET}/?$", "AccessDenied"
    else:
        outdir = f"/vsis3/no-such-bucket-{prefix}/out"
        listing, expected = f"^/no-such-bucket-{prefix}/?$", "NoSuchBucket"
    # Short delays: the old code's six tries then take well under a second.
    env = env_for(s3, GDAL_HTTP_RETRY_DELAY=0.01)
    res = run_batchwarp(["-dry_run", *WARP, src, "-outdir", outdir], env=env)
    s3.proxy.clear_faults()
    assert res.returncode != 0 and res.stdout == "", (res.stdout, res.stderr)
    asked = [full for method, full, path in s3.proxy.requests if method == "GET" and re.search(listing, path)]
    assert len(asked) == 1, asked
    directory = outdir if what == "missing output bucket" else src
    assert re.search(f"Cannot list [a-z ]*directory '{re.escape(str(directory))}' \\(1 try\\): .*{expected}",
                     res.stderr), res.stderr


@pytest.mark.parametrize("where", ["source", "output"])
def test_a_listing_without_credentials_says_so_at_once(tmp_path, s3, prefix, run_batchwarp, where):
    """No AWS credentials at all: GDAL makes no request and says why only
    through VSIError, and the listing fails in silence. The batch said
    "Source directory '/vsis3/...' does not exist." (a prefix with no
    object), or, for -outdir, tried the listing again 6 times. It now names
    the directory and GDAL's reason, at the first try. (Fails on the old
    code: "does not exist".)"""
    local = tmp_path / "in"
    make_small_rasters(local, 1)
    env = env_for(s3, GDAL_HTTP_RETRY_DELAY=0.01, CPL_AWS_AUTODETECT_EC2="NO")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    directory = f"/vsis3/{BUCKET}/{prefix}/in/" if where == "source" else f"/vsis3/{BUCKET}/{prefix}/out"
    args = [directory, "-outdir", tmp_path / "out"] if where == "source" else [local, "-outdir", directory]
    res = run_batchwarp(["-dry_run", *WARP, *args], env=env)
    assert res.returncode != 0 and res.stdout == "", (res.stdout, res.stderr)
    assert "does not exist" not in res.stderr, res.stderr
    assert re.search(f"Cannot list [a-z ]*directory '{re.escape(directory)}' \\(1 try\\): .*AWS_SECRET_ACCESS_KEY",
                     res.stderr), res.stderr
    assert not [r for r in s3.proxy.requests if f"/{prefix}" in r[1]], s3.proxy.requests


def test_an_output_bucket_that_does_not_exist_is_named_with_the_stores_answer(tmp_path, s3, prefix,
                                                                             run_batchwarp):
    """-outdir in a bucket that does not exist (with -overwrite, which needs
    no listing of it): the error said "Cannot create output directory
    '...': Success" (errno, which GDAL's network file systems leave at 0),
    after GDAL's own "DoSinglePartPUT of ... failed", and never what the
    store answered. It now names the directory and the store's answer,
    once. (Fails on the old code: ': Success'.)"""
    local = tmp_path / "in"
    make_small_rasters(local, 2)
    outdir = f"/vsis3/no-such-bucket-{prefix}/out"
    res = run_batchwarp([*WARP, "-overwrite", local, "-outdir", outdir], env=env_for(s3))
    assert res.returncode == 1, res.stderr
    assert re.search(f"ERROR 1: Cannot create output directory '{re.escape(outdir)}': S3: .*NoSuchBucket",
                     res.stderr), res.stderr
    assert "Success" not in res.stderr and "DoSinglePartPUT" not in res.stderr, res.stderr
    assert res.stderr.count("ERROR") == 1, res.stderr


@pytest.mark.parametrize("remote_output", [False, True])
def test_truncated_body_fails_the_task_clearly_without_output(tmp_path, s3, prefix, run_batchwarp, remote_output):
    """A body cut short of its Content-Length fails its task, with a message
    that names the source, and leaves no output anywhere."""
    local = tmp_path / "in"
    make_small_rasters(local, 3, size=64)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.add_fault("truncate", path=f"/{prefix}/in/t0001\\.tif$", method="GET", times=1000)
    out = f"/vsis3/{BUCKET}/{prefix}/out" if remote_output else tmp_path / "out"
    report = tmp_path / "report.jsonl"
    staging = tmp_path / "staging"
    staging.mkdir()
    res = run_batchwarp([*WARP, "-q", "-j", "2", "--config", "CPL_TMPDIR", staging, "-report", report,
                         f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", out], env=env_for(s3))
    assert res.returncode == 1
    failed = [r for r in read_report(report) if not r["ok"]]
    assert [os.path.basename(r["source"]) for r in failed] == ["t0001.tif"]
    error = failed[0]["error"]
    assert f"{prefix}/in/t0001.tif" in error, error
    assert "truncated" in error.lower() or "bytes remaining" in error.lower() or "short" in error.lower(), error
    done = keys(s3, f"{prefix}/out") if remote_output else all_files(out)
    assert done == ["t0000.tif", "t0002.tif"]
    assert all_files(staging) == []


###############################################################################
# Requests per source: no sidecar probes


def make_cog(path, seed, size=512):
    """A 512x512 DEFLATE COG with internal overviews, as on object stores."""
    plain = str(path) + ".plain.tif"
    make_raster(plain, xsize=size, ysize=size, seed=seed, origin=(2.0 + seed * 0.01, 49.0),
                pixel_size=(0.0005, 0.0005))
    gdal.Translate(str(path), plain, format="COG", creationOptions=["COMPRESS=DEFLATE", "BLOCKSIZE=256"])
    os.unlink(plain)
    return str(path)


def test_listed_sources_cost_few_requests_and_keep_their_sidecars(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """Workers hand GDAL the listing's names as the source's siblings: no
    probe of every possible sidecar name, yet the sidecars that exist (a PAM
    .aux.xml that sets nodata, an external .msk) still shape the output as
    gdalwarp's. (Before issue 15: about 70 requests per source.)"""
    local = tmp_path / "in"
    local.mkdir()
    for i, name in enumerate(["a.tif", "b.tif", "c.tif"]):
        make_cog(local / name, seed=i)
    ds = gdal.Open(str(local / "b.tif"))
    ds.GetRasterBand(1).SetNoDataValue(0)  # read-only: goes to b.tif.aux.xml
    ds = None
    ds = gdal.Open(str(local / "c.tif"))
    gdal.SetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", "NO")
    try:
        ds.CreateMaskBand(gdal.GMF_PER_DATASET)  # read-only: goes to c.tif.msk
        mask = ds.GetRasterBand(1).GetMaskBand()
        mask.WriteRaster(0, 0, 256, 256, b"\0" * (256 * 256))
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", None)
    ds = None
    assert sorted(os.listdir(local)) == ["a.tif", "b.tif", "b.tif.aux.xml", "c.tif", "c.tif.msk"]
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-j", "2", f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(out)) == ["a.tif", "b.tif", "c.tif"]
    for name in ("a.tif", "b.tif", "c.tif"):
        ref = tmp_path / f"ref_{name}"
        run_gdalwarp(WARP, local / name, ref)
        assert_same_raster(out / name, ref)
    assert gdal.Open(str(out / "b.tif")).GetRasterBand(1).GetNoDataValue() == 0
    counts = {name: source_requests(s3, f"{prefix}/in/{name}") for name in ("a.tif", "b.tif", "c.tif")}
    print("requests per source", counts)
    assert counts["a.tif"] <= 4, (counts, s3.proxy.requests)


def test_small_listed_sources_are_read_in_one_request(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """A source whose listed size is small is read whole by the request that
    opens it: one GET per COG instead of one for its header and one for its
    tiles, and the outputs are still gdalwarp's. (Fails on the old code: two
    GETs per source.)"""
    local = tmp_path / "in"
    local.mkdir()
    names = ["a.tif", "b.tif", "c.tif"]
    for i, name in enumerate(names):
        make_cog(local / name, seed=i)
        assert 16384 < os.path.getsize(local / name) < 2 * 1024 * 1024
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-j", "2", f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    gets = object_gets(s3, f"{prefix}/in", names)
    assert gets == {name: 1 for name in names}, (gets, s3.proxy.requests)
    for name in names:
        ref = tmp_path / f"ref_{name}"
        run_gdalwarp(WARP, local / name, ref)
        assert_same_raster(out / name, ref)


@pytest.mark.parametrize("recursive", [False, True])
def test_listed_sources_keep_their_external_overviews(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp, recursive):
    """An external .ovr next to a listed source is one of the siblings the
    worker hands GDAL, so a warp to a coarser grid reads it as gdalwarp does
    (its pixels differ from the full resolution's here, so the output shows
    which was read), in a subdirectory of a -recursive listing too."""
    local = tmp_path / "in"
    sub = local / "sub" if recursive else local
    sub.mkdir(parents=True)
    make_raster(sub / "d.tif", xsize=512, ysize=512, seed=3, pixel_size=(0.0005, 0.0005))
    ds = gdal.Open(str(sub / "d.tif"))  # read-only: the overviews go to d.tif.ovr
    assert ds.BuildOverviews("AVERAGE", [2, 4]) == 0
    ds = None
    ovr = gdal.Open(str(sub / "d.tif.ovr"), gdal.GA_Update)
    for i in range(ovr.RasterCount):  # not what the full resolution would give
        ovr.GetRasterBand(i + 1).Fill(7.0)
    ovr = None
    assert sorted(os.listdir(sub)) == ["d.tif", "d.tif.ovr"]
    upload_tree(s3, f"{prefix}/in", local)
    options = [*WARP, "-ts", "64", "64", "-r", "near"]
    out = tmp_path / "out"
    res = run_batchwarp([*options, "-q", *(["-recursive"] if recursive else []), f"/vsis3/{BUCKET}/{prefix}/in/",
                         "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    got = out / ("sub/d.tif" if recursive else "d.tif")
    ref = tmp_path / "ref.tif"
    run_gdalwarp(options, sub / "d.tif", ref)
    assert_same_raster(got, ref)
    # The overview mattered: without it, gdalwarp gives other pixels.
    os.unlink(sub / "d.tif.ovr")
    run_gdalwarp(options, sub / "d.tif", tmp_path / "no_ovr.tif")
    with_ovr, without = gdal.Open(str(got)), gdal.Open(str(tmp_path / "no_ovr.tif"))
    assert with_ovr.GetRasterBand(1).ReadRaster() != without.GetRasterBand(1).ReadRaster()


def test_explicit_network_sources_are_opened_as_empty_dir_unless_told(tmp_path, s3, prefix, run_batchwarp):
    """A network source given as a file: GDAL neither lists its prefix nor
    probes sidecar names (as GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR), unless
    --config GDAL_DISABLE_READDIR_ON_OPEN says otherwise."""
    local = tmp_path / "in"
    local.mkdir()
    make_cog(local / "a.tif", seed=0)
    upload_tree(s3, f"{prefix}/in", local)
    key = f"{prefix}/in/a.tif"
    counts = {}
    for label, extra in (("default", []), ("YES", ["--config", "GDAL_DISABLE_READDIR_ON_OPEN", "YES"])):
        s3.proxy.reset_counts()
        res = run_batchwarp([*WARP, "-q", *extra, f"/vsis3/{BUCKET}/{key}", "-outdir", tmp_path / label],
                            env=env_for(s3))
        assert res.returncode == 0, res.stderr
        counts[label] = source_requests(s3, key)
    print("requests per source", counts)
    assert counts["default"] <= 4, counts
    assert counts["YES"] > 10, counts  # the user's choice is obeyed: GDAL probes sidecars


###############################################################################
# Latency hidden: more workers than -j while tasks wait on the network


@pytest.fixture
def latency(s3):
    """Sets the proxy's wait before each reply for one test."""
    def set_latency(seconds):
        s3.proxy.latency = seconds
    yield set_latency
    s3.proxy.latency = 0.0


@pytest.mark.parametrize("jobs", [1, 2])
def test_waiting_on_the_network_overlaps_beyond_j(tmp_path, s3, prefix, latency, run_batchwarp, run_gdalwarp, jobs):
    """Tasks that mostly wait for replies (0.1 s each here) use a CPU a small
    share of their time: the pool runs more workers than -j, so that more
    sources are read at once than -j (counted in the proxy, not timed), and
    every output is still gdalwarp's."""
    local = tmp_path / "in"
    paths = make_small_rasters(local, 16, size=32)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    latency(0.1)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", str(jobs), "-report", report, f"/vsis3/{BUCKET}/{prefix}/in/",
                         "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    sources_at_once = s3.proxy.max_in_flight_paths
    records = read_report(report)
    pids = {r["worker_pid"] for r in records}
    print(f"-j {jobs}: at most {sources_at_once} objects read at once, {len(pids)} workers")
    assert sources_at_once > jobs, (sources_at_once, s3.proxy.max_in_flight)
    assert len(pids) > jobs, pids
    latency(0.0)
    assert sorted(os.listdir(out)) == sorted(os.path.basename(p) for p in paths)
    for p in paths[:3]:
        ref = tmp_path / f"ref_{os.path.basename(p)}"
        run_gdalwarp(WARP, p, ref)
        assert_same_raster(out / os.path.basename(p), ref)


def test_max_workers_equal_to_j_keeps_j(tmp_path, s3, prefix, latency, run_batchwarp):
    """-max_workers equal to -j turns the extra workers off, and
    BATCHWARP_PREFETCH=NO the worker's prefetch: the same network batch
    reads one object at a time with -j 1."""
    local = tmp_path / "in"
    make_small_rasters(local, 6, size=32)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    latency(0.1)
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-max_workers", "1", "--config", "BATCHWARP_PREFETCH", "NO",
                         "-report", report, f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", tmp_path / "out"],
                        env=env_for(s3))
    assert res.returncode == 0, res.stderr
    assert len({r["worker_pid"] for r in read_report(report)}) == 1
    assert s3.proxy.max_in_flight_paths == 1, s3.proxy.max_in_flight_paths


def test_a_worker_prefetches_its_queued_source(tmp_path, s3, prefix, latency, run_batchwarp, run_gdalwarp):
    """One worker (-j 1 -max_workers 1) reads the source of the task queued
    behind its current one while it runs that one: two objects are read at
    once (counted in the proxy, not timed), yet each object is asked for
    only once, and every output is gdalwarp's. (Fails on the old code: one
    object at a time.)"""
    local = tmp_path / "in"
    paths = make_small_rasters(local, 6, size=32)
    upload_tree(s3, f"{prefix}/in", local)
    s3.proxy.reset_counts()
    latency(0.1)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-max_workers", "1", "-report", report,
                         f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    latency(0.0)
    assert len({r["worker_pid"] for r in read_report(report)}) == 1
    assert s3.proxy.max_in_flight_paths == 2, s3.proxy.max_in_flight_paths
    names = [os.path.basename(p) for p in paths]
    gets = object_gets(s3, f"{prefix}/in", names)
    assert gets == {name: 1 for name in names}, gets
    assert sorted(os.listdir(out)) == sorted(names)
    for p in paths:
        ref = tmp_path / f"ref_{os.path.basename(p)}"
        run_gdalwarp(WARP, p, ref)
        assert_same_raster(out / os.path.basename(p), ref)


def test_a_prefetched_source_is_read_once_in_a_large_directory(tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """In a listed directory of more names than the plan hands a worker as
    siblings (256), the prefetch of a queued source must still leave it in
    the cache the task's own open reads: each object asked for once. (Fails
    on the old code, whose prefetch read the object with VSIFReadL, which
    first asks for its head to learn its size: two GETs per object.)"""
    cog = make_cog(tmp_path / "one.tif", seed=1, size=256)
    assert 16384 < os.path.getsize(cog) < 2 * 1024 * 1024
    names = [f"c{i:03d}.tif" for i in range(260)]
    for name in names:
        put(s3, cog, f"{prefix}/in/{name}")
    s3.proxy.reset_counts()
    out = tmp_path / "out"
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-max_workers", "1", f"/vsis3/{BUCKET}/{prefix}/in/",
                         "-outdir", out], env=env_for(s3))
    assert res.returncode == 0, res.stderr
    gets = object_gets(s3, f"{prefix}/in", names)
    assert {n: c for n, c in gets.items() if c != 1} == {}
    assert sorted(os.listdir(out)) == sorted(names)
    ref = tmp_path / "ref.tif"
    run_gdalwarp(WARP, cog, ref)
    for name in names[:2] + names[-2:]:
        assert_same_raster(out / name, ref)


def test_a_prefetched_source_that_opens_a_fifo_fails_its_task_without_hanging_the_worker(
        tmp_path, s3, prefix, run_batchwarp, run_gdalwarp):
    """A warped VRT on the store that names a local FIFO as its source
    (anyone can make one in /tmp): GDAL opens that source when it opens the
    VRT. The task's own open is released by the FIFO guard and fails naming
    the FIFO, but the prefetch of the queued VRT, in the worker's lookahead
    thread, was not watched: it waited in open() forever, and the worker
    with it once its current task was done (joining the thread), so the VRT
    failed as 'timed out' (without -timeout the batch never ended). (Fails
    on the old code: 'timed out after 60 s'.)"""
    local = tmp_path / "in"
    sources = make_small_rasters(str(local), 4, size=64)
    fifo = tmp_path / "fifo.tif"
    os.mkfifo(fifo)
    vrt = local / "w.vrt"
    gdal.Warp(str(vrt), sources[0], format="VRT", dstSRS="EPSG:3857")
    text = vrt.read_text()
    text = re.sub(r"<SourceDataset[^>]*>[^<]*</SourceDataset>",
                  f'<SourceDataset relativeToVRT="0">{fifo}</SourceDataset>', text)
    assert str(fifo) in text
    vrt.write_text(text)
    # Largest first: the VRT is the last task, queued behind a GeoTIFF.
    assert all(os.path.getsize(s) > os.path.getsize(vrt) for s in sources)
    upload_tree(s3, f"{prefix}/in", local)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    res = run_batchwarp([*WARP, "-q", "-j", "1", "-max_workers", "1", "-timeout", "60", "-report", report,
                         f"/vsis3/{BUCKET}/{prefix}/in/", "-outdir", out], env=env_for(s3))
    assert res.returncode == 1, res.stderr
    records = {os.path.basename(r["source"]): r for r in read_report(report)}
    bad = records["w.vrt"]
    assert not bad["ok"]
    assert str(fifo) in bad["error"] and "FIFO" in bad["error"], bad["error"]
    for s in sources:
        name = os.path.basename(s)
        assert records[name]["ok"], records[name]
        ref = tmp_path / f"ref_{name}"
        run_gdalwarp(WARP, s, ref)
        assert_same_raster(out / name, ref)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


PATH_SPECIFIC_SCRIPT = r'''
import os, sys
from osgeo import gdal
sys.path.insert(0, sys.argv[1])
import batchwarp_ctypes as bw
lib_path, bucket, prefix, key, secret, outdir = sys.argv[2:]
gdal.UseExceptions()
# As a Python program sets credentials for one bucket alone.
gdal.SetPathSpecificOption(f"/vsis3/{bucket}", "AWS_ACCESS_KEY_ID", key)
gdal.SetPathSpecificOption(f"/vsis3/{bucket}", "AWS_SECRET_ACCESS_KEY", secret)
lib = bw.load(lib_path)
results = []
status = bw.run_batch(lib, ["-q", "-t_srs", "EPSG:3857", f"/vsis3/{bucket}/{prefix}/in/",
                            "-outdir", outdir], results.append)
for r in results:
    print(r["source"], r["ok"], r["error"])
sys.exit(status)
'''


@pytest.mark.parametrize("remote_output", [False, True])
def test_options_the_caller_set_for_a_path_reach_the_workers(tmp_path, s3, prefix, batchwarp_bin, run_gdalwarp,
                                                             remote_output):
    """A program using the library (Python through ctypes, gdal.Run with the
    plugin) that set its bucket's credentials with
    gdal.SetPathSpecificOption: the plan listed the bucket with them, but
    the workers, other processes, never had them, and every task failed
    ('AWS_SECRET_ACCESS_KEY and AWS_NO_SIGN_REQUEST configuration options not
    defined'). They are passed on to the workers for the same prefix."""
    if sanitized_build(batchwarp_bin):
        pytest.skip("ASan build: its library cannot be loaded into Python without LD_PRELOAD")
    lib = os.path.join(os.path.dirname(os.path.dirname(batchwarp_bin)), "plugin", "libgdalbatchwarp.so")
    src = make_raster(tmp_path / "a.tif", xsize=16, ysize=16)
    put(s3, src, f"{prefix}/in/a.tif")
    env = env_for(s3)
    key, secret = env.pop("AWS_ACCESS_KEY_ID"), env.pop("AWS_SECRET_ACCESS_KEY")
    outdir = f"/vsis3/{BUCKET}/{prefix}/out" if remote_output else str(tmp_path / "out")
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "python_ctypes")
    res = subprocess.run([sys.executable, "-c", PATH_SPECIFIC_SCRIPT, examples, lib, BUCKET, prefix, key, secret,
                          outdir], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "True None" in res.stdout, res.stdout
    if remote_output:
        assert keys(s3, f"{prefix}/out") == ["a.tif"]
        out = get(s3, f"{prefix}/out/a.tif", tmp_path / "got.tif")
    else:
        out = tmp_path / "out" / "a.tif"
    run_gdalwarp(WARP, src, tmp_path / "ref.tif")
    assert_same_raster(out, tmp_path / "ref.tif")
