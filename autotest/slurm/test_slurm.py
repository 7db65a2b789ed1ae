"""A real one-node Slurm cluster (slurm-up/slurm-down in this directory):
a job array runs gdal_batchwarp with no -shard option, each array task takes
its share from SLURM_ARRAY_TASK_ID/COUNT, and the merged report shows every
file ok. Skipped, with the reason, where Slurm cannot be installed or run."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import assert_same_raster, make_small_rasters, norm, read_report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WARP = ["-t_srs", "EPSG:3857", "-r", "bilinear"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm_state")
    res = subprocess.run([os.path.join(HERE, "slurm-up"), str(state)], capture_output=True, text=True,
                         timeout=300)
    if res.returncode == 77:
        pytest.skip(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "Slurm unavailable")
    try:
        assert res.returncode == 0, f"slurm-up failed:\n{res.stderr}"
        yield {**os.environ, "SLURM_CONF": res.stdout.strip().splitlines()[-1]}
    finally:
        subprocess.run([os.path.join(HERE, "slurm-down"), str(state)], timeout=60)


def sbatch_array(env, script, workdir, tasks=4):
    res = subprocess.run(["sbatch", f"--array=0-{tasks - 1}", "--wait", "--chdir", str(workdir),
                          "-o", str(workdir / "slurm-%A_%a.out"), str(script)],
                         capture_output=True, text=True, env=env, timeout=600)
    logs = "".join(p.read_text() for p in sorted(workdir.glob("slurm-*.out")))
    assert res.returncode == 0, f"sbatch failed: {res.stdout}{res.stderr}\n{logs}"
    return logs


def test_array_tasks_see_their_index_and_count(tmp_path, slurm):
    script = tmp_path / "env.sh"
    script.write_text("#!/bin/sh\n"
                      'echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN '
                      '$SLURM_ARRAY_TASK_MAX" > "task_$SLURM_ARRAY_TASK_ID.txt"\n')
    script.chmod(0o755)
    sbatch_array(slurm, script, tmp_path)
    seen = sorted((tmp_path / f"task_{i}.txt").read_text().split() for i in range(4))
    assert seen == [[str(i), "4", "0", "3"] for i in range(4)]


def test_batchwarp_array_job(tmp_path, slurm, batchwarp_bin, run_batchwarp, run_gdalwarp):
    sources = make_small_rasters(tmp_path / "tiles", 40, size=32)
    (tmp_path / "reports").mkdir()
    script = tmp_path / "warp.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'exec "{batchwarp_bin}" {" ".join(WARP)} -q -j 1 '
        '-report "reports/shard_$SLURM_ARRAY_TASK_ID.jsonl" tiles -outdir out\n')
    script.chmod(0o755)
    sbatch_array(slurm, script, tmp_path)

    shards = [read_report(tmp_path / "reports" / f"shard_{i}.jsonl") for i in range(4)]
    # The job ran in tmp_path: its reports name sources relative to it.
    per_shard = [{norm(tmp_path / r["source"]) for r in records} for records in shards]
    assert sum(len(s) for s in per_shard) == 40, [len(s) for s in per_shard]
    assert set().union(*per_shard) == {norm(s) for s in sources}
    assert all(6 <= len(s) <= 14 for s in per_shard), [len(s) for s in per_shard]
    for i, records in enumerate(shards):
        assert {r["shard"] for r in records} == {f"{i}/4"}
    for s in sources[::5]:
        ref = tmp_path / "ref.tif"
        run_gdalwarp(WARP, s, ref)
        assert_same_raster(tmp_path / "out" / os.path.basename(s), ref)
        os.unlink(ref)

    merged = tmp_path / "merged.jsonl"
    res = run_batchwarp(["-merge_reports", *sorted((tmp_path / "reports").glob("*.jsonl")), "-report", merged],
                        cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    records = read_report(merged)
    assert len(records) == 40 and all(r["ok"] for r in records)
