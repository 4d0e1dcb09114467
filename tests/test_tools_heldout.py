"""tools/heldout.py: whole kinds and registers held out, pooled metrics, the band on held-out groups."""

from __future__ import annotations

import json
from collections import Counter

from classifiers.corpus import split_records
from classifiers.training import MAX_KIND_REPEATS, balanced_for_fitting, kind_repeats
from tests.test_classifiers import small_records
from tools.compare import build
from tools.heldout import (
    BAND_TARGETS,
    DEFAULT_REGISTER,
    HELD_OUT_PRECISION,
    band_options,
    held_out_evaluation,
    kind_folds,
    markdown_band_options,
    markdown_kind_errors,
    markdown_tables,
    per_kind_errors,
    register_folds,
    register_of,
    report_of,
    write_card_blocks,
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
    saved = dict(result["scores"]["kinds"])  # every text's out-of-group score, kept for later studies
    assert len(saved) == len(records) and all(0.0 <= v <= 1.0 for v in saved.values())
    assert [b["target_precision"] for b in result["band_options"]] == list(BAND_TARGETS)
    assert sum(e["n"] for e in result["per_kind"].values()) == 2 * len(records)


def test_band_options_trade_precision_for_fewer_messages_to_officers():
    # Scores of 100 texts: the lowest 40 off-topic, the highest 40 requests, the middle mixed.
    records = [{"text": str(i), "label": OFF if i < 40 or (40 <= i < 60 and i % 2) else D} for i in range(100)]
    pooled = [(i, i / 100) for i in range(100)]
    strict, medium, loose = band_options(records, pooled, targets=(1.0, 0.95, 0.8))
    assert strict["precision_above"] == 1.0 and strict["precision_below"] == 1.0
    assert strict["share_in_band"] >= medium["share_in_band"] >= loose["share_in_band"]
    assert loose["share_in_band"] < strict["share_in_band"]
    assert "| 100% |" in markdown_band_options({"band_options": [strict, loose]})


def test_per_kind_errors_put_the_worst_kind_first(tmp_path):
    records = [{"text": "a", "label": D, "kind": "bare"}, {"text": "b", "label": D, "kind": "bare"},
               {"text": "c", "label": OFF, "kind": "thanks"}, {"text": "d", "label": OFF, "kind": "thanks"}]
    kinds = per_kind_errors(records, [(0, 0.2), (1, 0.7), (2, 0.1), (3, 0.3)])
    assert list(kinds) == ["bare", "thanks"]
    assert kinds["bare"] == {"label": D, "n": 2, "errors": 1} and kinds["thanks"]["errors"] == 0
    result = {"band_options": band_options(records, [(0, 0.2), (1, 0.7), (2, 0.1), (3, 0.3)]), "per_kind": kinds}
    assert markdown_kind_errors(result).splitlines()[2] == f"| `bare` | {D} | 2 | 50% |"
    card = tmp_path / "card.md"
    card.write_text("a\n<!-- begin:heldout_band_options -->\nold\n<!-- end:heldout_band_options -->\n"
                    "<!-- begin:heldout_kinds -->\n<!-- end:heldout_kinds -->\nz\n", encoding="utf-8")
    write_card_blocks(card, {"variants": {"v": result}}, "v")
    text = card.read_text(encoding="utf-8")
    assert "old" not in text and "| `bare` |" in text and text.startswith("a\n") and text.endswith("z\n")


def test_kind_repeats_lift_small_kinds_towards_the_median():
    records = [{"text": f"n{i}", "label": D, "kind": "big"} for i in range(40)]
    records += [{"text": f"m{i}", "label": D, "kind": "mid"} for i in range(10)]
    records += [{"text": f"s{i}", "label": D, "kind": "small"} for i in range(1)]
    records += [{"text": f"o{i}", "label": OFF, "kind": "other"} for i in range(5)]
    records += [{"text": "an officer's decision", "label": D}]  # no kind: never repeated
    repeats = dict(zip((r.get("kind") for r in records), kind_repeats(records), strict=False))
    assert repeats == {"big": 1, "mid": 1, "small": MAX_KIND_REPEATS, "other": 1, None: 1}


def test_balancing_repeats_train_and_dev_texts_as_repeating_the_corpus_would():
    """What the held-out comparison measured (the corpus with small kinds repeated, then split by text
    hash) is what training fits (the splits with small kinds repeated); test is left alone."""
    records = [{**r, "kind": "rare" if i in (3, 30) else r["kind"]} for i, r in enumerate(records_with_groups())]
    repeated = [r for r, times in zip(records, kind_repeats(records), strict=True) for _ in range(times)]
    assert len(repeated) > len(records)
    fitted, by_hash = balanced_for_fitting(split_records(records)), split_records(repeated)
    assert fitted["train"] == by_hash["train"] and fitted["dev"] == by_hash["dev"]
    assert fitted["test"] == split_records(records)["test"]
