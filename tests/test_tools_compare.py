"""tools/compare.py on a small corpus: every variant trains, scores and reports; fast paths agree."""

from __future__ import annotations

import json

import pytest

import classifiers
from tests.test_classifiers import small_records, write_jsonl
from tools import compare
from tools.compare import _config, build, language_accuracy, markdown_table


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "small.jsonl", small_records())


def test_compare_reports_every_variant(corpus, tmp_path):
    report = compare.compare(corpus, ["bow", "routed"], folds=2, speed_n=200, say=lambda _: None)
    json.dumps(report)
    assert set(report["variants"]) == {"bow", "routed"}
    for result in report["variants"].values():
        assert 0.0 <= result["test_macro_f1"] <= 1.0
        assert set(result["test_per_language"]) <= {"fr", "en"}
        assert result["docs_per_second"] > 0 and len(result["cv_macro_f1"]) == 2
        assert all(e["label"] in classifiers.LABELS for e in result["test_errors"])
    table = markdown_table(report)
    assert table.count("\n") == 1 + len(report["variants"]) and "`routed`" in table


@pytest.mark.parametrize("variant", ["bow-chars", "bow-bigrams"])
def test_fast_path_matches_the_pipeline_for_variants(corpus, tmp_path, variant):
    classifier = build(variant, small_records(), tmp_path)
    assert classifier._bow is not None
    if variant == "bow-chars":
        assert classifier.extras.char_ngrams == (3, 5)
    texts = [r["text"] for r in small_records()] + ["publication des données", "🙏", ""]
    fast = classifier.scores(texts * 2)
    bow, classifier._bow = classifier._bow, None
    slow = classifier.scores(texts * 2)
    classifier._bow = bow
    assert fast == pytest.approx(slow, abs=1e-5)


def test_ensemble_config_trains_through_the_pipeline(tmp_path):
    config = _config(ensemble=True)
    assert config["components"]["textcat"]["model"]["@architectures"] == "spacy.TextCatEnsemble.v2"
    classifier = build("ensemble", small_records(), tmp_path)
    assert classifier._bow is None  # no fast path: scored through nlp.pipe
    scores = classifier.scores(["Please publish the playgrounds dataset", "thanks a lot!", ""])
    assert scores[2] == 0.0 and all(0.0 <= s <= 1.0 for s in scores)


def test_card_blocks_are_rewritten_in_place():
    from tools.card_blocks import replace_block

    card = (
        "intro\n<!-- begin:model -->\nold\nnumbers\n<!-- end:model -->\n"
        "prose\n<!-- begin:band -->\n<!-- end:band -->\n"
    )
    card = replace_block(replace_block(card, "model", "new table\n"), "band", "band")
    assert card == (
        "intro\n<!-- begin:model -->\nnew table\n<!-- end:model -->\n"
        "prose\n<!-- begin:band -->\nband\n<!-- end:band -->\n"
    )
    with pytest.raises(KeyError):
        replace_block(card, "missing", "x")
    shipped = compare.CARD_PATH.read_text(encoding="utf-8")
    for name in ("data", "comparison", "model", "band", "languages", "failures", "heldout", "heldout_band",
                 "heldout_band_options", "heldout_kinds", "fresh"):
        assert f"<!-- begin:{name} -->" in shipped and f"<!-- end:{name} -->" in shipped


def test_held_out_reports_of_separate_runs_merge_only_when_they_measure_the_same_thing():
    from tools.card import merged_heldout

    base = {"corpus_lines": 10, "epochs": 5, "kinds": 3, "registers": {"email": 10}}
    first = {**base, "variants": {"bow-bigrams": {"grouped": 1}}}
    second = {**base, "variants": {"bow-bigrams-chars": {"grouped": 2}}}
    merged = merged_heldout([first, second])
    assert list(merged["variants"]) == ["bow-bigrams", "bow-bigrams-chars"]
    assert list(first["variants"]) == ["bow-bigrams"]  # inputs untouched
    with pytest.raises(SystemExit, match="epochs"):
        merged_heldout([first, {**second, "epochs": 10}])


def test_language_accuracy_counts_other_languages_taken_for_french_or_english():
    report = language_accuracy(
        [
            {"text": "Où trouver la liste des aires de jeux ?", "lang": "fr"},
            {"text": "Where can I find the bike lanes data?", "lang": "en"},
            {"text": "Wo finde ich die Daten zu Radwegen?", "lang": "de"},
            {"text": "Where can I find the bike lanes data?", "lang": "de"},  # mislabelled on purpose
        ]
    )
    assert report["n"] == 4 and report["accuracy"] == 0.75
    assert report["per_language"]["de"] == {"n": 2, "correct": 1, "as_fr_or_en": 1, "accuracy": 0.5}
    assert report["errors"] == [{"text": "Where can I find the bike lanes data?", "lang": "de", "detected": "en"}]


def test_fastbow_hashes_are_spacys_and_thincs():
    import numpy as np
    from spacy.strings import get_string_id
    from spacy.symbols import IDS
    from thinc.api import NumpyOps

    from classifiers.fastbow import NumpyBagOfWords, murmur64a_words

    bow = NumpyBagOfWords(np.zeros((2, 8), "f"), np.zeros(2, "f"), 2, (0, 0), 0, {k: v for k, v in IDS.items() if k})
    words = ["publiez", "données", "number", "meta", "a", "🙂", "x" * 23, "__url__"]
    assert [bow.string_id(w) for w in words] == [get_string_id(w) for w in words]
    ids = np.asarray([get_string_id(w) for w in words], dtype=np.uint64)
    for n in (2, 3):
        windows = np.stack([ids[i : len(ids) - n + 1 + i] for i in range(n)], axis=1)
        assert murmur64a_words(windows, 0).tolist() == NumpyOps().ngrams(n, ids).tolist()
