"""Corpus -> model directory with metrics.json, through spaCy's own training loop.

Declared inputs: the JSONL corpus, `config.cfg`, a seed. Output: one model
directory that appears in a single rename, so readers never see half a model.
spaCy is imported inside the functions to keep `import classifiers` light.
"""

import hashlib
import io
import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from . import averaging, fastbow, greetings, word_classes
from .band import HELD_OUT_PRECISION, TARGET_PRECISION, band_report, find_review_band
from .corpus import CorpusError, read_jsonl, split_key, split_records
from .labels import LABELS
from .metrics import evaluate
from .model import TextClassifier, char_ngram_range, files_digest, load, spacy_load, token_extras
from .text import NORMALISATION_VERSION, TokenExtras, features

CONFIG_PATH = Path(__file__).resolve().with_name("config.cfg")
# Bump when a trained model directory gains or changes content (2: the review
# band in meta.json; 3: the band calibrated on held-out groups, from config.cfg):
# part of the cache key, so cached models are retrained.
MODEL_FORMAT = "3"  # 3 also: bow.npz, the weights scored without spaCy
# `datacall train --with-decisions` keeps a model that loses at most this much
# dev macro-F1: officers' decisions teach ways of writing the corpus's dev split
# does not contain, and the gain there is invisible on dev (about one dev text in
# a hundred may flip). A poisoned set of decisions loses far more.
RETRAIN_TOLERANCE = 0.01
# Fewer held-out dev examples than this (or one label missing): the review
# band is measured on the train split instead, and says so.
MIN_BAND_EXAMPLES = 30


# "Class weights" by kind of message (config.cfg's [datacall] balance_kinds): spaCy's
# textcat takes no example weights, so a text of a kind smaller than the median kind
# of its label is repeated, at most this many times, until its kind weighs about as
# much as the median one. Chosen on the held-out metric (MODEL_CARD.md).
MAX_KIND_REPEATS = 4


def kind_repeats(records: list[dict]) -> list[int]:
    """How many times each record is trained on when kinds are balanced (1 for a record without a kind,
    such as an officer's decision)."""
    from collections import Counter, defaultdict
    from statistics import median

    sizes = Counter((r["label"], r["kind"]) for r in records if r.get("kind"))
    by_label: dict[str, list[int]] = defaultdict(list)
    for (label, _), n in sizes.items():
        by_label[label].append(n)
    middle = {label: median(ns) for label, ns in by_label.items()}
    return [
        max(1, min(MAX_KIND_REPEATS, round(middle[r["label"]] / sizes[(r["label"], r["kind"])])))
        if r.get("kind") else 1
        for r in records
    ]


