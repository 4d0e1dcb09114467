"""Reply texts: the editable template file, rendered and fitted to a network's limit."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.models import REQUEST_STATUSES

PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates.toml"
LANGUAGES = ("fr", "en")
REQUIRED = ("call", "start", "status", "stop", "follow_up", *REQUEST_STATUSES)
ELLIPSIS = "…"
# Placeholders shortened first when a reply is too long; links are never cut.
SHORTENABLE = ("title", "answer", "requests", "options")


class TemplateError(ValueError):
    """The template file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class Templates:
    texts: dict[str, dict[str, str]]
    source: Path

    def render(
        self, name: str, lang: str, *, max_length: int, length: Callable[[str], int] = len, **values: object
    ) -> str:
        lang = lang if lang in LANGUAGES else "fr"
        template = self.texts[name][lang]
        # Whitespace collapsed: a reply is one paragraph on every network.
        texts = {key: " ".join(str(value or "").split()) for key, value in values.items()}
        if texts.get("link"):  # " Suivi : <url>": the collapse above took the space that sets it apart
            texts["link"] = f" {texts['link']}"
        texts["answer_sep"] = " " if texts.get("answer") else ""
        return fit(template, texts, max_length, length)


def load_templates(path: str | Path | None = None) -> Templates:
    source = Path(path) if path else PACKAGED_TEMPLATES
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{source}: {exc}") from None
    for name in REQUIRED:
        for lang in LANGUAGES:
            text = data.get(name, {}).get(lang)
            if not isinstance(text, str) or not text.strip():
                raise TemplateError(f"{source}: [{name}] {lang}: missing reply text")
            for _, field, _, _ in string.Formatter().parse(text):
                if field and field not in KNOWN_PLACEHOLDERS:
                    raise TemplateError(f"{source}: [{name}] {lang}: unknown placeholder {{{field}}}")
    return Templates(texts=data, source=source)


KNOWN_PLACEHOLDERS = {
    "id", "title", "answer", "answer_sep", "url", "duplicate_of", "link", "campaign", "requests",
}


def fit(template: str, values: dict[str, str], max_length: int, length: Callable[[str], int] = len) -> str:
    """Render, shortening the free-text placeholders until the text fits.

    `length` is the network's own count (X counts a link as 23 and an emoji as 2), so each
    placeholder keeps the longest start that fits as the network counts it: one cut, no room lost.
    """
    values = dict(values)
    text = template.format_map(_Defaults(values))
    for key in SHORTENABLE:
        if length(text) <= max_length:
            return text
        value = values.get(key, "")
        if not value:
            continue

        def rendered(keep: int, key: str = key, value: str = value) -> str:
            values[key] = value[:keep].rstrip() + ELLIPSIS if keep else ""
            if key == "answer":
                values["answer_sep"] = " " if values[key] else ""
            return template.format_map(_Defaults(values))

        low, high = 0, len(value) - 1  # the longest start `value[:keep]` that fits, found by halving
        while low < high:
            middle = (low + high + 1) // 2
            if length(rendered(middle)) <= max_length:
                low = middle
            else:
                high = middle - 1
        text = rendered(low)
    while length(text) > max_length:
        text = text[: min(len(text), max_length) - len(ELLIPSIS) - 1].rstrip() + ELLIPSIS
    return text


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return ""
