"""How a quote of someone's words is recognised: runs of five words in a row, case and punctuation aside.

One rule for erasure (titles, suggestions) and for officers' notes, so that
"no five words of the person remain" means the same thing everywhere.
"""

from __future__ import annotations

import re

QUOTE_WORDS = 5
_WORD = re.compile(r"\w+")


def words(text: str | None) -> list[str]:
    """The words of `text`, case-folded, punctuation dropped."""
    return [word.casefold() for word in _WORD.findall(text or "")]


def word_runs(text: str | None, size: int = QUOTE_WORDS) -> set[tuple[str, ...]]:
    """Every run of `size` consecutive words, case-folded: how a quote is recognised."""
    found = words(text)
    return {tuple(found[i:i + size]) for i in range(len(found) - size + 1)}
