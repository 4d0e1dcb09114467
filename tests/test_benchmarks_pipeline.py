"""benchmarks/pipeline.py runs end to end on a tiny backlog; timings are not checked, only the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import classifiers
from benchmarks import pipeline as bench
from tests.test_classifiers import small_records, write_jsonl


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench-pipeline")
    out = folder / "model"
    classifiers.train(write_jsonl(folder / "small.jsonl", small_records()), out)
    return out


def test_pipeline_benchmark_report(model):
    report = bench.run(sizes=[60], databases=["sqlite", "postgresql"], worker_counts=[1, 2],
                       memory_messages=40, model=model, say=lambda _text: None, timeout=300)
    json.dumps(report)
    assert [(row["database"], row["messages"]) for row in report["results"]] == [("sqlite", 60), ("postgresql", 60)]
    for row in report["results"]:
        for path in ("ceiling", "plain", "in_process", "once", "workers_1", "workers_2"):
            assert row[path]["seconds"] > 0 and row[path]["ratio_to_ceiling"] > 0, (row["database"], path)
            assert row[path]["cpu_seconds"] > 0 and row[path]["ratio_to_ceiling_cpu"] > 0, (row["database"], path)
        assert row["ceiling"]["ratio_to_ceiling"] == 1.0
        assert row["once"]["complete"] is True
        # Every request opened was acknowledged through the sandbox network.
        assert row["in_process"]["acknowledgements"] == row["in_process"]["requests"]
        assert row["workers_2"]["locked"] == 0
    assert report["startup"]["run_once_empty_s"] > 0 and report["startup"]["run_once_empty_cpu_s"] > 0
    assert report["memory"]["messages"] == 40 and report["memory"]["rss_max_mb"] > 0
    table = bench.markdown(report)
    assert "plain batched script" in table and "`datacall run` × 2" in table and "Memory:" in table