def balanced_for_fitting(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Train and dev with small kinds repeated (sizes measured over the whole corpus); test untouched."""
    everything = [r for name in ("train", "dev", "test") for r in splits[name]]
    times = dict(zip(map(id, everything), kind_repeats(everything), strict=True))
    repeat = lambda records: [r for r in records for _ in range(times[id(r)])]  # noqa: E731
    return {**splits, "train": repeat(splits["train"]), "dev": repeat(splits["dev"])}


def _greetings_share(config) -> float:
    """The share of training texts also copied inside greetings and closings (classifiers/greetings.py)."""
    share = float((config.get("datacall") or {}).get("greetings_share") or 0.0)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"[datacall] greetings_share: need a share between 0 and 1, got {share}")
    return share


def _balance_kinds(config) -> bool:
    return bool((config.get("datacall") or {}).get("balance_kinds"))


def _write_docbin(records: list[dict], path: Path, extras: TokenExtras) -> None:
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab, docs = Vocab(), DocBin()
    for record in records:
        doc = Doc(vocab, words=features(record["text"], extras))
        doc.cats = {label: float(label == record["label"]) for label in LABELS}
        docs.add(doc)
    docs.to_disk(path)


def _fit(splits: dict[str, list[dict]], work: Path, seed: int, config_path: Path) -> Path:
    """Run spaCy's training loop in `work`; return the best model's directory.

    With `[datacall] average_without_classes`, a second model is trained without the word
    classes on the same splits, and the first one's weights become the mean of both
    (classifiers/averaging.py).
    """
    from spacy.util import load_config

    from .registered import register

    register()  # a config may name datacall's own architecture
    config = load_config(config_path, overrides={"system.seed": seed}, interpolate=False)
    best = _fit_one(splits, work / "model", config)
    classes = word_classes.of_config(config)
    if classes and averaging.wanted(config):
        plain = config.copy()
        plain["datacall"] = {**plain["datacall"], "word_classes": ""}
        averaging.average_into(best, _fit_one(splits, work / "without-classes", plain))
    # Keep the shipped config free of temporary training paths (and the digest stable).
    saved = load_config(best / "config.cfg", interpolate=False)
    saved["paths"].update(train=None, dev=None)
    saved.to_disk(best / "config.cfg")
    _export_bow(best, char_ngram_range(config))
    if classes:
        word_classes.save_for_model(classes, best)  # the model keeps the classes it was trained with
    return best


def _fit_one(splits: dict[str, list[dict]], work: Path, config) -> Path:
    """spaCy's training loop on `splits` with `config`, in `work`; the best model's directory."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as spacy_train

    work.mkdir(parents=True)
    config = config.copy()
    config["paths"] = {**config["paths"], "train": str(work / "train.spacy"), "dev": str(work / "dev.spacy")}
    extras = token_extras(config)
    _write_docbin(splits["train"], work / "train.spacy", extras)
    # A tiny corpus may have no dev example: select on train rather than fail.
    _write_docbin(splits["dev"] or splits["train"], work / "dev.spacy", extras)
    nlp = init_nlp(config, use_gpu=-1)
    (work / "output").mkdir()
    log = io.StringIO()
    spacy_train(nlp, work / "output", use_gpu=-1, stdout=log, stderr=log)
    return work / "output" / "model-best"


def _export_bow(model_dir: Path, ngrams: tuple[int, int]) -> None:
    """A bag-of-words model's weights for spaCy-free scoring (fastbow.py); other models have none."""
    from spacy.symbols import IDS

    nlp = spacy_load(model_dir)
    fastbow.export(nlp.get_pipe("textcat"), {k: v for k, v in IDS.items() if k}, ngrams, model_dir / fastbow.FILE)


def _load_config(config_path: Path):
    from spacy.util import load_config

    return load_config(config_path, interpolate=False)


def _publish(model: Path, out: Path, work: Path, *, replace: bool) -> bool:
    """Rename `model` to `out`; False if `out` already holds a model and replace is off."""
    if out.exists() and any(out.iterdir()):
        if not (out / "meta.json").is_file():
            raise FileExistsError(f"{out} exists and is not a datacall model; not touching it")
        if not replace:
            return False
        out.rename(work / "previous")  # deleted with `work`
    try:
        model.rename(out)
    except OSError:
        if not replace and (out / "meta.json").is_file():
            return False  # another process published first: keep theirs
        raise
    return True


def _band_examples(splits: dict[str, list[dict]]) -> tuple[str, list[dict]]:
    """The split the review band is measured on: dev, unless too small to say anything."""
    dev = splits["dev"]
    if len(dev) >= MIN_BAND_EXAMPLES and {r["label"] for r in dev} == set(LABELS):
        return "dev", dev
    return "train", splits["train"]


def calibrated_band(config) -> tuple[float, float] | None:
    """The review band a spaCy config's [datacall] section fixes (calibrated on held-out groups), if any."""
    band = (config.get("datacall") or {}).get("review_band")
    if not band:
        return None
    low, high = (float(x) for x in band)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"[datacall] review_band: need 0 <= low <= high <= 1, got {band}")
    return low, high


def _review_band(
    classifier: TextClassifier, splits: dict[str, list[dict]], target: float, calibrated: tuple[float, float] | None
) -> dict:
    """The band and what it does on each split: the calibrated one if given, else measured on dev."""
    if calibrated:
        report = {
            "low": calibrated[0],
            "high": calibrated[1],
            "source": "held_out_groups",
            "target_precision": HELD_OUT_PRECISION,
            "threshold": 0.5,
        }
        for name in ("dev", "test"):
            if splits[name]:
                report[name] = band_report(
                    classifier.scores([r["text"] for r in splits[name]]), [r["label"] for r in splits[name]], calibrated
                )
        return report
    source, examples = _band_examples(splits)
    scores = classifier.scores([r["text"] for r in examples])
    found = find_review_band(scores, [r["label"] for r in examples], target=target)
    band = found.pop("band")
    report = {
        "low": band[0],
        "high": band[1],
        "source": source,
        "target_precision": found.pop("target_precision"),
        "threshold": found.pop("threshold"),
        source: found,
    }
    for name in ("dev", "test"):
        if name != source and splits[name]:
            held_out = splits[name]
            report[name] = band_report(
                classifier.scores([r["text"] for r in held_out]), [r["label"] for r in held_out], band
            )
    return report


def with_extra_train(splits: dict[str, list[dict]], extra: Iterable[dict]) -> dict[str, list[dict]]:
    """`splits` with `extra` examples added to train; an extra example overrides a train example with
    the same text, and one whose text is in dev or test is dropped so held-out scores stay held out."""
    held_out = {split_key(r["text"]) for name in ("dev", "test") for r in splits[name]}
    added = {}
    for record in extra:
        if split_key(record["text"]) not in held_out:
            added[split_key(record["text"])] = record  # the last one wins
    kept = [r for r in splits["train"] if split_key(r["text"]) not in added]
    return {**splits, "train": kept + list(added.values())}


