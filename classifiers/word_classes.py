"""Word classes: words that play the same part in a message, as extra model tokens.

A bag of words learns one weight per word, so a kind of message it has not
seen is judged on words it may never have met in that role. Giving each
word's classes as extra tokens ("csv" is followed by "~class:data") shares
what is learnt about one member with the others. The classes are written by
the project (`data/word_classes.toml`); a trained model keeps its own copy
(`word_classes.json` in its directory) so that editing the file never
changes a model already trained.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from .text import model_tokens

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_FILE = "word_classes.toml"  # the packaged classes, named so by config.cfg
MODEL_FILE = "word_classes.json"  # a trained model's copy, next to its weights
# Never the form of a word token ("~" is split off as punctuation) nor of a character n-gram ("~" + letters and <>).
CLASS_MARK = "~class:"
_CLASS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

WordClasses = Mapping[str, tuple[str, ...]]  # folded word -> its class tokens


class WordClassesError(ValueError):
    """A word-classes file that cannot be used; the message names the file and the key."""


def resolve(name: str) -> Path:
    """A config's `word_classes` value as a path: a bare file name is looked up in classifiers/data."""
    path = Path(name)
    return path if path.is_absolute() or path.parent != Path(".") else DATA_DIR / path


def load_toml(path: Path) -> dict[str, list[str]]:
    """The `[classes]` table of a word-classes file, words folded as model tokens are (class -> words)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise WordClassesError(f"{path}: {error}") from error
    table = document.get("classes")
    if not isinstance(table, dict) or not table:
        raise WordClassesError(f"{path}: expected a non-empty [classes] table")
    classes: dict[str, list[str]] = {}
    for name, words in table.items():
        if not _CLASS_NAME.match(name):
            raise WordClassesError(f"{path}: classes.{name}: a class name is lower-case letters, digits and _")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise WordClassesError(f"{path}: classes.{name}: expected a non-empty list of words")
        folded = []
        for word in words:
            tokens = model_tokens(word)
            if len(tokens) != 1:
                raise WordClassesError(f"{path}: classes.{name}: {word!r} is not one word token ({tokens})")
            folded.append(tokens[0])
        classes[name] = sorted(set(folded))
    return classes


def of_config(config) -> dict[str, list[str]] | None:
    """The classes a spaCy config's [datacall] `word_classes` names (a file), or None."""
    name = (config.get("datacall") or {}).get("word_classes")
    return load_toml(resolve(str(name))) if name else None


def by_word(classes: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Each word's class tokens, classes in name order."""
    tokens: dict[str, list[str]] = {}
    for name in sorted(classes):
        for word in classes[name]:
            tokens.setdefault(word, []).append(CLASS_MARK + name)
    return {word: tuple(names) for word, names in tokens.items()}


def save_for_model(classes: Mapping[str, list[str]], model_dir: Path) -> None:
    (Path(model_dir) / MODEL_FILE).write_text(json.dumps(classes, ensure_ascii=False, sort_keys=True), "utf-8")


def load_for_model(model_dir: Path) -> dict[str, tuple[str, ...]]:
    """A trained model's word classes by word; empty if it was trained without."""
    file = Path(model_dir) / MODEL_FILE
    if not file.is_file():
        return {}
    return by_word(json.loads(file.read_text(encoding="utf-8")))
