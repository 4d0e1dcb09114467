"""The classifier on texts by a writer who never read its corpus: `python -m tools.fresh`.

`classifiers/data/fresh_eval.jsonl` was written for evaluation only, from
public material and the label definition, by a writer who had not read
`corpus.jsonl` (`classifiers/data/FRESH_EVAL.md`). Each variant is trained
on the whole corpus as `datacall train` trains, then scored on every fresh
text: macro-F1 overall, per language and per register, and what the model's
review band does there (share sent to officers, precision of each automatic
side). Only these figures are printed, never the texts a model gets wrong:
reading them would make the set a tuning set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from classifiers.band import band_report
from classifiers.corpus import default_corpus_path, read_jsonl

from .card_blocks import rewrite_blocks
from .heldout import _f, report_of

FRESH_PATH = default_corpus_path().with_name("fresh_eval.jsonl")


def evaluate_variant(variant: str, corpus: list[dict], fresh: list[dict], work: Path, seed: int = 0) -> dict:
    """Train `variant` on the whole corpus, score the fresh texts: metrics and the band's effect."""
    from .candidates import build

    classifier = build(variant, corpus, work, seed)
    scores = classifier.scores([r["text"] for r in fresh])
    report = report_of(fresh, list(enumerate(scores)))
    band = getattr(classifier, "review_band", None)
    if band:
        report["band"] = {"low": band[0], "high": band[1], **band_report(scores, [r["label"] for r in fresh], band)}
    return report


def markdown_table(results: dict[str, dict]) -> str:
    registers = sorted({name for report in results.values() for name in report["per_register"]})
    head = ["variant", "macro-F1", "fr", "en", *registers, "to officers", "automatic precision (request / off-topic)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant, report in results.items():
        per_lang = report.get("per_language", {})
        band = report.get("band") or {}
        cells = [
            f"`{variant}`",
            _f(report["macro_f1"]),
            *(_f((per_lang.get(lang) or {}).get("macro_f1")) for lang in ("fr", "en")),
            *(_f((report["per_register"].get(name) or {}).get("macro_f1")) for name in registers),
            f"{band['share_in_band']:.0%}" if band else "n/a",
            f"{_f(band.get('precision_above'))} ({band.get('auto_data_request', 0)}) / "
            f"{_f(band.get('precision_below'))} ({band.get('auto_off_topic', 0)})" if band else "n/a",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fresh", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_path())
    parser.add_argument("--fresh", type=Path, default=FRESH_PATH)
    parser.add_argument("--variants", default="bow-bigrams", help="comma-separated, as tools.heldout takes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--card", type=Path, help="rewrite this model card's `fresh` block")
    args = parser.parse_args(argv)
    corpus, fresh = read_jsonl(args.corpus), read_jsonl(args.fresh)
    results = {}
    with tempfile.TemporaryDirectory(prefix="datacall-fresh-") as tmp:
        for variant in args.variants.split(","):
            work = Path(tmp) / variant
            work.mkdir()
            results[variant] = evaluate_variant(variant, corpus, fresh, work, args.seed)
            print(f"{variant}: macro-F1 {_f(results[variant]['macro_f1'])}", file=sys.stderr, flush=True)
    counts = Counter(r["label"] for r in fresh)
    labels = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
    body = (
        f"{len(fresh):,} fresh texts ({labels}), models trained on the {len(corpus):,}-text corpus"
        f" (seed {args.seed}).\n\n" + markdown_table(results)
    )
    print(body)
    if args.card:
        rewrite_blocks(args.card, {"fresh": body})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
