"""An output of several files replaced (-overwrite) and the supervisor
killed while it publishes: between the new sidecars and the new main file.

The supervisor renames the new files into place, sidecars first and the main
file last. Over an earlier dataset, that left the earlier main file beside
the new sidecars until the last rename: an ENVI output's earlier raw data
read with the new header (another size), and a run killed there left that
mix for good, which a rerun without -overwrite kept as done. Now the earlier
main file is set aside first: in between, the output is missing (never a
mix), and a rerun writes it whole."""
import os
import shutil
import subprocess

from osgeo import gdal

from conftest import make_small_rasters, read_report
from fault_util import require_fault_hooks, wait_for_gate

gdal.UseExceptions()

WARP = ["-t_srs", "EPSG:3857", "-of", "ENVI"]


def files_of(directory):
    found = {}
    for name in os.listdir(directory):
        if name.startswith(".batchwarp-tmp-"):
            continue
        with open(os.path.join(directory, name), "rb") as f:
            found[name] = f.read()
    return found


def test_a_run_killed_while_replacing_a_dataset_of_several_files_leaves_no_mix(batchwarp_bin, tmp_path):
    require_fault_hooks(batchwarp_bin)
    (small,) = make_small_rasters(str(tmp_path / "small"), 1, size=16)
    (large,) = make_small_rasters(str(tmp_path / "large"), 1, size=40)
    out = tmp_path / "out"
    subprocess.run([str(batchwarp_bin), *WARP, "-q", small, "-outdir", str(out)], check=True, timeout=120)
    earlier = files_of(out)
    main = os.path.splitext(os.path.basename(small))[0]
    assert main in earlier and main + ".hdr" in earlier, earlier
    gate = str(tmp_path / "gate")
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_publish:{main}", "GDAL_BATCHWARP_TEST_GATE": gate}
    proc = subprocess.Popen([str(batchwarp_bin), *WARP, "-q", "-overwrite", large, "-outdir", str(out)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        # The new sidecars are in place, the new main file not yet: the
        # earlier main file must not be found with them.
        now = files_of(out)
        assert main not in now or now[main + ".hdr"] == earlier[main + ".hdr"], sorted(now)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # A rerun without -overwrite writes the output, missing, in full: as
    # gdalwarp does.
    report = str(tmp_path / "report.jsonl")
    subprocess.run([str(batchwarp_bin), *WARP, "-q", "-report", report, large, "-outdir", str(out)], check=True,
                   timeout=120)
    (record,) = read_report(report)
    assert record["ok"] and not record["skipped"], record
    ref = tmp_path / "ref"
    ref.mkdir()
    gdal.Warp(str(ref / main), large, options=gdal.WarpOptions(options=WARP, warpOptions=["NUM_THREADS=1"]))
    with open(ref / main, "rb") as f:
        assert files_of(out)[main] == f.read()
    ds = gdal.Open(str(out / main))
    assert ds.GetRasterBand(1).Checksum() == gdal.Open(str(ref / main)).GetRasterBand(1).Checksum()
    # Nothing of the run is left in the output directory.
    assert not [n for n in os.listdir(out) if n.startswith(".batchwarp-tmp-")]
    shutil.rmtree(ref)


def test_an_earlier_outputs_sidecars_are_gone_before_the_new_main_file_comes(batchwarp_bin, tmp_path,
                                                                           run_gdalwarp):
    """-overwrite of an output whose earlier dataset has an .ovr and an
    .aux.xml the new one lacks: they were removed only once the new main
    file was in place, so until then (and for good if the run was killed
    there) GDAL opened the new output with the earlier overviews and
    metadata, and a rerun without -overwrite kept that as done. Now they go
    first (the earlier main file set aside meanwhile), and the output ends as
    gdalwarp -overwrite leaves it."""
    require_fault_hooks(batchwarp_bin)
    (src,) = make_small_rasters(str(tmp_path / "in"), 1, size=24)
    name = os.path.basename(src)
    out, ref = tmp_path / "out", tmp_path / "ref"
    for d in (out, ref):
        d.mkdir()
        run_gdalwarp(["-t_srs", "EPSG:4326"], src, str(d / name))
        ds = gdal.Open(str(d / name))
        ds.BuildOverviews("NEAREST", [2])
        ds.GetRasterBand(1).ComputeStatistics(False)
        ds = None
        assert {name + ".ovr", name + ".aux.xml"} <= set(os.listdir(d)), "the test's premise"
    run_gdalwarp(["-t_srs", "EPSG:3857", "-overwrite"], src, str(ref / name))
    gate = str(tmp_path / "gate")
    env = {**os.environ, "GDAL_BATCHWARP_TEST_FAULTS": f"gate_published:{name}", "GDAL_BATCHWARP_TEST_GATE": gate}
    proc = subprocess.Popen([str(batchwarp_bin), "-t_srs", "EPSG:3857", "-q", "-overwrite", src, "-outdir",
                             str(out)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_gate(proc, gate)
        # The new main file is in place: nothing of the earlier output is
        # left beside it.
        assert sorted(files_of(out)) == [name], sorted(files_of(out))
        open(gate, "w").close()
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert files_of(out) == files_of(ref)
