"""The -report file in a directory others write to (never touch what is not
yours). The report used to be opened with fopen("w"): it followed a link
planted at its name (root truncated the link's target), blocked forever on a
FIFO, and silently truncated any file there. Now only a regular file of the
run's own user that is empty or holds a report is written over, and a
stream (a FIFO with a reader, a terminal, /dev/stdout) of the run's own user
or root's is written; a link is followed only if the run's own user or root
made it. Anything else is refused before any work (exit 2), naming it and
what it is; a FIFO nobody reads, when the run starts (exit 1). A FIFO
given to -retry_failed or -merge_reports is refused instead of read."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from attacker import NOBODY, as_nobody, needs_root
from conftest import all_files, make_small_rasters

WARP = ["-t_srs", "EPSG:3857"]
# A FIFO used to block the program forever: any run that takes this long
# has blocked.
BLOCKED = 60


@pytest.fixture
def world():
    """A sticky world-writable 'shared' directory (like /tmp) that every
    user reaches, and a victim file of root's outside it."""
    base = tempfile.mkdtemp(prefix="bw_report_", dir="/tmp")
    os.chmod(base, 0o755)
    shared = os.path.join(base, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    victim = os.path.join(base, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    yield base, shared, victim
    shutil.rmtree(base, ignore_errors=True)


def run(run_batchwarp, args):
    try:
        return run_batchwarp(args, timeout=BLOCKED)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gdal_batchwarp blocked for {BLOCKED} s: {args}")


def refused_before_any_work(res, out, *words):
    assert res.returncode == 2, (res.returncode, res.stderr)
    for w in words:
        assert str(w) in res.stderr, res.stderr
    assert not os.path.exists(out) or all_files(out) == []


@needs_root
def test_a_link_planted_at_the_report_name_is_not_followed(tmp_path, world, run_batchwarp):
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 2)
    report = os.path.join(shared, "report.jsonl")
    as_nobody("ln", "-s", victim, report)
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"Report '{report}' exists and is a symbolic link")
    with open(victim) as f:
        assert f.read() == "precious\n"
    assert os.readlink(report) == victim


@needs_root
def test_a_report_file_of_another_user_is_not_written(tmp_path, world, run_batchwarp):
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 2)
    report = os.path.join(shared, "report.jsonl")
    as_nobody("sh", "-c", f"echo theirs > {report}")
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"Report '{report}' belongs to another user (uid {NOBODY})")
    with open(report) as f:
        assert f.read() == "theirs\n"
    assert os.stat(report).st_uid == NOBODY


def test_a_fifo_nobody_reads_at_the_report_name_neither_blocks_nor_is_written(tmp_path, run_batchwarp):
    """The batch cannot run (exit 1, as for an output directory that is not
    writable) before any task, instead of waiting forever for a reader."""
    sources = make_small_rasters(tmp_path / "in", 2)
    report = tmp_path / "report.jsonl"
    os.mkfifo(report)
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert f"Report '{report}' exists and is a FIFO that nobody reads" in res.stderr, res.stderr
    assert not os.path.exists(out) or all_files(out) == []
    assert os.path.exists(report) and not os.path.isfile(report)


def test_a_fifo_with_a_reader_gets_the_report(tmp_path, run_batchwarp):
    """A FIFO the user made and reads from (as in a pipeline) is written, as
    it was before the report was checked."""
    sources = make_small_rasters(tmp_path / "in", 2)
    report = tmp_path / "report.fifo"
    os.mkfifo(report)
    reader = subprocess.Popen(["cat", str(report)], stdout=subprocess.PIPE, text=True)
    try:
        res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", tmp_path / "out"])
        got, _ = reader.communicate(timeout=BLOCKED)
    finally:
        reader.kill()
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(line)["source"] for line in got.splitlines()) == sorted(map(str, sources))


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1"])
def test_standard_output_named_as_a_path_gets_the_report(tmp_path, run_batchwarp, name):
    """/dev/stdout and /dev/fd/1 are links (of root's, and to a descriptor of
    the run's own) to a pipe here: written, not refused as planted links."""
    sources = make_small_rasters(tmp_path / "in", 2)
    res = run(run_batchwarp, [*WARP, "-q", "-report", name, *sources, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(line)["source"] for line in res.stdout.splitlines()) == sorted(map(str, sources))


@pytest.mark.parametrize("name, fd", [("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/3", 3),
                                      ("/proc/self/fd/3", 3)])
def test_a_descriptor_opened_for_appending_is_appended_to(tmp_path, batchwarp_bin, name, fd):
    """`-report /dev/stdout >> all.jsonl` (or 2>>, 3>>): the shell opened the
    file to append; reopening the name truncated it, and the earlier runs'
    lines in it were lost. Written through the descriptor, nothing is."""
    earlier = '{"source":"earlier_run.tif","ok":true}\n'
    log = tmp_path / "all.jsonl"
    log.write_text(earlier)
    sources = make_small_rasters(tmp_path / "in", 2)
    res = subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {fd}>>"$LOG"', str(batchwarp_bin), *WARP, "-q", "-report", name,
         *map(str, sources), "-outdir", str(tmp_path / "out")],
        env={**os.environ, "LOG": str(log)}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=BLOCKED)
    assert res.returncode == 0, res.stderr
    text = log.read_text()
    assert text.startswith(earlier), text
    got = [json.loads(line)["source"] for line in text.splitlines()[1:] if line.startswith("{")]
    assert sorted(got) == sorted(map(str, sources))