def train(
    corpus: Path | str,
    out: Path | str,
    *,
    seed: int = 0,
    replace: bool = True,
    config: Path | str | None = None,
    extra_train: Iterable[dict] | None = None,
    target_precision: float = TARGET_PRECISION,
) -> dict:
    """Train on the corpus's train split (plus `extra_train`), select on dev, report dev and test.

    The review band (see band.py) is the one config.cfg's [datacall] section
    fixes, calibrated on held-out groups (python -m tools.heldout), or
    else measured on dev; it is written to meta.json and metrics.json.
    Returns metrics.json's content plus `published`: False when replace=False
    and `out` already held a model, which is then kept (this run is discarded).
    """
    import spacy

    corpus, out = Path(corpus), Path(out)
    config_path = Path(config) if config else CONFIG_PATH
    started = time.perf_counter()
    corpus_bytes = corpus.read_bytes()
    splits = split_records(read_jsonl(corpus))
    extra = list(extra_train or ())
    if extra:
        splits = with_extra_train(splits, extra)
    missing = set(LABELS) - {r["label"] for r in splits["train"]}
    if missing:
        raise CorpusError(f"{corpus}: the train split has no {', '.join(sorted(missing))} example")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        config_for_splits = _load_config(config_path)
        fitting = balanced_for_fitting(splits) if _balance_kinds(config_for_splits) else splits
        share = _greetings_share(config_for_splits)
        if share:
            fitting = {**fitting, "train": fitting["train"] + greetings.wrapped_copies(fitting["train"], share, seed)}
        model = _fit(fitting, work, seed, config_path)
        version = f"textcat-{files_digest(model)}"
        meta_file = model / "meta.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["datacall"] = {
            "model_version": version,
            "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest()[:12],
            "seed": seed,
            "normalisation": NORMALISATION_VERSION,
            "format": MODEL_FORMAT,
        }
        if extra:
            meta["datacall"]["extra_train"] = len(extra)
            # Officers' decisions carry their id (bot.training_data): later ones are unseen by this model.
            decision_ids = [r["decision_id"] for r in extra if isinstance(r.get("decision_id"), int)]
            if decision_ids:
                meta["datacall"]["last_decision_id"] = max(decision_ids)
        nlp = spacy_load(model)
        classifier = TextClassifier(
            nlp, out.resolve(), version, bow=fastbow.NumpyBagOfWords.load(model), extras=token_extras(nlp.config, model)
        )
        band = _review_band(classifier, splits, target_precision, calibrated_band(_load_config(config_path)))
        meta["datacall"]["review_band"] = [band["low"], band["high"]]
        meta_file.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        metrics = {
            **meta["datacall"],
            "corpus": str(corpus),
            "config": str(config_path),
            "spacy_version": spacy.__version__,
            "sizes": {name: len(records) for name, records in splits.items()},
            "dev": evaluate(classifier, splits["dev"]),
            "test": evaluate(classifier, splits["test"]),
            "review_band": band,
            "train_seconds": round(time.perf_counter() - started, 2),
        }
        if band.get("dev"):
            metrics["dev"]["share_in_band"] = band["dev"]["share_in_band"]
        (model / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        metrics["published"] = _publish(model, out, work, replace=replace)
        return metrics
    finally:
        shutil.rmtree(work, ignore_errors=True)


def retrain(
    corpus: Path | str,
    out: Path | str,
    *,
    extra_train: Iterable[dict],
    seed: int = 0,
    config: Path | str | None = None,
) -> dict:
    """Train with `extra_train` added; replace the model at `out` unless dev macro-F1 drops by more
    than RETRAIN_TOLERANCE.

    Both models are scored on the same dev examples (the corpus's dev split,
    or its train split when dev is empty, as training does). Returns
    `current` and `candidate` dev macro-F1 (`current` None if `out` held no
    model), `replaced`, and the candidate's `metrics`.
    """
    corpus, out = Path(corpus), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".candidate", dir=out.parent))
    try:
        candidate_dir = work / "model"
        metrics = train(corpus, candidate_dir, seed=seed, config=config, extra_train=extra_train)
        splits = split_records(read_jsonl(corpus))
        dev = splits["dev"] or splits["train"]
        candidate = evaluate(load(candidate_dir), dev)["macro_f1"]
        current = evaluate(load(out), dev)["macro_f1"] if (out / "meta.json").is_file() else None
        replaced = current is None or (candidate is not None and candidate >= current - RETRAIN_TOLERANCE)
        if replaced:
            _publish(candidate_dir, out, work, replace=True)
        return {"current": current, "candidate": candidate, "replaced": replaced, "metrics": metrics}
    finally:
        shutil.rmtree(work, ignore_errors=True)
