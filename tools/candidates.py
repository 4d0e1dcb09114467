"""More candidate models for the held-out comparison (`python -m tools.heldout --variants …`).

Each is config.cfg's bag of words (word unigrams + bigrams) with one change,
trained the way `datacall train` trains, so its grouped metric is comparable:

- bow-bigrams-kinds-balanced: "class weights" by kind of message (`[datacall] balance_kinds`,
  training.py). The two labels are balanced already, but kinds are not
  (295 `new_dataset` texts, 20 `service_request`); spaCy's textcat takes no
  example weights, so each text of a kind smaller than the median kind of
  its label is repeated (at most 4 times) until the kind weighs about as
  much as the median one. The default at 4,921 texts; no better than plain
  bigrams at 5,501 (MODEL_CARD.md, "Choice"), so config.cfg turns it off.
- bow-bigrams-e10: 10 epochs instead of 5 (does fitting the corpus longer help or hurt unseen kinds?).
- bow-bigrams-l2: weight decay 0.1 instead of 0.01 (a smoother model for unseen kinds?).

Other names are passed to tools.compare's `build`.
"""

from __future__ import annotations

import json
from pathlib import Path

from classifiers.model import TextClassifier, load
from classifiers.training import CONFIG_PATH, train

VARIANTS = ("bow-bigrams-kinds-balanced", "bow-bigrams-e10", "bow-bigrams-l2")


def _config(variant: str, epochs: int | None):
    from spacy.util import load_config

    config = load_config(CONFIG_PATH, interpolate=False)
    if epochs:
        config["training"]["max_epochs"] = epochs
    config["datacall"]["balance_kinds"] = variant == "bow-bigrams-kinds-balanced"
    if variant == "bow-bigrams-e10":
        config["training"]["max_epochs"] = 10
    if variant == "bow-bigrams-l2":
        config["training"]["optimizer"]["L2"] = 0.1
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
