"""bench/quality.py runs end to end on the labelled library and reports every figure per split."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quality_benchmark_runs_and_reports_each_split(tmp_path):
    out = tmp_path / "quality.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken")}

    command = [sys.executable, "bench/quality.py", "--embedders", "hash", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["documents"] >= 30 and report["questions"] >= 80
    splits = report["embedders"]["hash"]["splits"]
    assert {"dev", "heldout", "all"} <= set(splits)
    for figures in splits.values():
        assert 0 < figures["recall@1"] <= figures["recall@5"] <= 1
        assert figures["caught"].count("/") == 1 and figures["false_refusals"].count("/") == 1
    # the hashed n-grams find the right guide for most same-language questions
    assert splits["all"]["recall@5"] > 0.8
