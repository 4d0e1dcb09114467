"""Copies of training texts wrapped in greetings and closings, so that politeness decides nothing.

A bag of words learns "bonjour", "merci" and "kind regards" mostly from the
corpus's thanks and chit-chat, so a long polite request of a kind it has not
seen drifts towards off-topic. Wrapping copies of texts of both labels in the
same openings and closings (`data/greetings.toml`, written by the project)
shows the model that they carry no label. Only the training split gets copies;
dev and test stay as written.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

GREETINGS_FILE = Path(__file__).resolve().parent / "data" / "greetings.toml"


def load(path: Path = GREETINGS_FILE) -> dict[str, dict[str, list[str]]]:
    """Openings and closings by language; the error names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: {error}") from None
    for lang, table in data.items():
        for key in ("openings", "closings"):
            words = table.get(key) if isinstance(table, dict) else None
            if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
                raise ValueError(f"{path}: {lang}.{key}: expected a non-empty list of texts")
    return data


def wrapped_copies(records: list[dict], share: float, seed: int, greetings: dict | None = None) -> list[dict]:
    """For about `share` of `records` in a language with greetings: a copy with an opening, a closing or both."""
    greetings = greetings if greetings is not None else load()
    rng = random.Random(seed)
    copies = []
    for record in records:
        table = greetings.get(record.get("lang", ""))
        if table is None or rng.random() >= share:
            continue
        text, roll = record["text"], rng.random()
        if roll < 0.7:
            text = rng.choice(table["openings"]) + " " + text
        if roll >= 0.4:
            text = text + "\n" + rng.choice(table["closings"])
        copies.append({**record, "text": text})
    return copies
