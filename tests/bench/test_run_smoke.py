"""bench/run.py --smoke: the benchmark still runs end to end, and each scenario measures what it says."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_benchmark_runs_and_each_scenario_gets_the_answers_it_measures(tmp_path):
    # given nothing but this checkout: the runner starts its own databases, LLM stand-in and app
    out = tmp_path / "smoke.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken")}

    # when the smallest run goes through every scenario it starts servers for
    command = [sys.executable, "bench/run.py", "--smoke", "--only", "overhead,slow,ingest", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    # then it finishes, and the miss, exact and semantic runs were answered from where they claim
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    for kind, cache in (("miss", "none"), ("exact", "exact"), ("semantic", "semantic")):
        for row in result["overhead"][kind].values():
            assert row["errors"] == 0
            assert set(row["cache"]) == {cache}, (kind, row["cache"])
            assert row["p50_ms"] > 0 and row["rps"] > 0
    for row in result["overhead"]["profile"].values():  # GET /auth/me, no ask: the stack's own cost
        assert row["errors"] == 0 and row["p50_ms"] > 0 and row["rps"] > 0
    slow = next(iter(result["slow"]["by_concurrency"].values()))
    assert slow["errors"] == 0 and slow["p50_ms"] >= result["slow"]["delay_s"] * 1000
    assert all(row["rss_mb_max"] for row in result["slow"]["by_concurrency"].values())
    assert {row["embedder"] for row in result["ingest"]} == {"offline", "openai"}
    assert all(row["chunks"] > 0 and row["chunks"] == row["embedded"] for row in result["ingest"])
    assert all(row["chunks_per_s_spread"] == [row["chunks_per_s"]] * 2 for row in result["ingest"])  # one run each
    assert "| miss | 1 |" in done.stdout and "| profile | 1 |" in done.stdout  # the table a person reads
