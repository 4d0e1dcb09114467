"""How much of the corpus a static vectors package covers, per language: `python -m tools.vectors`.

Counts the corpus's word tokens (`model_tokens` with at least one letter) whose
string is a key of the package's vectors, as the package keys them (case and
accents kept, so a folded token like "donnees" may miss) and once its keys are
folded as classifiers/vectors.py folds them (what the model looks up).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from classifiers.corpus import default_corpus_path, read_jsonl
from classifiers.text import model_tokens
from classifiers.vectors import PACKAGE, fold


def coverage(records: list[dict], keys: set[str]) -> dict[str, dict]:
    """Per language: word tokens and distinct words, and the share of each that `keys` holds."""
    per: dict[str, dict] = {}
    for lang in sorted({r.get("lang") or "und" for r in records}):
        words = Counter(
            token
            for r in records
            if (r.get("lang") or "und") == lang
            for token in model_tokens(r["text"])
            if any(c.isalpha() for c in token)
        )
        total = sum(words.values())
        per[lang] = {
            "tokens": total,
            "types": len(words),
            "token_share": sum(n for w, n in words.items() if w in keys) / total if total else None,
            "type_share": sum(1 for w in words if w in keys) / len(words) if words else None,
        }
    return per


def main(argv: Sequence[str] | None = None) -> int:
    import spacy

    parser = argparse.ArgumentParser(prog="python -m tools.vectors", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_path())
    parser.add_argument("--package", default=PACKAGE)
    args = parser.parse_args(argv)
    vocab = spacy.load(args.package, exclude=["tok2vec", "morphologizer", "parser", "attribute_ruler",
                                              "lemmatizer", "ner", "senter"]).vocab
    keys = {vocab.strings[key] for key in vocab.vectors.key2row}
    records = read_jsonl(args.corpus)
    print(f"{args.package}: {vocab.vectors.shape[0]:,} distinct vectors of {vocab.vectors.shape[1]} dimensions, "
          f"{len(keys):,} keys ({len({fold(k) for k in keys}):,} once folded)")
    print("| lang | word tokens | distinct words | tokens covered (package keys) | words covered (package keys) "
          "| tokens covered (folded keys) | words covered (folded keys) |")
    print("|---|---|---|---|---|---|---|")
    exact, folded = coverage(records, keys), coverage(records, {fold(k) for k in keys})
    for lang in exact:
        e, f = exact[lang], folded[lang]
        print(f"| {lang} | {e['tokens']:,} | {e['types']:,} | {e['token_share']:.1%} | {e['type_share']:.1%} "
              f"| {f['token_share']:.1%} | {f['type_share']:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
