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

from . import word_classes
from .fastbow import NumpyBagOfWords
from .labels import DATA_REQUEST, Prediction, label_for
from .language import detect_languages, preload
from .text import TokenExtras, WordIds, features, model_tokens

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


def spacy_load(path: Path) -> Language:
    """A trained pipeline, with datacall's own architectures registered first (vectors.py)."""
    import spacy

    from .registered import register

    register()
    return spacy.load(path)


def char_ngram_range(config) -> tuple[int, int]:
    """The character n-gram lengths a spaCy config's [datacall] section asks for; (0, 0) = none."""
    section = config.get("datacall") or {}
    low, high = int(section.get("char_ngram_min") or 0), int(section.get("char_ngram_max") or 0)
    if low and not 1 <= low <= high:
        raise ValueError(f"[datacall] char n-grams: need 1 <= min <= max, got {low}..{high}")
    return (low, high) if low else (0, 0)


def token_extras(config, model_dir: Path | None = None) -> TokenExtras:
    """The extras a model's words get: character n-grams from its config; word classes from the
    trained model's own copy in `model_dir`, or, before training, from the file its config names."""
    if model_dir is not None:
        classes = word_classes.load_for_model(model_dir)
    else:
        classes = word_classes.by_word(word_classes.of_config(config) or {})
    return TokenExtras(char_ngram_range(config), classes)


class _BagOfWords:
    """A bag-of-words textcat's own layers, fed token hashes without building spaCy Docs.

    TextCatBOW only reads each token's ORTH id, the hash of its string:
    computing it directly skips Doc and Lexeme creation, most of spaCy's
    time on short texts, and adds nothing to the vocabulary, so memory stays
    flat without memory zones. Each word's ids (with its extras': character
    n-grams, word classes) are cached, since words recur. The scores are the
    pipeline's own (tests compare both paths).
    """

    def __init__(self, textcat, extras: TokenExtras):
        from spacy.attrs import ORTH
        from spacy.strings import get_string_id

        (outer, output) = textcat.model.layers
        (extract, linear) = outer.layers[0].layers
        if (
            extract.name != "extract_ngrams"
            or extract.attrs["attr"] != ORTH
            or output.layers[0].name != "softmax_activation"
        ):
            raise TypeError("not a TextCatBOW model")
        self.ngram_size = extract.attrs["ngram_size"]
        self.extras = extras
        self.ops = extract.ops
        self.linear, self.output = linear, output
        self.column = list(textcat.labels).index(DATA_REQUEST)
        self.word_ids = WordIds(extras, get_string_id)

    @classmethod
    def of(cls, nlp: Language, extras: TokenExtras) -> _BagOfWords | None:
        """The fast path for `nlp`, or None if its textcat is not a plain TextCatBOW."""
        try:
            return cls(nlp.get_pipe("textcat"), extras)
        except (KeyError, ValueError, TypeError, AttributeError):
            return None

    def scores(self, word_lists: list[list[str]]) -> list[float]:
        """P(data_request) for each list of `model_tokens` (none empty).

        What `extract_ngrams` does Doc by Doc, done for the whole batch in numpy:
        n-grams over the concatenated ids (dropping those that straddle two
        texts), then unique (text, key) pairs with their counts.
        """
        import numpy as np

        ids = [self.word_ids.of(words) for words in word_lists]
        sizes = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((i for x in ids for i in x), dtype=np.uint64, count=int(sizes.sum()))
        rows = np.repeat(np.arange(len(ids)), sizes)
        key_parts, row_parts = [flat], [rows]
        for n in range(2, self.ngram_size + 1):
            if len(flat) < n:
                break
            grams = self.ops.ngrams(n, flat)
            same_text = rows[: len(grams)] == rows[n - 1 :]
            key_parts.append(grams[same_text])
            row_parts.append(rows[: len(grams)][same_text])
        keys, key_rows = np.concatenate(key_parts), np.concatenate(row_parts)
        order = np.lexsort((keys, key_rows))
        keys, key_rows = keys[order], key_rows[order]
        starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]) | (key_rows[1:] != key_rows[:-1])])
        counts = np.diff(np.r_[starts, len(keys)]).astype("f")
        lengths = np.bincount(key_rows[starts], minlength=len(ids)).astype("int32")
        batch = (np.ascontiguousarray(keys[starts]), counts, lengths)
        return self.output.predict(self.linear.predict(batch))[:, self.column].tolist()


