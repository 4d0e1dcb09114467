"""Where the default model lives, and training it on first use.

The packaged corpus ships as text, not as a trained model: the first process
that needs the classifier trains it (a few seconds) into the user's cache, keyed by a
fingerprint of its inputs, so a new corpus or config means a new model.
"""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from .corpus import default_corpus_path
from .text import NORMALISATION_VERSION
from .training import CONFIG_PATH, MODEL_FORMAT, train
from .word_classes import DEFAULT_FILE, resolve

CACHE_ENV = "DATACALL_CACHE_DIR"


def corpus_fingerprint(path: Path | str) -> str:
    """Short sha256 of the corpus file, config.cfg, the packaged word classes (config.cfg may name them),
    the text normalisation and model format versions."""
    digest = hashlib.sha256()
    inputs = (Path(path), CONFIG_PATH, resolve(DEFAULT_FILE))
    parts = (*(file.read_bytes() for file in inputs), NORMALISATION_VERSION.encode(), MODEL_FORMAT.encode())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    """$DATACALL_CACHE_DIR, else the platform's user cache directory for datacall."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import platformdirs

    return platformdirs.user_cache_path("datacall")


def default_model_path(corpus: Path | None = None) -> Path:
    """The cache directory of the model trained from `corpus` (default: the packaged one)."""
    fingerprint = corpus_fingerprint(corpus or default_corpus_path())
    return cache_dir() / "models" / f"textcat-{fingerprint}"


def ensure_model(
    path: Path | None,
    *,
    corpus: Path | None = None,
    on_train: Callable[[str], None] | None = None,
) -> Path:
    """A directory holding a trained model: `path` (or the cache), trained there if missing.

    Two processes racing both train, but the first to finish wins and the
    other keeps its model, so the directory is never half written.
    """
    corpus = Path(corpus) if corpus else default_corpus_path()
    path = Path(path) if path else default_model_path(corpus)
    if (path / "meta.json").is_file():
        return path
    if on_train:
        origin = "the packaged corpus" if corpus == default_corpus_path() else str(corpus)
        on_train(f"training the classifier from {origin} into {path} (first use, under a minute)")
    train(corpus, path, replace=False)
    return path


def model_meta(path: Path | str) -> dict | None:
    """The `datacall` part of a model folder's meta.json (version, review band, last officer decision
    learned), or None if no model is trained there. Reads the file only: nothing is loaded or trained."""
    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = meta.get("datacall") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else None