def test_a_descriptor_not_open_for_writing_is_refused(tmp_path, batchwarp_bin):
    sources = make_small_rasters(tmp_path / "in", 1)
    out = tmp_path / "out"
    res = subprocess.run([str(batchwarp_bin), *WARP, "-q", "-report", "/dev/fd/7", *map(str, sources),
                          "-outdir", str(out)], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=BLOCKED)
    refused_before_any_work(res, out, "/dev/fd/7", "descriptor 7", "not open")


@pytest.mark.parametrize("fd", [4, 5, 6])
def test_a_descriptor_the_caller_did_not_open_is_refused_not_taken_for_one_of_ours(tmp_path, batchwarp_bin, fd):
    """-report /dev/fd/N where the caller opened no descriptor N (a forgotten
    N> in a script): the supervisor's own descriptors take the low numbers,
    the workers' channels among them, and the report was checked and opened
    only after the workers were started. The report's lines went into a
    worker's channel (the worker: 'corrupt message: bad magic'), the batch
    exited 0 and no report was written anywhere (or 1, 'Broken pipe'). Now
    refused before any work, as any descriptor not open. (Fails on the old
    code for /dev/fd/4 and /dev/fd/5, the channels of the two workers.)"""
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    res = subprocess.run([str(batchwarp_bin), *WARP, "-q", "-j", "2", "-report", f"/dev/fd/{fd}",
                          *map(str, sources), "-outdir", str(out)], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=BLOCKED)
    refused_before_any_work(res, out, f"/dev/fd/{fd}", f"descriptor {fd}", "not open")
    assert "corrupt message" not in res.stderr, res.stderr


@pytest.mark.parametrize("how", ["batch", "merge_reports"])
def test_a_device_that_is_no_terminal_is_not_written(tmp_path, run_batchwarp, how):
    """Root's character devices are not all streams: /dev/zero stands here for
    /dev/mem, /dev/kmsg or a flash chip, which root could write into. Only a
    terminal, /dev/null and /dev/full take a report."""
    out = tmp_path / "out"
    if how == "batch":
        sources = make_small_rasters(tmp_path / "in", 2)
        args = [*WARP, "-q", "-report", "/dev/zero", *sources, "-outdir", out]
    else:
        shard = tmp_path / "shard.jsonl"
        shard.write_text("")
        args = ["-merge_reports", shard, "-report", "/dev/zero"]
    res = run(run_batchwarp, args)
    assert res.returncode != 0, res.stderr
    assert "Report '/dev/zero' is a character device (1:5) that is not a terminal" in res.stderr, res.stderr
    assert not os.path.exists(out)


def test_the_pseudo_terminal_multiplexer_is_not_written(tmp_path, run_batchwarp):
    """/dev/ptmx (5:2) is no terminal: opening it makes a new pseudo-terminal
    that nobody reads, and a report longer than its buffer (a -merge_reports
    of 2000 lines here) blocked forever, deaf to SIGTERM. (5:3, ttyprintk,
    writes into the kernel's log.) Fails on 6dab5a0..dbca44e by blocking."""
    shard = tmp_path / "shard.jsonl"
    with open(shard, "w") as f:
        for i in range(2000):
            f.write(json.dumps({"source": f"/in/s{i:05d}.tif", "output": f"/out/{i}.tif", "ok": False,
                                "error": "e" * 100}) + "\n")
    res = run(run_batchwarp, ["-merge_reports", shard, "-report", "/dev/ptmx"])
    assert res.returncode != 0, res.stderr
    assert "Report '/dev/ptmx' is a character device (5:2) that is not a terminal" in res.stderr, res.stderr


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_null_and_full_devices_take_a_report(tmp_path, run_batchwarp, device):
    sources = make_small_rasters(tmp_path / "in", 2)
    res = run(run_batchwarp, [*WARP, "-q", "-report", device, *sources, "-outdir", tmp_path / "out"])
    # /dev/full refuses the writes: the batch says so and fails, outputs kept.
    assert res.returncode == (0 if device == "/dev/null" else 1), res.stderr
    assert len(all_files(tmp_path / "out")) == 2


