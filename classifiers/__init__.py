"""Language for datacall: is a reply a data request? In which language?

Pure functions over text; no database, no network.

The names below are imported on first use (PEP 562), not with the package: a
`datacall run --once` with nothing to classify, or a job that only needs
`classifiers.text`, does not pay for numpy, the model code or training.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .band import find_review_band
    from .cache import cache_dir, corpus_fingerprint, default_model_path, ensure_model
    from .corpus import CorpusError, default_corpus_path, read_jsonl, split_of, split_records
    from .labels import DATA_REQUEST, LABELS, OFF_TOPIC, Prediction
    from .language import UNKNOWN, detect_language, detect_languages
    from .metrics import evaluate, metrics_from_pairs
    from .model import TextClassifier, load
    from .training import CONFIG_PATH, retrain, train

# Each public name, and the module of this package that defines it.
_HOMES = {
    "find_review_band": "band",
    "cache_dir": "cache", "corpus_fingerprint": "cache", "default_model_path": "cache", "ensure_model": "cache",
    "CorpusError": "corpus", "default_corpus_path": "corpus", "read_jsonl": "corpus", "split_of": "corpus",
    "split_records": "corpus",
    "DATA_REQUEST": "labels", "LABELS": "labels", "OFF_TOPIC": "labels", "Prediction": "labels",
    "UNKNOWN": "language", "detect_language": "language", "detect_languages": "language",
    "evaluate": "metrics", "metrics_from_pairs": "metrics",
    "TextClassifier": "model", "load": "model",
    "CONFIG_PATH": "training", "retrain": "training", "train": "training",
}

__all__ = [
    "CONFIG_PATH", "DATA_REQUEST", "LABELS", "OFF_TOPIC", "UNKNOWN",
    "CorpusError", "Prediction", "TextClassifier",
    "cache_dir", "corpus_fingerprint", "default_corpus_path", "default_model_path",
    "detect_language", "detect_languages", "ensure_model", "evaluate", "find_review_band", "load",
    "metrics_from_pairs", "read_jsonl", "retrain", "split_of", "split_records", "train",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
