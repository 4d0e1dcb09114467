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
from pathlib import Path

from .corpus import CorpusError, read_jsonl, split_records
from .labels import LABELS
from .metrics import evaluate
from .model import TextClassifier, files_digest
from .text import NORMALISATION_VERSION, model_tokens

CONFIG_PATH = Path(__file__).resolve().with_name("config.cfg")


def _write_docbin(records: list[dict], path: Path) -> None:
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab, docs = Vocab(), DocBin()
    for record in records:
        doc = Doc(vocab, words=model_tokens(record["text"]))
        doc.cats = {label: float(label == record["label"]) for label in LABELS}
        docs.add(doc)
    docs.to_disk(path)


def _fit(splits: dict[str, list[dict]], work: Path, seed: int) -> Path:
    """Run spaCy's training loop in `work`; return the best model's directory."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as spacy_train
    from spacy.util import load_config

    _write_docbin(splits["train"], work / "train.spacy")
    # A tiny corpus may have no dev example: select on train rather than fail.
    _write_docbin(splits["dev"] or splits["train"], work / "dev.spacy")
    overrides = {
        "paths.train": str(work / "train.spacy"),
        "paths.dev": str(work / "dev.spacy"),
        "system.seed": seed,
    }
    config = load_config(CONFIG_PATH, overrides=overrides, interpolate=False)
    nlp = init_nlp(config, use_gpu=-1)
    (work / "output").mkdir()
    log = io.StringIO()
    spacy_train(nlp, work / "output", use_gpu=-1, stdout=log, stderr=log)
    best = work / "output" / "model-best"
    # Keep the shipped config free of temporary training paths (and the digest stable).
    saved = load_config(best / "config.cfg", interpolate=False)
    saved["paths"].update(train=None, dev=None)
    saved.to_disk(best / "config.cfg")
    return best


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


def train(corpus: Path | str, out: Path | str, *, seed: int = 0, replace: bool = True) -> dict:
    """Train on the corpus's train split, select on dev, report dev and test.

    Returns metrics.json's content plus `published`: False when replace=False
    and `out` already held a model, which is then kept (this run is discarded).
    """
    import spacy

    corpus, out = Path(corpus), Path(out)
    started = time.perf_counter()
    corpus_bytes = corpus.read_bytes()
    splits = split_records(read_jsonl(corpus))
    missing = set(LABELS) - {r["label"] for r in splits["train"]}
    if missing:
        raise CorpusError(f"{corpus}: the train split has no {', '.join(sorted(missing))} example")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model = _fit(splits, work, seed)
        version = f"textcat-{files_digest(model)}"
        meta_file = model / "meta.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["datacall"] = {
            "model_version": version,
            "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest()[:12],
            "seed": seed,
            "normalisation": NORMALISATION_VERSION,
        }
        meta_file.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        classifier = TextClassifier(spacy.load(model), out.resolve(), version)
        metrics = {
            **meta["datacall"],
            "corpus": str(corpus),
            "spacy_version": spacy.__version__,
            "sizes": {name: len(records) for name, records in splits.items()},
            "dev": evaluate(classifier, splits["dev"]),
            "test": evaluate(classifier, splits["test"]),
            "train_seconds": round(time.perf_counter() - started, 2),
        }
        (model / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        metrics["published"] = _publish(model, out, work, replace=replace)
        return metrics
    finally:
        shutil.rmtree(work, ignore_errors=True)
