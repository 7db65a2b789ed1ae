"""Report lines for file names that are not valid UTF-8. A Linux file name is
bytes: a source named b"caf\\xe9.tif" (Latin-1) used to be written into the
JSON report as those raw bytes, so that Python's json.loads (reading the file
as UTF-8) could not read the report at all. Every line is now valid UTF-8 and
strict JSON (the bad bytes as U+FFFD, never a lone surrogate escape), and a
"source_bytes"/"output_bytes" field holds such a name's exact bytes in base64,
which -retry_failed and -merge_reports use."""
import base64
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import DEFAULT_TIMEOUT, make_raster, parse_report

WARP = ["-t_srs", "EPSG:3857"]

# Latin-1 e-acute, a lone 0xff, valid UTF-8 e-acute then a bad byte, and a
# valid UTF-8 name holding U+FFFD itself: the first two and the last have
# the same text once the bad bytes are U+FFFD, only their bytes differ.
LATIN1 = b"caf\xe9.tif"
LONE_FF = b"caf\xff.tif"
MIXED = b"\xc3\xa9t\xe9.tif"
LITERAL_FFFD = "caf\ufffd.tif".encode()
PLAIN = b"plain.tif"
NOT_UTF8 = {LATIN1, LONE_FF, MIXED}
# Lone surrogate escapes (\udcXX), which strict parsers such as Rust's
# serde_json refuse even though Python's json.loads takes them.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def run(batchwarp_bin, args, **kw):
    """The program with bytes arguments; bytes stdout/stderr."""
    return subprocess.run([os.fsencode(str(batchwarp_bin)), *[os.fsencode(a) for a in args]],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          timeout=DEFAULT_TIMEOUT, **kw)


