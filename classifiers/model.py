"""A trained model as the rest of datacall sees it: texts in, Predictions out.

spaCy is imported on first load, not with the package, so CLI commands that
never classify start fast.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .labels import DATA_REQUEST, Prediction, label_for
from .language import detect_languages
from .text import model_tokens

if TYPE_CHECKING:
    from spacy.language import Language

# Texts per spaCy memory zone: bounds the string store on long runs.
_ZONE = 10_000
_cache: dict[tuple[Path, int], TextClassifier] = {}
_cache_lock = threading.Lock()


def files_digest(path: Path) -> str:
    """Hash of a model directory's weights and config, ignoring meta.json and metrics.json.

    Computed at training time and written into meta.json, it names the model:
    the same corpus, config and seed give the same digest.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        if relative in ("meta.json", "metrics.json"):
            continue
        digest.update(relative.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


class TextClassifier:
    """spaCy textcat + language detection, shared by the whole process.

    Calls are serialised by a lock because spaCy memory zones are not thread-safe.
    """

    def __init__(self, nlp: Language, path: Path, version: str):
        self.nlp = nlp
        self.path = path
        self.version = version
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TextClassifier(path={str(self.path)!r}, version={self.version!r})"

    def scores(self, texts: Iterable[str], *, batch_size: int = 1000) -> list[float]:
        """P(data_request) for each text; 0.0 for texts with no word at all.

        Empty texts never reach spaCy: a batch of only empty docs crashes thinc's ngram layer.
        """
        from spacy.tokens import Doc

        tokens = [model_tokens(t) for t in texts]
        out = [0.0] * len(tokens)
        todo = [i for i, words in enumerate(tokens) if words]
        for start in range(0, len(todo), _ZONE):
            chunk = todo[start : start + _ZONE]
            with self._lock, self.nlp.memory_zone():
                docs = (Doc(self.nlp.vocab, words=tokens[i]) for i in chunk)
                for i, doc in zip(chunk, self.nlp.pipe(docs, batch_size=batch_size)):
                    out[i] = float(doc.cats[DATA_REQUEST])
        return out

    def predict(
        self, texts: Iterable[str], *, threshold: float = 0.5, batch_size: int = 1000
    ) -> list[Prediction]:
        """One Prediction per text, in order; label is data_request iff score >= threshold."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold}")
        texts = list(texts)
        scores = self.scores(texts, batch_size=batch_size)
        langs = detect_languages(texts)
        return [
            Prediction(label=label_for(s, threshold), score=s, lang=lang)
            for s, lang in zip(scores, langs)
        ]


def load(path: Path | str) -> TextClassifier:
    """The model at `path`, loaded once per process (reloaded if retrained in place)."""
    import spacy

    path = Path(path).resolve()
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"no trained model at {path} (meta.json missing); run `datacall train`")
    key = (path, meta_file.stat().st_mtime_ns)
    with _cache_lock:
        if key not in _cache:
            for stale in [k for k in _cache if k[0] == path]:
                del _cache[stale]
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            version = meta.get("datacall", {}).get("model_version") or files_digest(path)
            _cache[key] = TextClassifier(spacy.load(path), path, version)
        return _cache[key]
