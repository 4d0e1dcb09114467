"""The review band: the scores too uncertain to act on without an officer.

Measured on held-out examples at training time. Outside the band a decision
is automatic and must be right at least `target` of the time: scores above
`high` are data requests, scores below `low` are off-topic. The band is the
narrowest [low, high] that keeps both promises on the examples given, and it
always contains the labelling threshold, so an automatic decision never
contradicts the label.

Band edges sit half-way between two observed scores, so no measured example
lies exactly on an edge and "above high" and "at or above high" agree.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from .labels import DATA_REQUEST, OFF_TOPIC

TARGET_PRECISION = 0.97
# The promise made for messages of kinds and registers the model has not seen,
# measured on held-out groups (tools/heldout.py).
HELD_OUT_PRECISION = 0.97


def _edges(scores: Sequence[float], threshold: float) -> list[float]:
    """0, 1, the threshold and the midpoints between consecutive distinct scores, ascending."""
    distinct = sorted(set(scores))
    mids = [(a + b) / 2 for a, b in zip(distinct, distinct[1:], strict=False)]
    return sorted({0.0, 1.0, *mids} | ({threshold} - set(distinct)))


def _precision(correct: int, total: int) -> float | None:
    return correct / total if total else None


def find_review_band(
    scores: Sequence[float],
    labels: Sequence[str],
    *,
    target: float = TARGET_PRECISION,
    threshold: float = 0.5,
) -> dict:
    """The narrowest [low, high] with precision >= target on both sides, and what it does.

    "Narrowest" means the fewest examples inside, then the smallest width.
    An empty side is vacuously precise: with [0, 1] nothing is automatic.
    """
    if len(scores) != len(labels):
        raise ValueError("scores and labels must have the same length")
    pairs = sorted(zip(scores, labels, strict=False))
    ordered = [s for s, _ in pairs]
    dr_before = [0]  # data requests among the k lowest scores
    for _, label in pairs:
        dr_before.append(dr_before[-1] + (label == DATA_REQUEST))
    n, total_dr = len(pairs), dr_before[-1]

    def low_ok(edge: float) -> bool:  # scores < low are called off_topic
        k = bisect_left(ordered, edge)
        p = _precision(k - dr_before[k], k)
        return p is None or p >= target

    def high_ok(edge: float) -> bool:  # scores > high are called data_request
        k = bisect_right(ordered, edge)
        p = _precision(total_dr - dr_before[k], n - k)
        return p is None or p >= target

    edges = _edges(scores, threshold)
    lows = [e for e in edges if e <= threshold and low_ok(e)]  # never empty: 0.0 is vacuous
    highs = [e for e in edges if e >= threshold and high_ok(e)]  # never empty: 1.0 is vacuous
    best = None
    for high in highs:
        low = lows[bisect_right(lows, high) - 1] if lows[0] <= high else None
        if low is None:
            continue
        inside = bisect_right(ordered, high) - bisect_left(ordered, low)
        key = (inside, high - low, -low)
        if best is None or key < best[0]:
            best = (key, low, high)
    assert best is not None, "0.0 and 1.0 are always valid edges"
    _, low, high = best
    return {
        "band": [low, high],
        "target_precision": target,
        "threshold": threshold,
        **band_report(scores, labels, (low, high)),
    }


def band_report(scores: Sequence[float], labels: Sequence[str], band: Sequence[float]) -> dict:
    """What a band does to labelled examples: share inside, precision of each automatic side."""
    low, high = band
    n = len(scores)
    inside = sum(1 for s in scores if low <= s <= high)
    above = [label for s, label in zip(scores, labels, strict=False) if s > high]
    under = [label for s, label in zip(scores, labels, strict=False) if s < low]
    return {
        "n": n,
        "in_band": inside,
        "share_in_band": inside / n if n else None,
        "auto_data_request": len(above),
        "precision_above": _precision(above.count(DATA_REQUEST), len(above)),
        "auto_off_topic": len(under),
        "precision_below": _precision(under.count(OFF_TOPIC), len(under)),
    }
