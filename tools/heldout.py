"""How a model does on what it has not seen: `python -m tools.heldout`.

A random split puts near-copies of every kind of message (and every way of
writing) on both sides, so it flatters the model. Real messages arrive in
kinds and registers the corpus may not have. The headline metric here holds
whole groups out:

- kinds: K folds, each kind of message (the corpus's `kind` field) in exactly
  one fold, so each fold is tested on kinds absent from its training data;
- registers: leave one register out (the `register` field: tweet-like reply,
  portal discussion, request form, issue tracker, e-mail, petition, tool
  feedback), so each register is tested by a model that never saw it.

Every text gets one out-of-group score per scheme; the grouped macro-F1 pools
the scores of both schemes, overall, per language and per register. The same
pooled scores calibrate the review band (band.py), so its precision promise
is made for unseen kinds and registers, not for near-copies of training text.
A random K-fold split (by text hash) is measured the same way, for contrast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from classifiers.band import HELD_OUT_PRECISION, band_report, find_review_band
from classifiers.corpus import default_corpus_path, read_jsonl, split_key
from classifiers.labels import LABELS, label_for
from classifiers.metrics import metrics_from_pairs

from .card_blocks import rewrite_blocks

DEFAULT_REGISTER = "tweet_reply"  # the corpus's first texts, written before registers were recorded
LEGACY_KIND = "legacy"
# A register with fewer texts is not held out on its own (too few to measure).
MIN_REGISTER_TEXTS = 30
SCHEMES = ("kinds", "registers", "random")
GROUPED = ("kinds", "registers")
# Precision targets whose bands are reported side by side, so the cost of each promise is visible.
BAND_TARGETS = (0.97, 0.95, 0.90)

class Scorer(Protocol):
    def scores(self, texts: list[str]) -> list[float]: ...


Builder = Callable[[list[dict], Path], Scorer]  # (training records, work dir) -> classifier


def register_of(record: dict) -> str:
    return record.get("register") or DEFAULT_REGISTER


def kind_of(record: dict) -> str:
    return record.get("kind") or LEGACY_KIND


def kind_folds(records: Sequence[dict], k: int) -> list[int]:
    """Fold of each record, whole kinds together.

    Kinds are dealt largest first, each to the fold holding the fewest texts of
    the kind's majority label, so every fold is tested on both labels.
    """
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        by_kind[kind_of(record)][record["label"]] += 1
    load: list[Counter[str]] = [Counter() for _ in range(k)]
    fold_of_kind = {}
    for kind, labels in sorted(by_kind.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        label = labels.most_common(1)[0][0]
        fold = min(range(k), key=lambda f: (load[f][label], sum(load[f].values()), f))
        fold_of_kind[kind] = fold
        load[fold].update(labels)
    return [fold_of_kind[kind_of(r)] for r in records]


def register_folds(
    records: Sequence[dict], min_texts: int = MIN_REGISTER_TEXTS
) -> tuple[list[int | None], list[str]]:
    """Fold of each record by register (None: its register is too small to hold out alone).

    With a single register there is nothing to hold out: no folds.
    """
    sizes = Counter(register_of(r) for r in records)
    held = sorted(name for name, n in sizes.items() if n >= min_texts)
    if len(sizes) < 2:
        held = []
    index = {name: i for i, name in enumerate(held)}
    return [index.get(register_of(r)) for r in records], held


def random_folds(records: Sequence[dict], k: int) -> list[int]:
    """Fold of each record by a hash of its text (near-duplicates share a fold)."""
    return [
        int.from_bytes(hashlib.sha256(b"fold:" + split_key(r["text"]).encode()).digest()[:8], "big") % k
        for r in records
    ]


def _folds(scheme: str, records: list[dict], k: int, min_register: int = MIN_REGISTER_TEXTS) -> list[list[int]]:
    """Test indices of each fold of `scheme`."""
    assignment: Sequence[int | None]
    if scheme == "kinds":
        assignment = kind_folds(records, k)
    elif scheme == "registers":
        assignment, _ = register_folds(records, min_register)
    else:
        assignment = random_folds(records, k)
    folds: dict[int, list[int]] = defaultdict(list)
    for i, fold in enumerate(assignment):
        if fold is not None:
            folds[fold].append(i)
    return [folds[f] for f in sorted(folds)]


def out_of_fold_scores(
    build: Builder,
    records: list[dict],
    work: Path,
    *,
    scheme: str,
    k: int = 5,
    min_register: int = MIN_REGISTER_TEXTS,
    say: Callable[[str], None] = lambda _: None,
) -> dict[int, float]:
    """Score of each tested record by a model trained without its fold (index -> score).

    A fold whose training part lacks a label is skipped (nothing to learn from).
    """
    scores: dict[int, float] = {}
    for number, test_idx in enumerate(_folds(scheme, records, k, min_register)):
        test_set = set(test_idx)
        train_part = [r for i, r in enumerate(records) if i not in test_set]
        if {r["label"] for r in train_part} != set(LABELS):
            continue
        fold_dir = work / f"{scheme}-{number}"
        fold_dir.mkdir(parents=True)
        say(f"{scheme} fold {number + 1}: training on {len(train_part)}, testing on {len(test_idx)}")
        classifier = build(train_part, fold_dir)
        for i, score in zip(test_idx, classifier.scores([records[i]["text"] for i in test_idx]), strict=False):
            scores[i] = score
    return scores


def report_of(records: list[dict], pooled: list[tuple[int, float]], *, threshold: float = 0.5) -> dict:
    """Macro-F1 overall, per language and per register of (record index, score) pairs."""
    gold = [records[i]["label"] for i, _ in pooled]
    pred = [label_for(s, threshold) for _, s in pooled]
    report = metrics_from_pairs(gold, pred, [records[i].get("lang") or "und" for i, _ in pooled])
    by_register: dict[str, list[int]] = defaultdict(list)
    for j, (i, _) in enumerate(pooled):
        by_register[register_of(records[i])].append(j)
    report["per_register"] = {
        name: {
            key: value
            for key, value in metrics_from_pairs([gold[j] for j in idx], [pred[j] for j in idx]).items()
            if key in ("n", "accuracy", "macro_f1")
        }
        for name, idx in sorted(by_register.items())
    }
    return report


def band_options(records: list[dict], pooled: list[tuple[int, float]], targets: Sequence[float] = BAND_TARGETS) -> list:
    """The band each precision target needs on the pooled out-of-group scores, and what it sends to officers."""
    scores, labels = [s for _, s in pooled], [records[i]["label"] for i, _ in pooled]
    return [find_review_band(scores, labels, target=target) for target in targets]


def per_kind_errors(records: list[dict], pooled: list[tuple[int, float]], *, threshold: float = 0.5) -> dict:
    """Per kind of message: its label, how many out-of-group scores, how many on the wrong side of the threshold."""
    kinds: dict[str, dict] = {}
    for i, score in pooled:
        record = records[i]
        entry = kinds.setdefault(kind_of(record), {"label": record["label"], "n": 0, "errors": 0})
        entry["n"] += 1
        entry["errors"] += label_for(score, threshold) != record["label"]
    return dict(sorted(kinds.items(), key=lambda kv: (-kv[1]["errors"] / kv[1]["n"], kv[0])))


def held_out_evaluation(
    build: Builder,
    records: list[dict],
    work: Path,
    *,
    k: int = 5,
    schemes: Sequence[str] = SCHEMES,
    target: float = HELD_OUT_PRECISION,
    min_register: int = MIN_REGISTER_TEXTS,
    say: Callable[[str], None] = lambda _: None,
) -> dict:
    """Out-of-group scores under each scheme, their metrics, the grouped headline and the band."""
    started = time.perf_counter()
    per_scheme = {
        scheme: out_of_fold_scores(build, records, work, scheme=scheme, k=k, min_register=min_register, say=say)
        for scheme in schemes
    }
    result: dict = {"k": k, "schemes": {}}
    for scheme, scores in per_scheme.items():
        pooled = sorted(scores.items())
        result["schemes"][scheme] = report_of(records, pooled) if pooled else None
    grouped = [(i, s) for scheme in GROUPED if scheme in per_scheme for i, s in sorted(per_scheme[scheme].items())]
    if grouped:
        result["grouped"] = report_of(records, grouped)
        band = find_review_band([s for _, s in grouped], [records[i]["label"] for i, _ in grouped], target=target)
        result["band"] = band
        result["band_options"] = band_options(records, grouped)
        result["per_kind"] = per_kind_errors(records, grouped)
        for scheme in schemes:
            pooled = sorted(per_scheme[scheme].items())
            if pooled:
                result["schemes"][scheme]["band"] = band_report(
                    [s for _, s in pooled], [records[i]["label"] for i, _ in pooled], band["band"]
                )
    _, registers = register_folds(records, min_register)
    result["held_out_registers"] = registers
    # Each text's out-of-group scores, so bands and error studies can be redone without retraining.
    result["scores"] = {
        scheme: [[i, round(s, 6)] for i, s in sorted(scores.items())] for scheme, scores in per_scheme.items()
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def evaluate_variants(
    corpus: Path,
    variants: Sequence[str],
    *,
    k: int = 5,
    schemes: Sequence[str] = SCHEMES,
    seed: int = 0,
    epochs: int | None = None,
    out: Path | None = None,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict:
    """held_out_evaluation of each variant (tools.compare's or tools.candidates') on `corpus`.

    With `out`, the report is written after each variant, so a long run keeps what it measured.
    """
    from .candidates import build

    records = read_jsonl(corpus)
    report: dict[str, Any] = {
        "corpus": str(corpus),
        "corpus_lines": len(records),
        "registers": dict(Counter(register_of(r) for r in records).most_common()),
        "kinds": len({kind_of(r) for r in records}),
        "seed": seed,
        "epochs": epochs,
        "variants": {},
    }
    with tempfile.TemporaryDirectory(prefix="datacall-heldout-") as tmp:
        for variant in variants:
            say(f"{variant}: held-out evaluation …")
            work = Path(tmp) / variant

            def builder(train_part: list[dict], fold_dir: Path, variant=variant):
                return build(variant, train_part, fold_dir, seed, epochs=epochs)

            result = held_out_evaluation(builder, records, work, k=k, schemes=schemes, say=say)
            report["variants"][variant] = result
            say(f"{variant}: {summary_line(result)}")
            if out:
                out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_line(result: dict) -> str:
    parts = []
    for name in ("grouped", *SCHEMES):
        report = result.get(name) if name == "grouped" else result["schemes"].get(name)
        if report:
            langs = report["per_language"]
            parts.append(
                f"{name} {_f(report['macro_f1'])} (fr {_f(langs.get('fr', {}).get('macro_f1'))}, "
                f"en {_f(langs.get('en', {}).get('macro_f1'))})"
            )
    return "; ".join(parts) + f"; {result['seconds']:.0f} s"


def markdown_tables(report: dict) -> str:
    """One row per variant and scheme: macro-F1 overall, fr, en and per register."""
    registers = sorted(report["registers"])
    head = ["variant", "evaluation", "macro-F1", "fr", "en", *registers]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, result in report["variants"].items():
        for scheme in ("grouped", *SCHEMES):
            metrics = result.get("grouped") if scheme == "grouped" else result["schemes"].get(scheme)
            if not metrics:
                continue
            label = {"grouped": "**grouped** (kinds + registers held out)", "kinds": "kinds held out",
                     "registers": "registers held out", "random": "random folds"}[scheme]
            langs, regs = metrics["per_language"], metrics["per_register"]
            cells = [f"`{name}`", label, _f(metrics["macro_f1"])]
            cells += [_f(langs.get(lang, {}).get("macro_f1")) for lang in ("fr", "en")]
            cells += [_f(regs[r]["macro_f1"]) if r in regs else "–" for r in registers]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown_band_options(result: dict) -> str:
    """One row per precision target: the band it needs and the share of messages it sends to officers."""
    rows = [
        "| precision target (each side) | band | to officers | automatic data_request (precision) "
        "| automatic off_topic (precision) |",
        "|---|---|---|---|---|",
    ]
    for band in result["band_options"]:
        low, high = band["band"]
        rows.append(
            f"| {band['target_precision']:.0%} | [{low:.3f}, {high:.3f}] | {band['share_in_band']:.0%} | "
            f"{band['auto_data_request']} ({_f(band['precision_above'])}) | "
            f"{band['auto_off_topic']} ({_f(band['precision_below'])}) |"
        )
    return "\n".join(rows)


def markdown_kind_errors(result: dict, limit: int = 12) -> str:
    """The kinds of message most often misread when unseen (grouped scores), worst first."""
    rows = ["| kind | label | out-of-group scores | wrong side of 0.5 |", "|---|---|---|---|"]
    for kind, entry in list(result["per_kind"].items())[:limit]:
        rows.append(f"| `{kind}` | {entry['label']} | {entry['n']} | {entry['errors'] / entry['n']:.0%} |")
    return "\n".join(rows)


def write_card_blocks(card: Path, report: dict, variant: str) -> None:
    """Rewrite the card's `heldout_band_options` and `heldout_kinds` blocks from `variant`'s result."""
    result = report["variants"][variant]
    rewrite_blocks(
        card, {"heldout_band_options": markdown_band_options(result), "heldout_kinds": markdown_kind_errors(result)}
    )


def main(argv: Sequence[str] | None = None) -> int:
    from . import candidates
    from .compare import VARIANTS

    parser = argparse.ArgumentParser(prog="python -m tools.heldout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_path())
    known = ", ".join((*VARIANTS, *candidates.VARIANTS))
    parser.add_argument("--variants", default="bow-bigrams", help="comma-separated, from: " + known)
    parser.add_argument("--folds", type=int, default=5, help="K for the kinds and random schemes")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="train each fold for this many epochs (default: config.cfg's)")
    parser.add_argument("--out", type=Path, help="write the full report as JSON here")
    parser.add_argument("--card", type=Path, help="rewrite this model card's band-options and kinds blocks")
    parser.add_argument("--card-variant", default="bow-bigrams", help="the variant those blocks describe")
    args = parser.parse_args(argv)
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    unknown = set(schemes) - set(SCHEMES)
    if unknown:
        parser.error(f"unknown scheme(s) {', '.join(sorted(unknown))}; known: {', '.join(SCHEMES)}")
    report = evaluate_variants(
        args.corpus, [v.strip() for v in args.variants.split(",") if v.strip()],
        k=args.folds, schemes=schemes, seed=args.seed, epochs=args.epochs, out=args.out,
    )
    print(markdown_tables(report))
    if args.card and args.card_variant in report["variants"]:
        write_card_blocks(args.card, report, args.card_variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
