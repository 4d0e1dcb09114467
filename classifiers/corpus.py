"""The labelled corpus: reading JSONL with precise errors, and stable splits.

The split of an example depends only on a hash of its own text, so appending
examples never moves existing ones between train, dev and test (and metrics
stay comparable across corpus versions).
"""

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from .labels import LABELS

SPLITS = ("train", "dev", "test")

# The ways of writing the corpus imitates (its `register` field); grouped
# evaluation holds whole registers out to see how the model meets a new one.
REGISTERS = (
    "tweet_reply", "portal_discussion", "request_form", "issue_tracker",
    "email", "petition", "tool_feedback",
)


class CorpusError(ValueError):
    """A corpus line that cannot be used; the message starts with FILE:LINE."""


def default_corpus_path() -> Path:
    """The corpus shipped inside the package (classifiers/data/corpus.jsonl)."""
    return Path(__file__).resolve().parent / "data" / "corpus.jsonl"


def _check(record: object, labelled: bool) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return 'missing or empty "text"'
    if "label" not in record:
        return 'missing "label"' if labelled else None
    if record["label"] not in LABELS:
        return f"unknown label {record['label']!r} (expected one of {', '.join(LABELS)})"
    lang = record.get("lang")
    if lang is not None and not isinstance(lang, str):
        return '"lang" must be a string'
    return None


def read_jsonl(path: Path | str, *, labelled: bool = True) -> list[dict]:
    """Records of a JSONL file (blank lines skipped); raise CorpusError on the first bad line."""
    path = Path(path)
    records = []
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
            problem = _check(record, labelled)
            if problem:
                raise CorpusError(f"{path}:{number}: {problem}")
            records.append(record)
    return records


def split_key(text: str) -> str:
    """The form of a text that decides its split: case and spacing ignored."""
    return " ".join(text.split()).casefold()


def split_of(text: str) -> str:
    """ "train" (80 %), "dev" (10 %) or "test" (10 %), from the text alone.

    Case and spacing are ignored so near-identical duplicates share a split
    instead of leaking from train into test.
    """
    key = split_key(text).encode("utf-8")
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def split_records(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by `split_of` their text, keeping file order."""
    groups: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for record in records:
        groups[split_of(record["text"])].append(record)
    return groups
