"""Evaluation metrics in plain Python, so reports need no extra dependency.

Macro-F1 averages over the labels that occur in the gold or predicted labels
of the group measured: a language with only off-topic replies is judged on
off-topic alone rather than punished with a 0 for an absent class.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from .labels import LABELS


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (None for n = 0): honest for small samples and
    for proportions near 1, where "46 of 47 right" is not the same promise as "460 of 470"."""
    if n <= 0:
        return None
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _scores(gold: Sequence[str], pred: Sequence[str]) -> dict:
    pairs = Counter(zip(gold, pred, strict=False))
    confusion = {g: {p: pairs[(g, p)] for p in LABELS} for g in LABELS}
    per_label, seen = {}, []
    for label in LABELS:
        tp = pairs[(label, label)]
        support = sum(confusion[label].values())
        predicted = sum(confusion[g][label] for g in LABELS)
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted:
            seen.append(f1)
    n = len(gold)
    return {
        "n": n,
        "accuracy": sum(pairs[(label, label)] for label in LABELS) / n if n else None,
        "macro_f1": sum(seen) / len(seen) if seen else None,
        "per_label": per_label,
        "confusion": confusion,
    }


def metrics_from_pairs(
    gold: Sequence[str], pred: Sequence[str], langs: Sequence[str] | None = None
) -> dict:
    """Accuracy, macro-F1, per-label scores, confusion (rows = gold), per-language macro-F1.

    Accuracy and macro-F1 are None (JSON null) for an empty set: undefined, not 0.
    """
    if len(gold) != len(pred) or (langs is not None and len(langs) != len(gold)):
        raise ValueError("gold, pred and langs must have the same length")
    unknown = (set(gold) | set(pred)) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels: {sorted(unknown)}")
    report = _scores(gold, pred)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs or ()):
        by_lang.setdefault(lang, []).append(i)
    report["per_language"] = {}
    for lang, idx in sorted(by_lang.items()):
        sub = _scores([gold[i] for i in idx], [pred[i] for i in idx])
        report["per_language"][lang] = {
            "n": sub["n"], "accuracy": sub["accuracy"], "macro_f1": sub["macro_f1"]
        }
    return report


def evaluate(
    classifier, records: Iterable[dict], *, threshold: float = 0.5, review_band: Sequence[float] | None = None
) -> dict:
    """Score a classifier on labelled records (text, label, optional lang).

    With a review band, also what it does to these records (see band.band_report).
    """
    from .band import band_report

    records = list(records)
    predictions = classifier.predict([r["text"] for r in records], threshold=threshold)
    gold = [r["label"] for r in records]
    langs = [r.get("lang") or p.lang for r, p in zip(records, predictions, strict=False)]
    report = metrics_from_pairs(gold, [p.label for p in predictions], langs)
    report["threshold"] = threshold
    if review_band:
        low, high = review_band
        band = band_report([p.score for p in predictions], gold, (low, high))
        report["review_band"] = {"low": low, "high": high, **band}
    return report
