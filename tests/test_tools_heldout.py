"""tools/heldout.py: whole kinds and registers held out, pooled metrics, the band on held-out groups."""

from __future__ import annotations

import json
from collections import Counter

from tests.test_classifiers import small_records
from tools.compare import build
from tools.heldout import (
    DEFAULT_REGISTER,
    HELD_OUT_PRECISION,
    held_out_evaluation,
    kind_folds,
    markdown_tables,
    register_folds,
    register_of,
    report_of,
)

D, OFF = "data_request", "off_topic"


def records_with_groups() -> list[dict]:
    """The small corpus, each text given a kind (by template) and a register (forms vs replies)."""
    records = []
    for i, record in enumerate(small_records()):
        words = record["text"].split()
        kind = f"{record['label']}-{words[0].lower()}-{words[1].lower()}"
        register = "request_form" if i % 3 == 0 else ("email" if i % 3 == 1 else None)
        records.append({**record, "kind": kind, **({"register": register} if register else {})})
    return records


def test_kind_folds_keep_each_kind_whole_and_test_both_labels():
    records = records_with_groups()
    folds = kind_folds(records, 3)
    by_kind: dict[str, set[int]] = {}
    for record, fold in zip(records, folds, strict=False):
        by_kind.setdefault(record["kind"], set()).add(fold)
    assert all(len(f) == 1 for f in by_kind.values())
    for fold in range(3):
        assert {r["label"] for r, f in zip(records, folds, strict=False) if f == fold} == {D, OFF}


def test_register_folds_hold_out_big_registers_only():
    records = [{"text": f"t{i}", "label": D, "register": "email"} for i in range(40)]
    records += [{"text": f"u{i}", "label": OFF} for i in range(40)]  # no register: tweet_reply
    records += [{"text": f"v{i}", "label": OFF, "register": "petition"} for i in range(5)]
    folds, held = register_folds(records)
    assert held == ["email", DEFAULT_REGISTER]
    assert Counter(folds) == {0: 40, 1: 40, None: 5}
    assert register_of(records[-1]) == "petition" and register_of(records[40]) == DEFAULT_REGISTER
    assert register_folds(records[40:80]) == ([None] * 40, [])  # one register: nothing to hold out


def test_report_of_gives_language_and_register_breakdowns():
    records = [
        {"text": "a", "label": D, "lang": "fr", "register": "email"},
        {"text": "b", "label": OFF, "lang": "en"},
        {"text": "c", "label": D, "lang": "en"},
    ]
    report = report_of(records, [(0, 0.9), (1, 0.2), (2, 0.1)])
    assert report["n"] == 3 and report["per_register"]["email"]["macro_f1"] == 1.0
    assert report["per_language"]["en"]["n"] == 2
    assert report["per_register"][DEFAULT_REGISTER]["accuracy"] == 0.5


def test_held_out_evaluation_scores_every_text_out_of_its_group(tmp_path):
    records = records_with_groups()
    trained = []

    def builder(train_part, fold_dir):
        trained.append({r["text"] for r in train_part})
        return build("bow", train_part, fold_dir)

    result = held_out_evaluation(builder, records, tmp_path, k=3, schemes=("kinds", "registers"), min_register=10)
    json.dumps(result)
    assert len(trained) == 3 + 3  # three kind folds, three registers
    kinds, registers = result["schemes"]["kinds"], result["schemes"]["registers"]
    assert kinds["n"] == registers["n"] == len(records)
    assert result["grouped"]["n"] == 2 * len(records)
    assert set(result["grouped"]["per_register"]) == {"request_form", "email", DEFAULT_REGISTER}
    band = result["band"]
    assert band["target_precision"] == HELD_OUT_PRECISION and band["n"] == 2 * len(records)
    for side in ("precision_above", "precision_below"):
        assert band[side] is None or band[side] >= HELD_OUT_PRECISION
    table = markdown_tables({"registers": {"email": 1, "request_form": 1, DEFAULT_REGISTER: 1},
                             "variants": {"bow": result}})
    assert "**grouped**" in table and "registers held out" in table
