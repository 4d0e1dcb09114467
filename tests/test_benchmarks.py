"""benchmarks/classify.py runs end to end on a few texts; timings are not checked, only the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import classifiers
from benchmarks import classify as bench
from tests.test_classifiers import small_records, write_jsonl


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "model"
    classifiers.train(write_jsonl(folder / "small.jsonl", small_records()), out)
    return out


def test_texts_are_distinct():
    texts = bench.make_texts(500)
    assert len(set(texts)) == 500


def test_benchmark_report_structure(model):
    report = bench.run(texts=200, cli_lines=200, memory_texts=2000, model=model, say=lambda _: None)
    json.dumps(report)
    for path in ("nlp_pipe", "predict"):
        assert set(report[path]) >= {
            "texts", "texts_per_second", "batch_p50_ms", "batch_p99_ms", "single_p50_ms", "single_p99_ms",
        }
        assert report[path]["texts"] == 200 and report[path]["texts_per_second"] > 0
    assert report["scores_only"]["texts"] == 200
    assert report["predict_vs_nlp_pipe"] > 0 and report["fast_path"] is True
    assert report["cli"]["lines"] == 200 and report["cli"]["texts_per_second"] > 0
    assert set(report["memory"]) == {"predict", "nlp_pipe_memory_zone", "nlp_pipe_no_zone"}
    assert all(m["texts"] == 2000 and m["rss_after_mb"] > 0 for m in report["memory"].values())
    table = bench.markdown(report)
    assert "`datacall classify`" in table and "nlp_pipe_memory_zone" in table
