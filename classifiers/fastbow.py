"""A trained bag-of-words textcat scored with numpy alone, without importing spaCy.

`datacall classify` on one line must start in well under a second; importing
spaCy and thinc alone takes about that long. A TextCatBOW model is a hashed
linear model: each token's string hash (spaCy's MurmurHash64A, seed 1), each
word n-gram's hash (MurmurHash64A of the token hashes, seed 0), two weight
rows per key (MurmurHash3_x86_32 of the key, seeds 0 and 1, modulo the table
length), plus a bias, then a softmax. Training exports those weights
(`bow.npz`) next to the spaCy model; this module recomputes the same hashes,
so the scores are spaCy's own (tests compare both).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .text import TokenExtras, WordIds
from .word_classes import load_for_model as word_classes_of_model

FILE = "bow.npz"
_M64 = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1


def murmur64a(data: bytes, seed: int) -> int:
    """MurmurHash64A, as murmurhash's hash64 (spaCy's string hashes use seed 1)."""
    length = len(data)
    h = (seed ^ (length * _M64)) & _MASK64
    blocks = length // 8
    for i in range(blocks):
        k = int.from_bytes(data[8 * i : 8 * i + 8], "little")
        k = (k * _M64) & _MASK64
        k ^= k >> 47
        k = (k * _M64) & _MASK64
        h ^= k
        h = (h * _M64) & _MASK64
    tail = data[8 * blocks :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M64) & _MASK64
    h ^= h >> 47
    h = (h * _M64) & _MASK64
    h ^= h >> 47
    return h


def murmur64a_words(blocks: np.ndarray, seed: int) -> np.ndarray:
    """MurmurHash64A of each row of uint64 words (thinc's n-gram hash: n token hashes, seed 0)."""
    m = np.uint64(_M64)
    r = np.uint64(47)
    n = blocks.shape[1]
    h = np.full(blocks.shape[0], (seed ^ (8 * n * _M64)) & _MASK64, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(n):
            k = blocks[:, column] * m
            k ^= k >> r
            k *= m
            h ^= k
            h *= m
        h ^= h >> r
        h *= m
        h ^= h >> r
    return h


def _rotl32(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmur3_32_u64(keys: np.ndarray, seed: int) -> np.ndarray:
    """MurmurHash3_x86_32 of each uint64 key, as thinc's SparseLinear computes its weight rows."""
    c1, c2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
    h = np.full(keys.shape[0], seed, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for half in ((keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), (keys >> np.uint64(32)).astype(np.uint32)):
            k = half * c1
            k = _rotl32(k, 15) * c2
            h ^= k
            h = _rotl32(h, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        h ^= np.uint32(8)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


def bow_layers(textcat):
    """A TextCatBOW.v3 textcat's (extract_ngrams, sparse_linear, output) layers, or None for other models."""
    from spacy.attrs import ORTH

    try:
        (outer, output) = textcat.model.layers
        (extract, linear) = outer.layers[0].layers
    except (ValueError, AttributeError):
        return None
    if linear.name.startswith("resizable(") and linear.layers:
        linear = linear.layers[0]
    if (
        extract.name != "extract_ngrams"
        or extract.attrs["attr"] != ORTH
        or linear.name != "sparse_linear"
        or linear.attrs.get("v1_indexing", True)
        or output.layers[0].name != "softmax_activation"
    ):
        return None
    return extract, linear, output


def export(textcat, symbols: dict[str, int], char_ngrams: tuple[int, int], path: Path) -> bool:
    """Write a TextCatBOW.v3 textcat's weights to `path`; False (nothing written) for other models."""
    layers = bow_layers(textcat)
    if layers is None:
        return False
    extract, linear, _ = layers
    n_out, length = linear.get_dim("nO"), linear.get_dim("length")
    labels = list(textcat.labels)
    np.savez_compressed(
        path,
        W=np.asarray(linear.get_param("W"), dtype=np.float32).reshape(n_out, length),
        b=np.asarray(linear.get_param("b"), dtype=np.float32),
        ngram_size=np.int64(extract.attrs["ngram_size"]),
        char_ngrams=np.asarray(char_ngrams, dtype=np.int64),
        column=np.int64(labels.index("data_request")),
        symbol_names=np.asarray(list(symbols), dtype=object),
        symbol_ids=np.asarray(list(symbols.values()), dtype=np.uint64),
    )
    return True


class NumpyBagOfWords:
    """P(data_request) from exported TextCatBOW weights, in numpy."""

    def __init__(self, W, b, ngram_size: int, extras: TokenExtras, column: int, symbols: dict[str, int]):
        # The data_request margin: softmax over two classes is a sigmoid of the difference.
        other = 1 - column
        self.margin = (W[column] - W[other]).astype(np.float32)
        self.bias = float(b[column] - b[other])
        self.length = W.shape[1]
        self.ngram_size = ngram_size
        self.extras = extras
        self.symbols = symbols
        self.word_ids = WordIds(extras, self.string_id)

    @classmethod
    def load(cls, model_dir: Path) -> NumpyBagOfWords | None:
        file = Path(model_dir) / FILE
        if not file.is_file():
            return None
        with np.load(file, allow_pickle=True) as data:
            symbols = dict(zip(data["symbol_names"].tolist(), (int(x) for x in data["symbol_ids"]), strict=False))
            low, high = (int(x) for x in data["char_ngrams"])
            extras = TokenExtras((low, high), word_classes_of_model(model_dir))
            return cls(data["W"], data["b"], int(data["ngram_size"]), extras, int(data["column"]), symbols)

    def string_id(self, text: str) -> int:
        """spaCy's id of a string: a reserved symbol's number, else its hash."""
        symbol = self.symbols.get(text)
        return symbol if symbol is not None else murmur64a(text.encode("utf-8"), 1)

    def scores(self, word_lists: list[list[str]]) -> list[float]:
        """P(data_request) for each list of `model_tokens` (none empty)."""
        ids = [self.word_ids.of(words) for words in word_lists]
        sizes = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((i for x in ids for i in x), dtype=np.uint64, count=int(sizes.sum()))
        rows = np.repeat(np.arange(len(ids)), sizes)
        key_parts, row_parts = [flat], [rows]
        for n in range(2, self.ngram_size + 1):
            if len(flat) < n:
                break
            count = len(flat) - n + 1
            windows = np.stack([flat[i : i + count] for i in range(n)], axis=1)
            same_text = rows[:count] == rows[n - 1 :]
            key_parts.append(murmur64a_words(windows[same_text], 0))
            row_parts.append(rows[:count][same_text])
        keys, key_rows = np.concatenate(key_parts), np.concatenate(row_parts)
        length = np.uint32(self.length)
        weights = self.margin[murmur3_32_u64(keys, 0) % length] + self.margin[murmur3_32_u64(keys, 1) % length]
        margin = np.bincount(key_rows, weights=weights, minlength=len(ids)) + self.bias
        return (1.0 / (1.0 + np.exp(-margin))).tolist()