def test_a_link_of_our_own_at_the_report_name_is_followed(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 2)
    target = tmp_path / "reports" / "today.jsonl"
    target.parent.mkdir()
    link = tmp_path / "report.jsonl"
    os.symlink(target, link)
    res = run(run_batchwarp, [*WARP, "-q", "-report", link, *sources, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    assert os.path.islink(link)
    assert len(target.read_text().splitlines()) == 2


@needs_root
def test_a_fifo_of_another_user_at_the_report_name_is_not_written(tmp_path, world, run_batchwarp):
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 2)
    report = os.path.join(shared, "report.jsonl")
    as_nobody("mkfifo", report)
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"Report '{report}' exists and is a FIFO of another user (uid {NOBODY})")
    assert os.stat(report).st_uid == NOBODY


@pytest.mark.parametrize("how", ["retry_failed", "merge_reports"])
def test_a_fifo_given_as_a_report_to_read_is_refused(tmp_path, run_batchwarp, how):
    fifo = tmp_path / "prev.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    args = {
        "retry_failed": [*WARP, "-q", "-retry_failed", fifo, "-outdir", out],
        "merge_reports": ["-merge_reports", fifo, "-report", tmp_path / "merged.jsonl"],
    }[how]
    res = run(run_batchwarp, args)
    assert res.returncode != 0, res.stderr
    assert f"Report '{fifo}' is a FIFO, not a regular file: it was not read." in res.stderr, res.stderr
    assert not out.exists()


def test_a_file_that_is_not_a_report_is_not_overwritten(tmp_path, run_batchwarp):
    sources = make_small_rasters(tmp_path / "in", 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a report\n")
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", notes, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"Report '{notes}' exists and is not a report of gdal_batchwarp")
    assert notes.read_text() == "my notes, not a report\n"


def test_a_report_or_an_empty_file_is_written_over(tmp_path, run_batchwarp):
    """What may be written over still is: the same command again, and an
    empty file made beforehand."""
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    report.write_text("")
    for _ in range(2):
        res = run(run_batchwarp, [*WARP, "-q", "-overwrite", "-report", report, *sources, "-outdir", out])
        assert res.returncode == 0, res.stderr
        assert len(report.read_text().splitlines()) == 2


@pytest.mark.parametrize("name", ["t0000.tif.aux.xml", "t0001.ovr"])
def test_a_report_named_like_an_outputs_sidecar_is_refused(tmp_path, run_batchwarp, name):
    """Publishing t0000.tif removed a report named t0000.tif.aux.xml beside
    it (a stale sidecar to GDAL's eyes) and the run still ended well."""
    sources = make_small_rasters(tmp_path / "in", 2)
    out = tmp_path / "out"
    report = out / name
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"Report '{report}' is named like a sidecar of the output")


def test_a_report_with_another_hard_link_is_not_written(tmp_path, run_batchwarp):
    """A hard link at the report's name to a report kept elsewhere (which
    another user can make of root's files where fs.protected_hardlinks is
    off): truncating it would empty the other one."""
    sources = make_small_rasters(tmp_path / "in", 2)
    kept = tmp_path / "kept.jsonl"
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", kept, *sources, "-outdir", out])
    assert res.returncode == 0, res.stderr
    text = kept.read_text()
    report = tmp_path / "report.jsonl"
    os.link(kept, report)
    res = run(run_batchwarp, [*WARP, "-q", "-overwrite", "-report", report, *sources, "-outdir", out])
    assert res.returncode == 2, res.stderr
    assert f"Report '{report}' has 1 other hard links" in res.stderr, res.stderr
    assert kept.read_text() == text


@needs_root
def test_a_link_of_another_user_on_the_way_to_the_report_is_not_followed(tmp_path, world, run_batchwarp):
    """nobody puts a link named like the directory the report goes to, to a
    directory of root's holding a report: root's report there would have
    been emptied and written (or a new file made there)."""
    base, shared, victim = world
    sources = make_small_rasters(tmp_path / "in", 2)
    roots = os.path.join(base, "roots")
    os.mkdir(roots)
    with open(os.path.join(roots, "report.jsonl"), "w") as f:
        f.write('{"source":"kept.tif","ok":true}\n')
    link = os.path.join(shared, "reports")
    as_nobody("ln", "-s", roots, link)
    report = os.path.join(link, "report.jsonl")
    out = tmp_path / "out"
    res = run(run_batchwarp, [*WARP, "-q", "-report", report, *sources, "-outdir", out])
    refused_before_any_work(res, out, f"'{link}' on the way to -report '{shared}/reports' is a symbolic link of "
                                      "another user (uid 65534)")
    assert os.listdir(roots) == ["report.jsonl"]
    with open(os.path.join(roots, "report.jsonl")) as f:
        assert f.read() == '{"source":"kept.tif","ok":true}\n'
