"""Sharding for array jobs: -shard I/N and the schedulers' environment
variables give each run a deterministic, size-balanced share of the batch;
the shards' reports merge into one with a combined status."""
import os
import random

import pytest

from conftest import all_files, make_raster, norm, parse_report, read_report

WARP = ["-t_srs", "EPSG:3857"]
SCHEDULER_VARS = ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                  "SLURM_ARRAY_TASK_MAX", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                  "BATCHWARP_SHARD_COUNT"]


def clean_env(**extra):
    """The environment without any scheduler's variables (the tests may run
    inside a Slurm job themselves), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SCHEDULER_VARS}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="module")
def uneven_sources(tmp_path_factory):
    """25 rasters of very different sizes (8x8 to 160x160), so that a share
    by count would be badly unbalanced by size."""
    directory = tmp_path_factory.mktemp("uneven")
    rng = random.Random(7)
    paths = []
    for i in range(25):
        size = rng.choice([8, 8, 8, 16, 32, 64, 160])
        paths.append(make_raster(directory / f"r{i:02d}.tif", xsize=size, ysize=size, seed=i,
                                 origin=(2.0 + 0.01 * i, 49.0)))
    return sorted(paths)


def run_shard(run_batchwarp, sources, outdir, report, shard_args=(), env=None):
    res = run_batchwarp([*WARP, "-q", "-j", "2", *shard_args, "-report", report, *sources,
                         "-outdir", outdir], env=env or clean_env())
    assert res.returncode == 0, res.stderr
    return read_report(report)


@pytest.mark.parametrize("count", [1, 3, 7])
def test_shards_partition_the_batch(tmp_path, run_batchwarp, uneven_sources, count):
    outdir = tmp_path / "out"
    shards = []
    for index in range(count):
        records = run_shard(run_batchwarp, uneven_sources, outdir, tmp_path / f"r{index}.jsonl",
                            ["-shard", f"{index}/{count}"])
        assert {r["shard"] for r in records} == {f"{index}/{count}"}
        shards.append({norm(r["source"]) for r in records})

    # Exactly the whole batch, each source in one shard only.
    assert sum(len(s) for s in shards) == len(uneven_sources)
    assert set().union(*shards) == {norm(s) for s in uneven_sources}
    assert all_files(outdir) == sorted(os.path.basename(s) for s in uneven_sources)

    # Balanced by size: no shard exceeds another by more than its largest file.
    sizes = {norm(s): os.path.getsize(s) for s in uneven_sources}
    loads = [sum(sizes[s] for s in shard) for shard in shards]
    assert max(loads) - min(loads) <= max(sizes.values()), loads
    if count > 1:
        counts = sorted(len(s) for s in shards)
        assert counts[0] != counts[-1] or count == len(uneven_sources), (
            "shares equal by count: the split does not look at sizes")


@pytest.mark.parametrize("count", [3, 7])
def test_shards_do_not_depend_on_source_order(tmp_path, run_batchwarp, uneven_sources, count):
    shuffled = list(uneven_sources)
    random.Random(3).shuffle(shuffled)
    for index in range(count):
        a = run_shard(run_batchwarp, uneven_sources, tmp_path / "a", tmp_path / f"a{index}.jsonl",
                      ["-shard", f"{index}/{count}"])
        b = run_shard(run_batchwarp, shuffled, tmp_path / "b", tmp_path / f"b{index}.jsonl",
                      ["-shard", f"{index}/{count}"])
        assert {norm(r["source"]) for r in a} == {norm(r["source"]) for r in b}


def _sources_of(records):
    return {norm(r["source"]) for r in records}


def test_shard_from_slurm_environment(tmp_path, run_batchwarp, uneven_sources):
    explicit = _sources_of(run_shard(run_batchwarp, uneven_sources, tmp_path / "x", tmp_path / "x.jsonl",
                                     ["-shard", "2/4"]))
    # --array=0-3: ID with COUNT.
    by_count = run_shard(run_batchwarp, uneven_sources, tmp_path / "c", tmp_path / "c.jsonl",
                         env=clean_env(SLURM_ARRAY_TASK_ID=2, SLURM_ARRAY_TASK_COUNT=4))
    assert _sources_of(by_count) == explicit
    assert {r["shard"] for r in by_count} == {"2/4"}
    # --array=5-8: the index is the offset from MIN.
    by_range = run_shard(run_batchwarp, uneven_sources, tmp_path / "m", tmp_path / "m.jsonl",
                         env=clean_env(SLURM_ARRAY_TASK_ID=7, SLURM_ARRAY_TASK_MIN=5, SLURM_ARRAY_TASK_MAX=8))
    assert _sources_of(by_range) == explicit


def test_shard_from_kubernetes_and_aws_batch_environment(tmp_path, run_batchwarp, uneven_sources):
    explicit = _sources_of(run_shard(run_batchwarp, uneven_sources, tmp_path / "x", tmp_path / "x.jsonl",
                                     ["-shard", "1/3"]))
    k8s = run_shard(run_batchwarp, uneven_sources, tmp_path / "k", tmp_path / "k.jsonl",
                    env=clean_env(JOB_COMPLETION_INDEX=1, BATCHWARP_SHARD_COUNT=3))
    assert _sources_of(k8s) == explicit
    aws = run_shard(run_batchwarp, uneven_sources, tmp_path / "a", tmp_path / "a.jsonl", ["-shard_count", "3"],
                    env=clean_env(AWS_BATCH_JOB_ARRAY_INDEX=1))
    assert _sources_of(aws) == explicit


@pytest.mark.parametrize("env, args, message", [
    (dict(JOB_COMPLETION_INDEX=1), [], "JOB_COMPLETION_INDEX is set, but the number of shards is not"),
    (dict(SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_COUNT=4), [], "SLURM_ARRAY_TASK_ID=4 is outside an array of 4"),
    (dict(SLURM_ARRAY_TASK_ID=1), [], "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT"),
    ({}, ["-shard", "3/3"], "-shard expects I/N with 0 <= I < N"),
    ({}, ["-shard", "1-3"], "-shard expects I/N"),
    ({}, ["-shard_count", "3"], "-shard_count needs a shard index from the environment"),
])
def test_unusable_shard_settings_are_usage_errors(tmp_path, run_batchwarp, uneven_sources, env, args, message):
    res = run_batchwarp([*WARP, "-q", *args, *uneven_sources[:2], "-outdir", tmp_path / "out"],
                        env=clean_env(**env))
    assert res.returncode == 2
    assert message in res.stderr
    assert not (tmp_path / "out").exists()


def test_explicit_shard_overrides_the_environment(tmp_path, run_batchwarp, uneven_sources):
    records = run_shard(run_batchwarp, uneven_sources, tmp_path / "o", tmp_path / "o.jsonl", ["-shard", "0/1"],
                        env=clean_env(SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT=4))
    assert len(records) == len(uneven_sources)


def test_rerunning_a_shard_redoes_only_its_missing_outputs(tmp_path, run_batchwarp, uneven_sources):
    outdir = tmp_path / "out"
    first = run_shard(run_batchwarp, uneven_sources, outdir, tmp_path / "r1.jsonl", ["-shard", "1/3"])
    lost = first[0]["output"]
    os.unlink(lost)
    again = run_shard(run_batchwarp, uneven_sources, outdir, tmp_path / "r2.jsonl", ["-shard", "1/3"])
    redone = [r for r in again if not r["skipped"]]
    assert [r["output"] for r in redone] == [lost]
    assert _sources_of(again) == _sources_of(first)


def test_merge_reports_and_retry_failed(tmp_path, run_batchwarp, uneven_sources):
    src = list(uneven_sources[:9])
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    src.append(str(bad))
    outdir = tmp_path / "out"
    reports = []
    for index in range(3):
        report = tmp_path / f"shard{index}.jsonl"
        res = run_batchwarp([*WARP, "-q", "-shard", f"{index}/3", "-report", report, *src, "-outdir", outdir],
                            env=clean_env())
        assert res.returncode in (0, 1), res.stderr
        reports.append(report)

    merged = tmp_path / "merged.jsonl"
    res = run_batchwarp(["-merge_reports", *reports, "-report", merged])
    assert res.returncode == 1, "a failed source must make the merged status 1"
    records = read_report(merged)
    assert _sources_of(records) == {norm(s) for s in src}
    failed = [r for r in records if not r["ok"]]
    assert [norm(r["source"]) for r in failed] == [norm(bad)]
    assert "bad.tif" in res.stderr

    # To stdout without -report.
    res = run_batchwarp(["-merge_reports", *reports])
    assert len(parse_report(res.stdout)) == len(src)

    # Fix the bad file, retry from the merged report: only it is redone,
    # and a new merge is all ok.
    make_raster(bad, xsize=8, ysize=8)
    retry = tmp_path / "retry.jsonl"
    res = run_batchwarp([*WARP, "-q", "-retry_failed", merged, "-report", retry, "-outdir", outdir],
                        env=clean_env())
    assert res.returncode == 0, res.stderr
    assert [norm(r["source"]) for r in read_report(retry)] == [norm(bad)]
    res = run_batchwarp(["-merge_reports", *reports, retry, "-report", tmp_path / "merged2.jsonl"])
    assert res.returncode == 0, res.stderr
    assert all(r["ok"] for r in read_report(tmp_path / "merged2.jsonl"))


def test_merge_reports_names_a_bad_report(tmp_path, run_batchwarp):
    report = tmp_path / "broken.jsonl"
    report.write_text('{"source": "a.tif", "ok": true}\nnot json\n')
    res = run_batchwarp(["-merge_reports", report])
    assert res.returncode == 1
    assert f"Report '{report}', line 2: not valid JSON" in res.stderr
    res = run_batchwarp(["-merge_reports", tmp_path / "missing.jsonl"])
    assert res.returncode == 1
    assert "Cannot open report" in res.stderr and "missing.jsonl" in res.stderr


def _lines(n, prefix, shard):
    return "".join(f'{{"source":"{prefix}{i:04d}.tif","output":"out/{prefix}{i:04d}.tif","ok":true,'
                   f'"shard":"{shard}"}}\n' for i in range(n))


def _sources(report):
    import json
    return {json.loads(line)["source"] for line in report.read_text().splitlines()}


def _file_size_limit(limit):
    import resource
    import signal

    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def test_a_merge_into_one_of_its_reports_that_fails_midway_loses_nothing(tmp_path, run_batchwarp):
    """-merge_reports all.jsonl new.jsonl -report all.jsonl: the old code
    emptied all.jsonl, then wrote the merge into it; a merge stopped midway
    (here a write refused past a file size limit, as a full disk or a kill
    would) left all.jsonl cut, and the lines of all the shards lost. Now the
    merge is written beside it and renamed over it once whole."""
    everything = tmp_path / "all.jsonl"
    new = tmp_path / "new.jsonl"
    everything.write_text(_lines(300, "a", "0/2"))
    new.write_text(_lines(300, "b", "1/2"))
    before = everything.read_bytes()
    res = run_batchwarp(["-merge_reports", everything, new, "-report", everything],
                        preexec_fn=_file_size_limit(len(before) // 2))
    assert res.returncode != 0
    assert str(everything) in res.stderr, res.stderr
    assert everything.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["all.jsonl", "new.jsonl"]
    # And without the limit the merge replaces it, with both shards' lines.
    res = run_batchwarp(["-merge_reports", everything, new, "-report", everything])
    assert res.returncode == 0, res.stderr
    assert len(_sources(everything)) == 600
    assert sorted(os.listdir(tmp_path)) == ["all.jsonl", "new.jsonl"]


def test_a_merged_report_keeps_its_mode(tmp_path, run_batchwarp):
    report = tmp_path / "all.jsonl"
    shard = tmp_path / "s.jsonl"
    shard.write_text(_lines(3, "a", "0/1"))
    report.write_text("")
    os.chmod(report, 0o640)
    res = run_batchwarp(["-merge_reports", shard, "-report", report])
    assert res.returncode == 0, res.stderr
    assert os.stat(report).st_mode & 0o7777 == 0o640
    assert len(_sources(report)) == 3
