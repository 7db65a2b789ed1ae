"""A report given to -retry_failed is input that someone else may have
written (or damaged): its "output" / "output_bytes" fields choose no file.
A retried source's output is the one this run's plan names for it (with the
subdirectory of a -recursive run, whose relative path the report alone
knows), never another name the report gives: up to this test, any name in a
directory below -outdir was taken as it was, so a crafted line retried a
source into another source's output, or (-overwrite) replaced a file below
-outdir that no batch ever wrote, such as a user's notes."""
import base64
import json
import os

from conftest import file_bytes, make_small_rasters

WARP = ["-t_srs", "EPSG:3857", "-of", "GTiff"]


def _line(source, output, **extra):
    return json.dumps({"source": str(source), "output": str(output), "ok": False, "error": "x", **extra})


def _tree(base):
    files = []
    for root, _dirs, names in os.walk(base):
        files += [os.path.relpath(os.path.join(root, n), base) for n in names]
    return sorted(files)


def test_a_crafted_report_names_no_output_of_its_own(tmp_path, run_batchwarp):
    srcs = make_small_rasters(str(tmp_path / "src"), 4)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    notes = out / "sub" / "notes.txt"
    notes.write_bytes(b"precious\n")
    other = out / "keep.tif"
    other.write_bytes(b"not ours\n")
    report = tmp_path / "crafted.jsonl"
    report.write_text("\n".join([
        # another source's output
        _line(srcs[0], out / "t0001.tif"),
        # a file below -outdir that no batch wrote, in the bytes field (the
        # text says what the plan would name)
        _line(srcs[1], out / "t0001.tif",
              output_bytes=base64.b64encode(os.fsencode(notes)).decode()),
        # a name of the right directory but not this source's
        _line(srcs[2], out / "keep.tif"),
        # the parent of -outdir
        _line(srcs[3], out / "sub" / ".." / ".."),
    ]) + "\n")
    res = run_batchwarp([*WARP, "-q", "-overwrite", "-retry_failed", report, "-report", tmp_path / "r.jsonl",
                         "-outdir", out])
    assert res.returncode == 0, res.stderr
    assert file_bytes(notes) == b"precious\n"
    assert file_bytes(other) == b"not ours\n"
    assert _tree(out) == ["keep.tif", "sub/notes.txt", "t0000.tif", "t0001.tif", "t0002.tif", "t0003.tif"]
    with open(tmp_path / "r.jsonl") as f:
        outputs = {json.loads(line)["source"]: json.loads(line)["output"] for line in f}
    assert outputs == {s: str(out / os.path.basename(s)) for s in srcs}


def test_a_retry_keeps_the_subdirectory_the_plan_would_name(tmp_path, run_batchwarp):
    """What the fix keeps: a -recursive run's subdirectories (a trailing part
    of the source's directory), with this run's -output_template."""
    tree = tmp_path / "tree"
    srcs = make_small_rasters(str(tree / "a" / "b"), 2)
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    report.write_text("\n".join([
        _line(srcs[0], out / "a" / "b" / "t0000_w.tif"),
        # the right subdirectory, another name: the plan's name there
        _line(srcs[1], out / "b" / "t0000_w.tif"),
    ]) + "\n")
    res = run_batchwarp([*WARP, "-q", "-retry_failed", report, "-outdir", out,
                         "-output_template", "{relpath}/{stem}_w.{ext}"])
    assert res.returncode == 0, res.stderr
    assert _tree(out) == ["a/b/t0000_w.tif", "t0001_w.tif"]
