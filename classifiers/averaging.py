"""One model from two: the weights of a model trained with word classes averaged with one trained without.

Both are TextCatBOW models over the same hashed feature table, and a score is
a sigmoid of a linear function of the token counts, so the mean of the two
weight tables scores every text with the mean of the two models' logits (up to
hash collisions of the keys only one model has: the class tokens). Each model
makes confident mistakes the other does not share; averaging softens them and
keeps the classes' gain. It costs a second training and nothing at prediction
time: the result is one ordinary model. Measured on kinds and registers held
out: MODEL_CARD.md, "Choice".
"""

from __future__ import annotations

from pathlib import Path

from .fastbow import bow_layers
from .model import spacy_load


def wanted(config) -> bool:
    """Whether a spaCy config's [datacall] section asks for the averaged model."""
    return bool((config.get("datacall") or {}).get("average_without_classes"))


def average_into(model_dir: Path, other_dir: Path) -> None:
    """Replace the weights of the bag-of-words model in `model_dir` by the mean of its own and `other_dir`'s."""
    nlp, other = spacy_load(model_dir), spacy_load(other_dir)
    textcat, other_textcat = nlp.get_pipe("textcat"), other.get_pipe("textcat")
    mine, theirs = bow_layers(textcat), bow_layers(other_textcat)
    if mine is None or theirs is None:
        raise ValueError("[datacall] average_without_classes needs a bag-of-words textcat (TextCatBOW.v3)")
    labels, other_labels = list(getattr(textcat, "labels", ())), list(getattr(other_textcat, "labels", ()))
    if labels != other_labels:
        raise ValueError(f"cannot average models with labels {labels} and {other_labels}")
    (extract, linear, _), (other_extract, other_linear, _) = mine, theirs
    if extract.attrs["ngram_size"] != other_extract.attrs["ngram_size"] or (
        linear.get_dim("length") != other_linear.get_dim("length")
    ):
        raise ValueError("cannot average models with different n-gram sizes or feature tables")
    for name in ("W", "b"):
        linear.set_param(name, (linear.get_param(name) + other_linear.get_param(name)) / 2)
    nlp.to_disk(model_dir)
