"""classifiers/word_classes.py: word classes as extra tokens, read from a file, kept by each trained model."""

from __future__ import annotations

import math

import pytest
from spacy.util import load_config

import classifiers
from classifiers import cache
from classifiers.model import _cache
from classifiers.text import TokenExtras, features
from classifiers.training import train
from classifiers.word_classes import (
    CLASS_MARK,
    DATA_DIR,
    DEFAULT_FILE,
    MODEL_FILE,
    WordClassesError,
    by_word,
    load_toml,
    resolve,
)
from tests.test_classifiers import small_records, write_jsonl


def test_words_are_folded_as_model_tokens_are(tmp_path):
    file = tmp_path / "classes.toml"
    file.write_text('[classes]\ndata = ["Données", "CSV", "csv"]\nthanks = ["Merci", "données"]\n', encoding="utf-8")
    classes = load_toml(file)
    assert classes == {"data": ["csv", "donnees"], "thanks": ["donnees", "merci"]}
    assert by_word(classes)["donnees"] == (CLASS_MARK + "data", CLASS_MARK + "thanks")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[classes]\ndata = ["jeu de données"]\n', "classes.data: 'jeu de données' is not one word token"),
        ('[classes]\nData = ["csv"]\n', "classes.Data: a class name is lower-case"),
        ("[classes]\ndata = []\n", "classes.data: expected a non-empty list of words"),
        ('[classes]\ndata = "csv"\n', "classes.data: expected a non-empty list of words"),
        ('[other]\ndata = ["csv"]\n', "expected a non-empty [classes] table"),
        ("[classes\n", "Expected ']'"),
    ],
)
def test_a_bad_file_is_named_with_its_key(tmp_path, content, problem):
    file = tmp_path / "classes.toml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(WordClassesError) as error:
        load_toml(file)
    assert str(error.value).startswith(f"{file}: ") and problem in str(error.value)


def test_the_packaged_classes_load_and_the_config_names_them():
    classes = load_toml(resolve(DEFAULT_FILE))
    assert {"data", "publish", "thanks", "complaint", "privacy"} <= set(classes)
    assert "donnees" in classes["data"] and "geojson" in classes["data"]
    config = load_config(classifiers.CONFIG_PATH, interpolate=False)
    assert resolve(config["datacall"]["word_classes"]) == DATA_DIR / DEFAULT_FILE


def test_class_tokens_follow_the_words_in_word_order():
    extras = TokenExtras(word_classes={"csv": ("~class:data",), "merci": ("~class:greeting", "~class:thanks")})
    assert features("Merci, le CSV ?", extras) == [
        "merci", ",", "le", "csv", "?", "~class:greeting", "~class:thanks", "~class:data",
    ]
    assert features("Merci, le CSV ?") == ["merci", ",", "le", "csv", "?"]


def _config(tmp_path, classes_file: str, *, averaged: bool = False):
    config = load_config(classifiers.CONFIG_PATH, interpolate=False)
    config["training"]["max_epochs"] = 20  # 42 texts need more passes than the packaged corpus
    config["datacall"]["word_classes"] = classes_file
    config["datacall"]["average_without_classes"] = averaged
    path = tmp_path / f"config-{bool(classes_file)}-{averaged}.cfg"
    config.to_disk(path)
    return path


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """The same small corpus trained with a word-classes file and without."""
    folder = tmp_path_factory.mktemp("word-classes")
    classes = folder / "classes.toml"
    # "csv" and "data" are in the corpus's requests; "geojson" and "shapefile" never are.
    classes.write_text('[classes]\ndata = ["csv", "data", "données", "geojson", "shapefile"]\n', encoding="utf-8")
    corpus = write_jsonl(folder / "small.jsonl", small_records())
    models = (("with", str(classes), False), ("without", "", False), ("averaged", str(classes), True))
    for name, file, averaged in models:
        train(corpus, folder / name, seed=0, config=_config(folder, file, averaged=averaged))
    return folder


def test_a_class_carries_what_is_learnt_to_words_never_seen(two_models):
    unseen = ["geojson shapefile", "le geojson des écoles", "shapefile of the schools"]
    with_classes = classifiers.load(two_models / "with").scores(unseen)
    without = classifiers.load(two_models / "without").scores(unseen)
    assert all(a > b + 0.01 for a, b in zip(with_classes, without, strict=True)), (with_classes, without)


def test_a_model_keeps_the_classes_it_was_trained_with(two_models):
    assert (two_models / "with" / MODEL_FILE).is_file()
    assert not (two_models / "without" / MODEL_FILE).exists()
    model = two_models / "with"
    before = classifiers.load(model).scores(["geojson shapefile"])
    (two_models / "classes.toml").write_text('[classes]\nother = ["geojson"]\n', encoding="utf-8")
    _cache.clear()  # load from disk again
    assert classifiers.load(model).scores(["geojson shapefile"]) == before


def test_both_scoring_paths_see_the_classes(two_models):
    classifier = classifiers.load(two_models / "with")
    texts = ["geojson shapefile", "le geojson des écoles", "merci", "data data csv"]
    fast = classifier.scores(texts)
    bow, classifier._bow = classifier._bow, None
    try:
        slow = classifier.scores(texts)
    finally:
        classifier._bow = bow
    assert fast == pytest.approx(slow, abs=1e-5)


def test_the_model_cache_key_follows_the_packaged_classes(tmp_path, monkeypatch):
    corpus = write_jsonl(tmp_path / "c.jsonl", small_records())
    before = cache.corpus_fingerprint(corpus)
    edited = tmp_path / "classes.toml"
    edited.write_text('[classes]\ndata = ["csv"]\n', encoding="utf-8")
    monkeypatch.setattr(cache, "resolve", lambda name: edited)
    assert cache.corpus_fingerprint(corpus) != before


def test_the_averaged_model_scores_the_mean_of_both_logits(two_models):
    """Averaging the weights of the models with and without classes averages their logits: exactly
    on texts without class words, up to hash collisions of the class tokens on the others."""
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    texts = ["merci pour les horaires", "the bins are late again", "geojson shapefile", "le csv des écoles"]
    with_classes, without, averaged = (
        classifiers.load(two_models / name).scores(texts) for name in ("with", "without", "averaged")
    )
    means = [(logit(a) + logit(b)) / 2 for a, b in zip(with_classes, without, strict=True)]
    assert [logit(p) for p in averaged[:2]] == pytest.approx(means[:2], abs=1e-3)
    assert [logit(p) for p in averaged[2:]] == pytest.approx(means[2:], abs=0.5)
    assert not all(a == pytest.approx(b, abs=1e-3) for a, b in zip(with_classes, without, strict=True))
    assert (two_models / "averaged" / MODEL_FILE).is_file()  # it scores with the classes
