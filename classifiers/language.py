"""Offline language detection for short social-media replies (py3langid).

Replies come mostly in French or English, so the candidate set is limited to
languages plausibly written to a European city, and French and English get a
prior boost: a two-word "merci !" should not come out as Czech, while a full
German or Spanish sentence still wins on its own evidence. A text in which
the model finds no feature at all ("ok", "Hola") is "und": no evidence is not
evidence for French.

Speed: `datacall classify` detects the language of every line, so this module
reimplements py3langid's scoring for batches (one numpy product per batch
instead of one per text) and caches its byte automaton per word. Results are
the same as py3langid's `rank` (tests/test_classifiers.py checks it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from functools import cache

from .text import for_language_id

UNKNOWN = "und"  # BCP 47 "undetermined": nothing readable left (emoji, links only)

CANDIDATES = (
    "fr", "en", "de", "es", "it", "pt", "nl", "ca", "eu", "br", "oc", "gl",
    "pl", "ro", "cs", "sk", "hu", "sv", "da", "no", "fi", "el", "bg", "hr",
    "ru", "uk", "tr", "ar", "he", "fa", "hi", "bn", "ur", "zh", "ja", "ko",
    "vi", "id", "th", "sw",
)
PREFERRED = {"fr": 3.0, "en": 3.0}  # prior odds multiplier over other candidates (see MODEL_CARD.md)
MIN_LETTERS = 2
_WORD_CACHE_SIZE = 50_000  # (automaton state, word) entries; cleared when full


class _Detector:
    """py3langid's naive Bayes over byte n-grams, scored a batch at a time."""

    def __init__(self, identifier) -> None:
        import numpy as np

        if identifier._alias_pairs:  # not with CANDIDATES; keep rank()'s merge out of the fast path
            raise ValueError("aliased language columns are not supported")
        self.np = np
        self.identifier = identifier
        self.classes = list(identifier.nb_classes)
        self.table = identifier.nb_ptc.astype(np.float32)
        self.prior = identifier.nb_pc.astype(np.float32)
        self.preferred = [(self.classes.index(lang), boost) for lang, boost in PREFERRED.items()]
        self.preferred_set = {i for i, _ in self.preferred}
        self._words: dict[tuple[int, bytes], tuple[tuple[int, ...], int]] = {}

    def probabilities(self, texts: Sequence[bytes]):
        """(n, languages) posterior probabilities, as py3langid's `_decide` with norm_probs,
        and which texts had any feature at all."""
        np = self.np
        found: list[int] = []
        sizes = np.asarray([self._features(data, found) for data in texts], dtype=np.int64)
        feats = np.asarray(found, dtype=np.int64)
        # Count each (text, feature) pair once: unique over text * F + feature.
        keys, counts = np.unique(np.repeat(np.arange(len(texts)), sizes) * len(self.table) + feats, return_counts=True)
        rows, feats = np.divmod(keys, len(self.table))
        scores = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        has_features = sizes > 0
        if len(keys):
            weighted = np.log1p(counts.astype(np.float32))[:, None] * self.table[feats]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            scores[rows[starts]] = np.add.reduceat(weighted, starts, axis=0) + self.prior
        lengths = np.fromiter(map(len, texts), dtype=np.float32, count=len(texts))
        scores /= np.sqrt(np.maximum(lengths, 1.0))[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores, has_features

    def _features(self, data: bytes, found: list[int]) -> int:
        """Append the feature ids of `data` to `found`, walking cached space-separated pieces;
        return how many.

        The automaton is deterministic, so (state, piece) always gives the same
        features and end state: caching it is exact, and most words recur.
        """
        before, state, words = len(found), 0, self._words
        pieces = data.split(b" ")
        last = len(pieces) - 1
        for number, chunk in enumerate(pieces):
            piece = chunk if number == last else chunk + b" "
            if piece:
                hit = words.get((state, piece)) or self._walk(state, piece)
                found.extend(hit[0])
                state = hit[1]
        return len(found) - before

    def _walk(self, state: int, piece: bytes) -> tuple[tuple[int, ...], int]:
        """py3langid's automaton over one piece from `state`: (feature ids, end state), cached."""
        nextmove, rowbase, output = self.identifier.tk_nextmove, self.identifier._rowbase, self.identifier.tk_output
        feats, s = [], state
        for byte in piece:
            s = nextmove[rowbase[s] + byte]
            f = output[s]
            if f >= 0:
                feats.append(f)
        if len(self._words) >= _WORD_CACHE_SIZE:
            self._words.clear()
        hit = self._words[(state, piece)] = (tuple(feats), s)
        return hit

    def detect(self, texts: Sequence[str]) -> list[str]:
        np = self.np
        cleaned = [for_language_id(t) for t in texts]
        readable = [i for i, c in enumerate(cleaned) if sum(map(str.isalpha, c)) >= MIN_LETTERS]
        out = [UNKNOWN] * len(texts)
        if not readable:
            return out
        probs, has_features = self.probabilities([self.identifier._encode(cleaned[i]) for i in readable])
        rows = np.arange(len(readable))
        best = probs.argmax(axis=1)
        # The best preferred language by boosted odds; the first listed wins ties, as max() would.
        boosted = np.stack([probs[:, column] * boost for column, boost in self.preferred], axis=1)
        preferred = np.asarray([column for column, _ in self.preferred])[boosted.argmax(axis=1)]
        switch = ~np.isin(best, list(self.preferred_set)) & (boosted.max(axis=1) > probs[rows, best])
        best = np.where(switch, preferred, best)
        for row, i in enumerate(readable):
            if has_features[row]:
                out[i] = self.classes[best[row]]
        return out


@cache
def _identifier():
    """Load the py3langid model once per process.

    The packaged model is LZMA-compressed: decompressing it takes most of a
    second, the bulk of `datacall classify`'s start-up. The first load keeps
    a decompressed copy in the user cache, which later processes read directly.
    """
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    source = MODEL_DIR / MODEL_FILE
    try:
        identifier = _from_plain_copy(source, LanguageIdentifier)
    except (OSError, ValueError, KeyError):  # no writable cache, or a damaged copy: read the original
        identifier = LanguageIdentifier.from_model_file(source, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def _from_plain_copy(source, identifier_class):
    """py3langid's model from a decompressed copy of `source` in the user cache (made if missing)."""
    import lzma
    import os

    import numpy as np
    from py3langid.modelio import _to_array  # py3langid's own conversion, as its load_model does

    from .cache import cache_dir

    stat = source.stat()
    plain = cache_dir() / "langid" / f"model-{stat.st_size}-{stat.st_mtime_ns}.npz"
    if not plain.is_file():
        plain.parent.mkdir(parents=True, exist_ok=True)
        partial = plain.with_name(f".{plain.name}.{os.getpid()}.tmp")
        partial.write_bytes(lzma.decompress(source.read_bytes()))
        partial.replace(plain)  # atomic: readers never see half a file
    with np.load(plain, allow_pickle=False) as data:
        return identifier_class(
            np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
            _to_array(data["nextmove"]), data["out_feat"].tolist(),
            norm_probs=True, tk_row=_to_array(data["nextmove_row"]),
        )


_detector_lock = threading.Lock()
_loaded: list[_Detector] = []


def _detector() -> _Detector:
    """The process's detector, loaded once (threads wait for a load in progress)."""
    if not _loaded:
        with _detector_lock:
            if not _loaded:
                _loaded.append(_Detector(_identifier()))
    return _loaded[0]


def preload() -> None:
    """Start loading the language model in the background (most of a second, mostly
    decompression that runs alongside spaCy's own loading)."""
    if not _loaded:
        threading.Thread(target=_detector, name="datacall-langid-preload", daemon=True).start()


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text` ("fr", "en", ...), or "und" if nothing to read."""
    return _detector().detect([text])[0]


def detect_languages(texts: Iterable[str]) -> list[str]:
    """`detect_language` over many texts, scored together (much faster than one by one)."""
    texts = list(texts)
    return _detector().detect(texts) if texts else []
