"""The shipped corpus has the shape real messages have (classifiers/data/SOURCES.md).

Every line carries its kind and register; every kind of message the classifier
got wrong on real text is present in both languages; labels and languages are
balanced; no text is a near-copy of another; lengths run from a few words to
several sentences.
"""

from collections import Counter

import numpy as np
import pytest
from rapidfuzz import fuzz, process

from classifiers import DATA_REQUEST, OFF_TOPIC, default_corpus_path, read_jsonl
from classifiers.corpus import REGISTERS, split_key

LANGS = ("fr", "en")
# Kinds of message the issue names as misrouted on real text, per true label.
HARD_KINDS = {
    DATA_REQUEST: (
        "form_answers", "student_project", "freshness_question", "next_release",
        "dataset_offline", "missing_years", "missing_territory", "implicit_looking_for",
        "bare_noun_phrase", "long_polite",
    ),
    OFF_TOPIC: (
        "tool_feature_suggestion", "political_remark", "petition", "civic_question",
        "civic_complaint", "naming_or_accuracy_remark", "data_protection_question",
        "thanks", "spam",
    ),
}
MIN_PER_KIND_AND_LANG = 10
NEAR_DUPLICATE_RATIO = 85  # rapidfuzz fuzz.ratio on case- and space-folded text
ORIGINAL_SIZE = 2724  # texts before the real-message kinds were added
MIN_NEW_TEXTS = 1700


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return read_jsonl(default_corpus_path())


def test_every_line_has_label_language_kind_and_register(records):
    for number, record in enumerate(records, start=1):
        assert record["label"] in (DATA_REQUEST, OFF_TOPIC), number
        assert record.get("lang") in LANGS, number
        assert isinstance(record.get("kind"), str) and record["kind"].strip(), number
        assert record.get("register") in REGISTERS, number


def test_enough_new_texts_beyond_the_original_corpus(records):
    assert len(records) >= ORIGINAL_SIZE + MIN_NEW_TEXTS


def test_every_hard_kind_is_present_in_both_languages_with_its_label(records):
    counts = Counter((r["label"], r["kind"], r["lang"]) for r in records)
    missing = [
        (label, kind, lang, counts[label, kind, lang])
        for label, kinds in HARD_KINDS.items()
        for kind in kinds
        for lang in LANGS
        if counts[label, kind, lang] < MIN_PER_KIND_AND_LANG
    ]
    assert not missing, missing


def test_every_new_kind_is_written_in_both_languages(records):
    langs_of_kind: dict[str, set] = {}
    for r in records[ORIGINAL_SIZE:]:
        langs_of_kind.setdefault(r["kind"], set()).add(r["lang"])
    assert {k: v for k, v in langs_of_kind.items() if v != set(LANGS)} == {}


def test_a_kind_belongs_to_one_label(records):
    labels_of_kind: dict[str, set] = {}
    for r in records:
        labels_of_kind.setdefault(r["kind"], set()).add(r["label"])
    assert {k: v for k, v in labels_of_kind.items() if len(v) > 1} == {}


def test_every_register_is_present_in_both_languages_and_both_labels(records):
    counts = Counter((r["register"], r["lang"], r["label"]) for r in records)
    thin = [
        (register, lang, label, counts[register, lang, label])
        for register in REGISTERS
        for lang in LANGS
        for label in (DATA_REQUEST, OFF_TOPIC)
        if counts[register, lang, label] < 10
    ]
    assert not thin, thin


def within_factor_two(counter: Counter) -> bool:
    return max(counter.values()) <= 2 * min(counter.values())


def test_labels_and_languages_are_balanced_overall_and_among_new_texts(records):
    new = records[ORIGINAL_SIZE:]
    for group in (records, new):
        assert within_factor_two(Counter(r["label"] for r in group))
        assert within_factor_two(Counter(r["lang"] for r in group))
        for lang in LANGS:
            assert within_factor_two(Counter(r["label"] for r in group if r["lang"] == lang))


def test_no_register_gives_the_label_away(records):
    # Labels within a factor of two in every register, so the form of a message
    # (an e-mail, a petition) cannot stand in for its content.
    for register in REGISTERS:
        assert within_factor_two(Counter(r["label"] for r in records if r["register"] == register)), register


def test_no_two_texts_are_near_identical(records):
    for lang in LANGS:
        keys = [split_key(r["text"]) for r in records if r["lang"] == lang]
        scores = process.cdist(
            keys, keys, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE_RATIO, dtype=np.uint8, workers=1
        )
        np.fill_diagonal(scores, 0)
        pairs = [(keys[i], keys[j]) for i, j in zip(*np.nonzero(np.triu(scores)), strict=False)]
        assert pairs == [], pairs[:5]


def test_near_duplicate_check_catches_a_light_edit():
    keys = ["Publiez les horaires des bus de Rennes svp", "publiez les horaires des bus de rennes, svp !"]
    assert fuzz.ratio(*[split_key(k) for k in keys]) >= NEAR_DUPLICATE_RATIO


def test_lengths_run_from_a_few_words_to_several_sentences(records):
    new = records[ORIGINAL_SIZE:]
    lengths = np.array([len(r["text"]) for r in new])
    words = np.array([len(r["text"].split()) for r in new])
    assert (words <= 4).sum() >= 50  # bare noun phrases, "+1 for the bus data"
    assert (lengths > 150).mean() >= 0.30  # real requests are often long
    assert (lengths > 400).sum() >= 50  # several sentences: e-mails, petitions, forms
    assert (lengths < 80).mean() >= 0.15
    for label in (DATA_REQUEST, OFF_TOPIC):  # length alone must not give the label away
        of_label = np.array([len(r["text"]) for r in new if r["label"] == label])
        assert 0.5 < np.median(of_label) / np.median(lengths) < 2


def test_forms_have_field_layouts_and_long_texts_have_several_lines(records):
    forms = [r["text"] for r in records if r["register"] == "request_form"]
    assert sum(":" in text for text in forms) >= 0.6 * len(forms)
    assert sum("\n" in r["text"] for r in records) >= 100


def test_new_texts_keep_the_same_fields_as_the_original_corpus(records):
    fields = {tuple(sorted(r)) for r in records}
    assert fields == {("kind", "label", "lang", "register", "text")}
