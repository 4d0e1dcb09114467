"""Regenerate the measured parts of MODEL_CARD.md: `python -m tools.card`.

The card's prose is written by hand; every number in it sits between
`<!-- begin:NAME -->` and `<!-- end:NAME -->` markers that this module
rewrites from fresh measurements: the held-out-group evaluation of
`tools.heldout` (`--heldout FILE`, written by `python -m
tools.heldout --out FILE`), the default model trained as `datacall
train` trains it (its random test split), the comparison of
`tools.compare` (run here, or read from `--compare FILE`), and language
detection on the corpus and on data/languages.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from classifiers.corpus import default_corpus_path, read_jsonl, split_records
from classifiers.labels import LABELS
from classifiers.model import load
from classifiers.training import CONFIG_PATH, train

from .card_blocks import rewrite_blocks
from .compare import CARD_PATH, DEFAULT_VARIANTS, compare, language_report, markdown_table
from .heldout import SCHEMES, markdown_tables, register_of, report_of


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def data_section(corpus: Path, records: list[dict]) -> str:
    splits = split_records(records)
    counts = Counter((r["label"], r.get("lang") or "?") for r in records)
    langs = sorted({lang for _, lang in counts})
    rows = ["| label | " + " | ".join(langs) + " | total |", "|---" * (len(langs) + 2) + "|"]
    for label in LABELS:
        cells = [str(counts[(label, lang)]) for lang in langs]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {sum(counts[(label, lang)] for lang in langs)} |")
    registers = Counter(register_of(r) for r in records)
    kinds = Counter(r.get("kind") for r in records if r.get("kind"))
    lines = [
        f"`{corpus.relative_to(corpus.parents[2]) if len(corpus.parents) > 2 else corpus}`: "
        f"{len(records):,} labelled texts.",
        "",
        *rows,
        "",
        "Splits (by a hash of each text, so appending never moves an example): "
        + ", ".join(f"{name} {len(rs):,}" for name, rs in splits.items())
        + ".",
    ]
    lines += ["", "Registers (the corpus's `register` field; none means `tweet_reply`): "
              + ", ".join(f"{k} {n}" for k, n in registers.most_common()) + "."]
    if kinds:
        kind_counts = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
        lines += ["", f"Kinds of text (the corpus's `kind` field): {kind_counts}."]
    return "\n".join(lines)


def _confusion(report: dict) -> str:
    rows = ["| gold \\ predicted | " + " | ".join(LABELS) + " |", "|---|---|---|"]
    for gold in LABELS:
        rows.append(f"| {gold} | " + " | ".join(str(report["confusion"][gold][p]) for p in LABELS) + " |")
    return "\n".join(rows)


def model_section(metrics: dict) -> str:
    lines = ["| split | n | accuracy | macro-F1 | " + " | ".join(f"macro-F1 {lang}" for lang in ("fr", "en")) + " |",
             "|---|---|---|---|---|---|"]
    for name in ("dev", "test"):
        report = metrics[name]
        per = report["per_language"]
        langs = [f"{_f(per[lang]['macro_f1'])} (n={per[lang]['n']})" if lang in per else "–" for lang in ("fr", "en")]
        scores = f"{_f(report['accuracy'])} | {_f(report['macro_f1'])}"
        lines.append(f"| {name} | {report['n']} | {scores} | " + " | ".join(langs) + " |")
    others = {
        lang: v
        for name in ("dev", "test")
        for lang, v in metrics[name]["per_language"].items()
        if lang not in ("fr", "en")
    }
    if others:
        counts = ", ".join(f"{lang} n={v['n']}" for lang, v in others.items())
        lines += ["", f"Other languages in the held-out splits: {counts}."]
    lines += ["", "Confusion matrix, test split (rows: gold label):", "", _confusion(metrics["test"]),
              "", "Confusion matrix, dev split:", "", _confusion(metrics["dev"])]
    return "\n".join(lines)


def band_section(metrics: dict) -> str:
    band = metrics["review_band"]
    where = (
        "calibrated on held-out groups (`config.cfg`)" if band["source"] == "held_out_groups"
        else f"measured on the {band['source']} split"
    )
    lines = [
        f"Band: **[{band['low']:.3f}, {band['high']:.3f}]**, {where} "
        f"(target: automatic decisions at least {band['target_precision']:.0%} precise; labelling threshold "
        f"{band['threshold']}).",
        "",
        "| split | n | in band (to officers) | automatic data_request | precision | automatic off_topic | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("dev", "test", "train"):
        if name in band:
            b = band[name]
            lines.append(
                f"| {name} | {b['n']} | {b['in_band']} ({_pct(b['share_in_band'])}) | {b['auto_data_request']} | "
                f"{_f(b['precision_above'])} | {b['auto_off_topic']} | {_f(b['precision_below'])} |"
            )
    return "\n".join(lines)


def failures_section(model_dir: Path, records: list[dict], limit: int = 25) -> str:
    classifier = load(model_dir)
    splits = split_records(records)
    lines = ["| split | lang | gold | score | text |", "|---|---|---|---|---|"]
    shown = 0
    for name in ("test", "dev"):
        examples = splits[name]
        predictions = classifier.predict([r["text"] for r in examples])
        wrong = [(r, p) for r, p in zip(examples, predictions, strict=False) if p.label != r["label"]]
        wrong.sort(key=lambda rp: -abs(rp[1].score - 0.5))  # the most confident mistakes first
        for record, prediction in wrong:
            if shown >= limit:
                break
            lines.append(
                f"| {name} | {record.get('lang') or prediction.lang} | {record['label']} | "
                f"{prediction.score:.2f} | {_cell(record['text'])} |"
            )
            shown += 1
    if shown == 0:
        return "No misclassified example in the dev and test splits."
    return "\n".join(lines)


def language_section(report: dict) -> str:
    corpus, short, other = report["corpus"], report["corpus_short"], report["other_languages"]
    lines = [
        "| set | n | accuracy | other languages taken for fr/en |",
        "|---|---|---|---|",
        f"| corpus (fr/en, `lang` field) | {corpus['n']} | {_f(corpus['accuracy'])} | – |",
        f"| corpus texts of ≤ 60 characters | {short['n']} | {_f(short['accuracy'])} | – |",
        f"| `data/languages.jsonl` (other languages) | {other['n']} | {_f(other['accuracy'])} | "
        f"{report['other_as_fr_or_en']} |",
    ]
    if other["per_language"]:
        lines += ["", "Per language in `languages.jsonl`: " + ", ".join(
            f"{lang} {v['correct']}/{v['n']}" for lang, v in other["per_language"].items()) + "."]
    errors = corpus["errors"] + other["errors"]
    if errors:
        listed = "; ".join(f"“{_cell(e['text'])}” ({e['lang']} → {e['detected']})" for e in errors[:30])
        lines += ["", f"Errors: {listed}."]
    return "\n".join(lines)


def comparison_section(report: dict) -> str:
    load = ", ".join(f"{x:.1f}" for x in report["load_average"])
    return "\n".join([
        f"Corpus of {report['corpus_lines']:,} texts (test split n={report['sizes']['test']}); "
        + (f"{report['folds']}-fold cross-validation on train+dev; " if report["folds"] else "")
        + f"speed on {report['speed_texts']:,} distinct texts, "
        f"batches of 256, {report['cpu_count']} CPUs (load average {load} "
        "at the end of the run: wall-clock rates fall when other processes use the CPUs, "
        "CPU-second rates do not).",
        "",
        markdown_table(report),
    ])


def heldout_section(report: dict) -> str:
    """The headline: macro-F1 with kinds and registers held out, per language and register, per variant."""
    epochs = f", {report['epochs']} epochs per fold" if report.get("epochs") else ""
    first = next(iter(report["variants"].values()))
    registers = first.get("held_out_registers") or []
    return "\n".join([
        f"Corpus of {report['corpus_lines']:,} texts, {report['kinds']} kinds; kinds held out in "
        f"{first['k']} folds; registers held out one at a time: {', '.join(registers) or 'none (one register)'} "
        f"(registers under 30 texts stay in training){epochs}. \"grouped\" pools the out-of-group scores of both.",
        "",
        markdown_tables(report),
    ])


def heldout_band_section(report: dict, variant: str) -> str:
    """The band calibrated on the chosen variant's out-of-group scores, and what it does under each scheme."""
    result = report["variants"][variant]
    band = result["band"]
    low, high = band["band"]
    lines = [
        f"Band: **[{low:.3f}, {high:.3f}]**, calibrated on the out-of-group scores of `{variant}` "
        f"(target: automatic decisions at least {band['target_precision']:.0%} precise on each side).",
        "",
        "| held out | n | in band (to officers) | automatic data_request | precision "
        "| automatic off_topic | precision |",
        "|---|---|---|---|---|---|---|",
        f"| kinds + registers (calibration) | {band['n']} | {band['in_band']} ({_pct(band['share_in_band'])}) | "
        f"{band['auto_data_request']} | {_f(band['precision_above'])} | {band['auto_off_topic']} | "
        f"{_f(band['precision_below'])} |",
    ]
    for scheme in SCHEMES:
        b = (result["schemes"].get(scheme) or {}).get("band")
        if b:
            lines.append(
                f"| {scheme} | {b['n']} | {b['in_band']} ({_pct(b['share_in_band'])}) | {b['auto_data_request']} | "
                f"{_f(b['precision_above'])} | {b['auto_off_topic']} | {_f(b['precision_below'])} |"
            )
    return "\n".join(lines)