def make_sources(directory, names, bad=()):
    """A small raster under each name (bytes) in `directory`; the names in
    `bad` get a file that is not a raster. Returns their bytes paths."""
    directory = os.fsencode(directory)
    os.makedirs(directory, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        path = os.path.join(directory, name)
        if name in bad:
            with open(path, "wb") as f:
                f.write(b"not a raster\n")
        else:
            # GDAL's Python bindings take text: made under an ASCII name.
            tmp = os.path.join(directory, b"tmp%d.tif" % i)
            make_raster(os.fsdecode(tmp), xsize=8, ysize=8, seed=i, origin=(2.0 + 0.1 * i, 49.0))
            os.rename(tmp, path)
        paths.append(path)
    return paths


def strict_records(path):
    """The report's records, each line decoded as strict UTF-8 and parsed
    with Python's json.loads; also checked by jq, and against lone surrogate
    escapes. Returns the records (with the documented fields, see
    conftest.parse_report)."""
    with open(path, "rb") as f:
        data = f.read()
    lines = []
    for n, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8")  # strict
        except UnicodeDecodeError as e:
            pytest.fail(f"report line {n} is not valid UTF-8 ({e}): {raw!r}")
        assert not SURROGATE_ESCAPE.search(line), f"lone surrogate escape in line {n}: {line}"
        json.loads(line)
        lines.append(line)
    records = parse_report("\n".join(lines) + "\n")
    # jq (a strict parser too) reads the same values.
    jq = shutil.which("jq")
    if jq is not None:
        out = subprocess.run([jq, "-c", "."], input=data, stdout=subprocess.PIPE, check=True).stdout
        assert [json.loads(l) for l in out.decode("utf-8").splitlines()] == records
    return records


def exact(record, field):
    """The exact bytes of a path field: <field>_bytes when there, else the
    text; checks that the bytes field is there exactly when it is needed."""
    key = field + "_bytes"
    if key not in record:
        value = record[field].encode("utf-8")
        return value
    value = base64.b64decode(record[key], validate=True)
    with pytest.raises(UnicodeDecodeError):
        value.decode("utf-8")
    # The text is the name with each bad byte as U+FFFD (these names have
    # only isolated bad bytes, where Python's "replace" does the same).
    assert record[field] == value.decode("utf-8", "replace"), record
    return value


def by_exact_source(records):
    found = {}
    for record in records:
        source = exact(record, "source")
        assert source not in found, f"{source!r} reported twice"
        found[source] = record
    return found


def test_report_of_names_that_are_not_utf8_is_strict_json_and_exact(tmp_path, batchwarp_bin):
    names = [LATIN1, LONE_FF, MIXED, LITERAL_FFFD, PLAIN]
    sources = make_sources(tmp_path / "in", names, bad={MIXED})
    outdir = os.fsencode(tmp_path / "out")
    report = tmp_path / "report.jsonl"
    res = run(batchwarp_bin, [*WARP, "-q", "-print_outputs", "-report", report, *sources,
                              "-outdir", outdir])
    assert res.returncode == 1, res.stderr  # MIXED is not a raster
    records = by_exact_source(strict_records(report))
    assert set(records) == set(sources)
    for source, record in records.items():
        name = os.path.basename(source)
        output = exact(record, "output")
        assert output == os.path.join(outdir, name), record
        assert ("source_bytes" in record) == (name in NOT_UTF8), record
        assert ("output_bytes" in record) == (name in NOT_UTF8), record
        assert record["ok"] == (name != MIXED), record
        assert os.path.exists(output) == record["ok"], record
    # -print_outputs prints the outputs' exact bytes, one a line, for the
    # next program of a pipeline (as find -print does).
    assert sorted(res.stdout.splitlines()) == sorted(
        os.path.join(outdir, n) for n in names if n != MIXED)


def test_print_outputs_refuses_a_name_with_a_newline_and_null_ends_each_with_nul(tmp_path, batchwarp_bin):
    """-print_outputs prints one path a line: an output named 'a<newline>b.tif'
    was printed as two lines, which the next program (xargs, gdalbuildvrt
    -input_file_list) read as the names 'a' and 'b.tif'. Such a batch is now
    refused before any work (exit 2), naming the output and the way out:
    with -null, as for -input_file_list, each path ends with a NUL byte
    (find -print0, xargs -0), and any name reads back exactly."""
    names = [b"a\nb.tif", PLAIN]
    sources = make_sources(tmp_path / "in", names)
    outdir = os.fsencode(tmp_path / "out")
    res = run(batchwarp_bin, [*WARP, "-q", "-print_outputs", *sources, "-outdir", outdir])
    assert res.returncode == 2, res.stderr
    assert b"Output '" + os.path.join(outdir, names[0]) + b"'" in res.stderr, res.stderr
    assert b"-null" in res.stderr and res.stdout == b"", res
    assert not os.path.exists(outdir) or os.listdir(outdir) == []
    res = run(batchwarp_bin, [*WARP, "-q", "-null", "-print_outputs", *sources, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(b"\0"), res.stdout
    printed = res.stdout[:-1].split(b"\0")
    assert sorted(printed) == sorted(os.path.join(outdir, n) for n in names), res.stdout
    assert all(os.path.isfile(p) for p in printed)


def test_dry_run_refuses_a_name_with_a_newline_and_null_ends_each_line_with_nul(tmp_path, batchwarp_bin):
    """-dry_run prints one 'source -> output' line per source: a source
    'a<newline>b.tif' came out as two lines, which a reader of lines could
    not tell from two sources. As -print_outputs, such a plan is refused
    (exit 2), naming the file and -null; with -null each line ends with a
    NUL byte instead (find -print0, xargs -0), and any name reads back."""
    names = [b"a\nb.tif", PLAIN]
    sources = make_sources(tmp_path / "in", names)
    outdir = os.fsencode(tmp_path / "out")
    res = run(batchwarp_bin, [*WARP, "-dry_run", *sources, "-outdir", outdir])
    assert res.returncode == 2, res.stderr
    assert b"Source '" + sources[0] + b"'" in res.stderr, res.stderr
    assert b"-null" in res.stderr and res.stdout == b"", res
    res = run(batchwarp_bin, [*WARP, "-null", "-dry_run", *sources, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(b"\0"), res.stdout
    assert sorted(res.stdout[:-1].split(b"\0")) == sorted(
        s + b" -> " + os.path.join(outdir, n) for s, n in zip(sources, names)), res.stdout
    assert not os.path.exists(outdir)


def test_report_to_stdout_is_strict_json(tmp_path, batchwarp_bin):
    sources = make_sources(tmp_path / "in", [LATIN1, PLAIN])
    res = run(batchwarp_bin, [*WARP, "-q", "-report", "-", *sources, "-outdir", tmp_path / "out"])
    assert res.returncode == 0, res.stderr
    (tmp_path / "stdout.jsonl").write_bytes(res.stdout)
    records = by_exact_source(strict_records(tmp_path / "stdout.jsonl"))
    assert set(records) == set(sources)


def test_retry_failed_retries_exactly_the_failed_name(tmp_path, batchwarp_bin):
    """Three names whose text is the same once the bad bytes are U+FFFD: only
    the one that failed is retried, under its own bytes."""
    names = [LATIN1, LONE_FF, LITERAL_FFFD, MIXED]
    sources = make_sources(tmp_path / "in", names, bad={LATIN1, MIXED})
    outdir = os.fsencode(tmp_path / "out")
    res = run(batchwarp_bin, [*WARP, "-q", "-report", tmp_path / "r1.jsonl", *sources,
                              "-outdir", outdir])
    assert res.returncode == 1, res.stderr
    first = by_exact_source(strict_records(tmp_path / "r1.jsonl"))
    assert {os.path.basename(s) for s, r in first.items() if not r["ok"]} == {LATIN1, MIXED}

    # The broken files are fixed; another file under the same text as
    # LATIN1's is removed, to show which one the retry takes.
    make_sources(tmp_path / "in", [LATIN1, MIXED])
    os.remove(os.path.join(outdir, LONE_FF))
    res = run(batchwarp_bin, [*WARP, "-q", "-retry_failed", tmp_path / "r1.jsonl", "-report",
                              tmp_path / "r2.jsonl", "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    retried = by_exact_source(strict_records(tmp_path / "r2.jsonl"))
    assert set(retried) == {os.path.join(os.fsencode(tmp_path / "in"), n) for n in (LATIN1, MIXED)}
    assert all(r["ok"] and not r["skipped"] for r in retried.values())
    assert sorted(os.listdir(outdir)) == sorted([LATIN1, LITERAL_FFFD, MIXED])


def test_shard_merge_keeps_names_that_are_not_utf8(tmp_path, batchwarp_bin):
    names = [LATIN1, LONE_FF, MIXED, LITERAL_FFFD, PLAIN]
    sources = make_sources(tmp_path / "in", names, bad={LONE_FF})
    outdir = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "JOB_COMPLETION",
                                                                    "AWS_BATCH", "BATCHWARP_SHARD"))}
    shards = []
    for index in (0, 1):
        shards.append(tmp_path / f"s{index}.jsonl")
        run(batchwarp_bin, [*WARP, "-q", "-shard", f"{index}/2", "-report", shards[-1], *sources,
                            "-outdir", outdir], env=env)
        strict_records(shards[-1])
    res = run(batchwarp_bin, ["-merge_reports", *shards, "-report", tmp_path / "all.jsonl"], env=env)
    assert res.returncode == 1, res.stderr  # LONE_FF failed
    merged = by_exact_source(strict_records(tmp_path / "all.jsonl"))
    assert set(merged) == set(sources)
    assert {os.path.basename(s) for s, r in merged.items() if not r["ok"]} == {LONE_FF}
    for source, record in merged.items():
        assert exact(record, "output") == os.path.join(os.fsencode(outdir), os.path.basename(source))

    # A retry from the merged report takes the failed name's bytes.
    make_sources(tmp_path / "in", [LONE_FF])
    res = run(batchwarp_bin, [*WARP, "-q", "-retry_failed", tmp_path / "all.jsonl", "-report",
                              tmp_path / "retry.jsonl", "-outdir", outdir], env=env)
    assert res.returncode == 0, res.stderr
    assert set(by_exact_source(strict_records(tmp_path / "retry.jsonl"))) == {
        os.path.join(os.fsencode(tmp_path / "in"), LONE_FF)}


def test_merging_an_older_report_with_raw_bytes_makes_it_strict(tmp_path, batchwarp_bin):
    """A report written before the bytes fields holds a name's raw bytes in
    its JSON strings: it is still read, and merged as valid UTF-8 with the
    exact bytes beside the text."""
    source = os.path.join(os.fsencode(tmp_path), LATIN1)
    output = os.path.join(os.fsencode(tmp_path), b"out", MIXED)
    old = (b'{"source":"' + source + b'","output":"' + output + b'","ok":false,"skipped":false,'
           b'"error":"`' + source + b'\' not recognized","seconds":0.1,"worker_pid":7,"attempts":1,'
           b'"threads":1,"shard":null,"messages":["ERROR 4: ' + source + b'"]}\n')
    (tmp_path / "old.jsonl").write_bytes(old)
    res = run(batchwarp_bin, ["-merge_reports", tmp_path / "old.jsonl", "-report",
                              tmp_path / "all.jsonl"])
    assert res.returncode == 1, res.stderr
    (record,) = strict_records(tmp_path / "all.jsonl")
    assert exact(record, "source") == source
    assert exact(record, "output") == output
    assert record["error"] == "`" + source.decode("utf-8", "replace") + "' not recognized"


def test_retry_into_its_own_report_keeps_it_strict_and_exact(tmp_path, batchwarp_bin):
    """-retry_failed R -report R appends the retry's lines to R: R stays
    strict UTF-8 JSON, and each name's latest line is about its own bytes."""
    names = [LATIN1, LONE_FF, LITERAL_FFFD]
    sources = make_sources(tmp_path / "in", names, bad={LATIN1, LONE_FF})
    outdir = os.fsencode(tmp_path / "out")
    report = tmp_path / "r.jsonl"
    res = run(batchwarp_bin, [*WARP, "-q", "-report", report, *sources, "-outdir", outdir])
    assert res.returncode == 1, res.stderr
    make_sources(tmp_path / "in", [LONE_FF])  # LATIN1 stays broken
    res = run(batchwarp_bin, [*WARP, "-q", "-retry_failed", report, "-report", report,
                              "-outdir", outdir])
    assert res.returncode == 1, res.stderr
    records = strict_records(report)
    assert len(records) == 5, records
    latest = {}
    for record in records:
        latest[exact(record, "source")] = record["ok"]
    assert {os.path.basename(s): ok for s, ok in latest.items()} == {
        LATIN1: False, LONE_FF: True, LITERAL_FFFD: True}
    # And the next retry takes exactly the one still failing.
    res = run(batchwarp_bin, [*WARP, "-q", "-dry_run", "-retry_failed", report, "-outdir", outdir])
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        os.path.join(os.fsencode(tmp_path / "in"), LATIN1) + b" -> " + os.path.join(outdir, LATIN1)]
