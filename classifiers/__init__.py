"""Language for datacall: is a reply a data request? In which language?

Pure functions over text; no database, no network.
"""

from .band import find_review_band
from .cache import cache_dir, corpus_fingerprint, default_model_path, ensure_model
from .corpus import CorpusError, default_corpus_path, read_jsonl, split_of, split_records
from .labels import DATA_REQUEST, LABELS, OFF_TOPIC, Prediction
from .language import UNKNOWN, detect_language, detect_languages
from .metrics import evaluate, metrics_from_pairs
from .model import TextClassifier, load
from .training import CONFIG_PATH, retrain, train

__all__ = [
    "CONFIG_PATH", "DATA_REQUEST", "LABELS", "OFF_TOPIC", "UNKNOWN",
    "CorpusError", "Prediction", "TextClassifier",
    "cache_dir", "corpus_fingerprint", "default_corpus_path", "default_model_path",
    "detect_language", "detect_languages", "ensure_model", "evaluate", "find_review_band", "load",
    "metrics_from_pairs", "read_jsonl", "retrain", "split_of", "split_records", "train",
]
