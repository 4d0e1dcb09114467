"""datacall's own entries in spaCy's registry, named by training configs (config.cfg, tools/candidates.py).

`register()` runs before a config is resolved (training) and before a trained
pipeline is loaded (model.spacy_load), so a saved config that names them loads.
"""

from __future__ import annotations

from collections.abc import Callable

from .text import CHAR_NGRAM_MARK

BOW_VECTORS = "datacall.TextCatBOWVectors.v1"
WORDS_ONLY = "datacall.words_only_length.v1"


def words_only_length() -> Callable[[object], int]:
    """A batcher's length of an example: its words, not its character n-gram tokens.

    `spacy.batch_by_words` sizes batches by tokens; character 3-5-grams multiply
    the corpus's tokens by ten (9.8), so batches would hold a few texts and a
    training would take about ten times as many steps (and dev evaluations) as the
    word model's. Counting words only gives both models batches of the same texts.
    """

    def length(example) -> int:
        return sum(1 for token in example.predicted if not token.text.startswith(CHAR_NGRAM_MARK))

    return length


def register() -> None:
    from spacy.util import registry

    from .vectors import bow_with_vectors

    if BOW_VECTORS not in registry.architectures:
        registry.architectures.register(BOW_VECTORS, func=bow_with_vectors)
    if WORDS_ONLY not in registry.misc:
        registry.misc.register(WORDS_ONLY, func=words_only_length)