class TextClassifier:
    """spaCy textcat + language detection, shared by the whole process.

    A bag-of-words model is scored from its exported weights (fastbow.py),
    so spaCy is only imported when something needs the pipeline itself
    (`nlp`): another architecture, or a benchmark of bare `nlp.pipe`.
    Calls are serialised by a lock because spaCy memory zones are not thread-safe.
    `review_band` is the [low, high] score range, calibrated on held-out
    groups, where automatic decisions would be less than 97 % precise (None for
    models trained before it was measured).
    """

    def __init__(
        self,
        nlp: Language | None,
        path: Path,
        version: str,
        *,
        review_band: tuple[float, float] | None = None,
        bow: NumpyBagOfWords | None = None,
        extras: TokenExtras | None = None,
    ):
        self._nlp = nlp
        self.path = path
        self.version = version
        self.review_band = tuple(review_band) if review_band else None
        self._bow: NumpyBagOfWords | _BagOfWords | None  # None: no fast path, spaCy scores
        if bow is not None:
            self.extras, self._bow = bow.extras, bow
        else:
            self.extras = extras if extras is not None else token_extras(self.nlp.config, path)
            self._bow = _BagOfWords.of(self.nlp, self.extras)
        self._lock = threading.Lock()

    @property
    def nlp(self) -> Language:
        """The spaCy pipeline, loaded on first use."""
        if self._nlp is None:
            self._nlp = spacy_load(self.path)
        return self._nlp

    def __repr__(self) -> str:
        return f"TextClassifier(path={str(self.path)!r}, version={self.version!r})"

    def scores(self, texts: Iterable[str], *, batch_size: int = 1000) -> list[float]:
        """P(data_request) for each text; 0.0 for texts with no word at all.

        Empty texts never reach spaCy: a batch of only empty docs crashes thinc's ngram layer.
        """
        if self._bow is None:
            tokens = [features(t, self.extras) for t in texts]
            out = [0.0] * len(tokens)
            self._pipe_scores(tokens, [i for i, words in enumerate(tokens) if words], out, batch_size)
            return out
        tokens = [model_tokens(t) for t in texts]
        out = [0.0] * len(tokens)
        todo = [i for i, words in enumerate(tokens) if words]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            with self._lock:
                scores = self._bow.scores([tokens[i] for i in chunk])
            for i, score in zip(chunk, scores, strict=False):
                out[i] = score
        return out

    def _pipe_scores(self, tokens: list[list[str]], todo: list[int], out: list[float], batch_size: int) -> None:
        """Scores through nlp.pipe, for any textcat architecture (the ensemble, say)."""
        from spacy.tokens import Doc

        for start in range(0, len(todo), _ZONE):
            chunk = todo[start : start + _ZONE]
            with self._lock, self.nlp.memory_zone():
                docs = (Doc(self.nlp.vocab, words=tokens[i]) for i in chunk)
                for i, doc in zip(chunk, self.nlp.pipe(docs, batch_size=batch_size), strict=False):
                    out[i] = float(doc.cats[DATA_REQUEST])

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
            for s, lang in zip(scores, langs, strict=False)
        ]


def load(path: Path | str) -> TextClassifier:
    """The model at `path`, loaded once per process (reloaded if retrained in place)."""
    preload()  # predictions need it too: load it while the model loads
    path = Path(path).resolve()
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"no trained model at {path} (meta.json missing); run `datacall train`")
    key = (path, meta_file.stat().st_mtime_ns)
    with _cache_lock:
        if key not in _cache:
            for stale in [k for k in _cache if k[0] == path]:
                del _cache[stale]
            datacall = json.loads(meta_file.read_text(encoding="utf-8")).get("datacall", {})
            version = datacall.get("model_version") or files_digest(path)
            band = datacall.get("review_band")
            bow = NumpyBagOfWords.load(path)
            nlp = None
            if bow is None:
                nlp = spacy_load(path)
            _cache[key] = TextClassifier(nlp, path, version, review_band=band, bow=bow)
        return _cache[key]
