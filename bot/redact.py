"""Strip personal details from a message so its words can serve as a public title."""

from __future__ import annotations

import re

_PATTERNS = [
    re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE),  # links
    re.compile(r"(?<!\w)@[\w.]+(?:@[\w.-]+)?"),  # @handles, @user@instance
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"(?<!\w)(?:\+|00)?\d[\d .\-/()]{7,}\d"),  # phone numbers
]
TITLE_LENGTH = 120


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def title_from(text: str, *, fallback: str = "Untitled request") -> str:
    """The first words of a message, without handles, links, e-mails or phone numbers."""
    title = redact(text).strip(" -–—:;,.")
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return title or fallback