def random_section(model_dir: Path, records: list[dict]) -> str:
    """The default model on its random test split: overall, per language, per register."""
    test = split_records(records)["test"]
    scores = load(model_dir).scores([r["text"] for r in test])
    report = report_of(test, list(enumerate(scores)))
    langs, regs = report["per_language"], report["per_register"]
    head = ["split", "n", "macro-F1", "fr", "en", *regs]
    cells = ["test (random, by text hash)", str(report["n"]), _f(report["macro_f1"])]
    cells += [_f(langs.get(lang, {}).get("macro_f1")) for lang in ("fr", "en")]
    cells += [f"{_f(v['macro_f1'])} (n={v['n']})" for v in regs.values()]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(cells) + " |"])


def merged_heldout(reports: list[dict]) -> dict:
    """Several held-out reports as one (variants in order); they must describe the same evaluation."""
    merged = {**reports[0], "variants": dict(reports[0]["variants"])}
    for other in reports[1:]:
        for key in ("corpus_lines", "epochs", "kinds", "registers"):
            if other.get(key) != merged.get(key):
                raise SystemExit(f"held-out reports differ in {key}: {merged.get(key)!r} and {other.get(key)!r}")
        merged["variants"].update(other["variants"])
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.card", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_path())
    parser.add_argument(
        "--compare", type=Path, nargs="+",
        help="report(s) of `python -m tools.compare --out`, merged; with --run-compare, run it here; "
        "else the card's comparison block is left as it is",
    )
    parser.add_argument(
        "--heldout", type=Path, nargs="+",
        help="report(s) of `python -m tools.heldout --out` on the same corpus, epochs and folds, merged in order",
    )
    parser.add_argument("--variant", default="bow-bigrams", help="the variant config.cfg trains (its band is shown)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--card", type=Path, default=CARD_PATH)
    parser.add_argument(
        "--run-compare", action="store_true", help="run the (long) comparison when no --compare is given"
    )
    args = parser.parse_args(argv)
    records = read_jsonl(args.corpus)
    if args.compare:
        reports = [json.loads(path.read_text(encoding="utf-8")) for path in args.compare]
        comparison = reports[0]
        for other in reports[1:]:
            comparison["variants"].update(other["variants"])
            comparison["folds"] = max(comparison["folds"], other["folds"])
    elif args.run_compare:
        comparison = compare(args.corpus, DEFAULT_VARIANTS, folds=args.folds)
    else:
        comparison = None
    with tempfile.TemporaryDirectory(prefix="datacall-card-") as tmp:
        model_dir = Path(tmp) / "model"
        print(f"training the default model ({CONFIG_PATH.name}) …", file=sys.stderr)
        metrics = train(args.corpus, model_dir)
        blocks = {
            "data": data_section(args.corpus, records),
            "random": random_section(model_dir, records),

            "model": model_section(metrics),
            "band": band_section(metrics),
            "languages": language_section((comparison or {}).get("languages") or language_report(records)),
            "failures": failures_section(model_dir, records),
        }
    if comparison:
        blocks["comparison"] = comparison_section(comparison)
    if args.heldout:
        heldout = merged_heldout([json.loads(path.read_text(encoding="utf-8")) for path in args.heldout])
        blocks["heldout"] = heldout_section(heldout)
        blocks["heldout_band"] = heldout_band_section(heldout, args.variant)
    rewrite_blocks(args.card, blocks)
    print(f"updated {args.card}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
