"""Scenario 5 runs ingestion several times per embedder: the table shows the median run and the spread."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from ingest import ingest_median


def test_the_median_run_is_reported_with_every_rate_and_their_spread():
    rates = ((60.0, 168.0), (66.0, 152.7), (58.1, 173.4))
    runs = [{"embedder": "openai", "seconds": seconds, "chunks_per_s": rate} for seconds, rate in rates]

    row = ingest_median(runs)

    assert (row["seconds"], row["chunks_per_s"]) == (60.0, 168.0)  # one real run's figures, not a mix
    assert row["runs"] == [168.0, 152.7, 173.4]
    assert row["chunks_per_s_spread"] == [152.7, 173.4]


def test_one_run_is_its_own_median():
    row = ingest_median([{"embedder": "offline", "seconds": 57.2, "chunks_per_s": 176.0}])

    assert (row["chunks_per_s"], row["chunks_per_s_spread"], row["runs"]) == (176.0, [176.0, 176.0], [176.0])
