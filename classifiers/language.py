"""Offline language detection for short social-media replies (py3langid).

Replies come mostly in French or English, so the candidate set is limited to
languages plausibly written to a European city, and French and English get a
prior boost: a two-word "merci !" should not come out as Czech, while a full
German or Spanish sentence still wins on its own evidence. A text in which
the model finds no feature at all ("ok", "Hola") is "und": no evidence is not
evidence for French.

Speed: `datacall classify` detects the language of every line, so this module
reimplements py3langid's scoring for batches: the byte automaton walks all
texts of a batch side by side (one numpy step per byte position), and one
pass of numpy sums each text's features. Results are the same as
py3langid's `rank` (tests/test_classifiers.py checks it on the whole corpus).
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
# Below this many texts still being read, one numpy step costs more than Python byte by byte.
_SIDE_BY_SIDE = 32


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
        # py3langid's automaton as arrays: next state of (row of state, byte), and each state's feature.
        self.nextmove = np.frombuffer(identifier.tk_nextmove, dtype=f"u{identifier.tk_nextmove.itemsize}")
        self.rowbase = np.asarray(identifier._rowbase, dtype=np.int32)
        self.output = np.asarray(identifier.tk_output, dtype=np.int32)

    def probabilities(self, texts: Sequence[bytes]):
        """(n, languages) posterior probabilities, as py3langid's `_decide` with norm_probs,
        and which texts had any feature at all."""
        np = self.np
        rows, feats = self._features(texts)
        # Count each (text, feature) pair once: unique over text * F + feature.
        keys, counts = np.unique(rows * len(self.table) + feats, return_counts=True)
        rows, feats = np.divmod(keys, len(self.table))
        scores = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        has_features = np.zeros(len(texts), dtype=bool)
        if len(keys):
            weighted = np.log1p(counts.astype(np.float32))[:, None] * self.table[feats]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            scores[rows[starts]] = np.add.reduceat(weighted, starts, axis=0) + self.prior
            has_features[rows[starts]] = True
        lengths = np.fromiter(map(len, texts), dtype=np.float32, count=len(texts))
        scores /= np.sqrt(np.maximum(lengths, 1.0))[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores, has_features

    def _features(self, texts: Sequence[bytes]):
        """(text index, feature id) of every feature py3langid's automaton emits on each text.

        The automaton reads one byte at a time, so the texts are walked side by
        side: step c moves every text longer than c by its c-th byte, in one
        numpy gather. When only a few long texts are left, a step costs more
        than walking them byte by byte in Python, which finishes them. The
        states visited are py3langid's own, in the same order.
        """
        np = self.np
        n = len(texts)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")  # longest first: the texts still walking are a prefix
        walking = n - np.searchsorted(np.sort(lengths), np.arange(int(lengths.max()) if n else 0), side="right")
        width = int(np.count_nonzero(walking >= min(_SIDE_BY_SIDE, n)))
        states = np.zeros((width, n), dtype=np.int32)  # state 0 (the start) emits no feature
        if width:
            padded = b"".join(texts[i][:width].ljust(width, b"\0") for i in order)
            columns = np.frombuffer(padded, dtype=np.uint8).reshape(n, width).T.copy()
            base = np.full(n, self.rowbase[0], dtype=np.int32)
            nextmove, rowbase = self.nextmove, self.rowbase
            for c in range(width):
                k = walking[c]
                state = states[c, :k] = nextmove[base[:k] + columns[c, :k]]
                base[:k] = rowbase[state]
        found = self.output[states]
        step, column = np.nonzero(found >= 0)
        rows, feats = [order[column]], [found[step, column]]
        for j in range(int(walking[width]) if width < len(walking) else 0):  # the long texts' ends
            tail = self._walk(states[width - 1, j] if width else 0, texts[order[j]][width:])
            rows.append(np.full(len(tail), order[j], dtype=np.int64))
            feats.append(np.asarray(tail, dtype=np.int64))
        return np.concatenate(rows), np.concatenate(feats)

    def _walk(self, state: int, data: bytes) -> list[int]:
        """py3langid's automaton over `data` from `state`, in Python: the feature ids."""
        nextmove, rowbase, output = self.identifier.tk_nextmove, self.identifier._rowbase, self.identifier.tk_output
        found = []
        for byte in data:
            state = nextmove[rowbase[state] + byte]
            feature = output[state]
            if feature >= 0:
                found.append(feature)
        return found

    def detect(self, texts: Sequence[str]) -> list[str]:
        np = self.np
        cleaned = [for_language_id(t) for t in texts]
        readable = [i for i, c in enumerate(cleaned) if _readable(c)]
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


def _readable(text: str) -> bool:
    """At least MIN_LETTERS letters (stops counting there: most texts answer on their first word)."""
    letters = 0
    for char in text:
        if char.isalpha():
            letters += 1
            if letters >= MIN_LETTERS:
                return True
    return False


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
