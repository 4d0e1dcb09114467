"""The generated blocks of MODEL_CARD.md: text between `<!-- begin:NAME -->` and `<!-- end:NAME -->`."""

from __future__ import annotations

import re
from pathlib import Path


def replace_block(card: str, name: str, body: str) -> str:
    """`card` with block `name` holding `body`; KeyError if the card has no such block (empty or not)."""
    pattern = re.compile(rf"(<!-- begin:{re.escape(name)} -->\n).*?(<!-- end:{re.escape(name)} -->)", re.DOTALL)
    if not pattern.search(card):
        raise KeyError(f"MODEL_CARD.md has no block {name!r}")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), card)


def rewrite_blocks(path: Path, blocks: dict[str, str]) -> None:
    """Rewrite the named blocks of the card file at `path`; a missing block stops the tool, naming it."""
    text = path.read_text(encoding="utf-8")
    for name, body in blocks.items():
        try:
            text = replace_block(text, name, body)
        except KeyError:
            raise SystemExit(f"{path}: no <!-- begin:{name} --> … <!-- end:{name} --> block") from None
    path.write_text(text, encoding="utf-8")
