"""Campaign post texts: the editable template file, with the campaign's dates and numbers."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.replies.render import LANGUAGES, TemplateError, fit
from storage.models import POST_KINDS

PACKAGED = Path(__file__).resolve().parent / "templates.toml"
# Kinds posted as text, plus the numbered survey for networks without native polls.
TEMPLATE_NAMES = (*POST_KINDS, "survey_text")
PLACEHOLDERS = {
    "title", "call_ends", "survey_ends", "meetup_date", "meetup_time", "where",
    "count_requests", "count_accepted", "count_published", "options", "note_url", "link",
}
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


class CampaignTextError(TemplateError):
    """The campaign template file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class CampaignTexts:
    texts: dict[str, dict[str, str]]
    source: Path

    def render(
        self, name: str, lang: str, values: Mapping[str, object], *, max_length: int,
        length: Callable[[str], int] = len,
    ) -> str:
        lang = lang if lang in LANGUAGES else "fr"
        return fit(self.texts[name][lang], {key: _one_line(value) for key, value in values.items()}, max_length, length)


def load_campaign_texts(path: str | Path | None = None) -> CampaignTexts:
    source = Path(path) if path else PACKAGED
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CampaignTextError(f"{source}: {exc}") from None
    for name in TEMPLATE_NAMES:
        for lang in LANGUAGES:
            text = data.get(name, {}).get(lang)
            if not isinstance(text, str) or not text.strip():
                raise CampaignTextError(f"{source}: [{name}] {lang}: missing text")
            for _, field, _, _ in string.Formatter().parse(text):
                if field and field not in PLACEHOLDERS:
                    raise CampaignTextError(f"{source}: [{name}] {lang}: unknown placeholder {{{field}}}")
    return CampaignTexts(texts=data, source=source)


def _one_line(value: object) -> str:
    """Whitespace collapsed, but a leading space kept: `{link}` brings its own separator."""
    text = "" if value is None else str(value)
    clean = " ".join(text.split())
    return f" {clean}" if clean and text[:1].isspace() else clean


def day_text(moment: datetime, lang: str, zone: ZoneInfo) -> str:
    """"14 janvier" / "January 14", on the campaign's local calendar."""
    day = moment.astimezone(zone)
    if lang == "en":
        return f"{MONTHS['en'][day.month - 1]} {day.day}"
    return f"{day.day} {MONTHS['fr'][day.month - 1]}"


def time_text(moment: datetime, lang: str, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.hour}h{local.minute:02d}" if lang == "fr" else f"{local:%H:%M}"


def note_url(public_url: str, slug: str) -> str:
    """Where the web app serves the campaign's publication note."""
    return f"{public_url.rstrip('/')}/campaigns/{slug}" if public_url else ""
