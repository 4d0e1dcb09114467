"""Offline language detection for short social-media replies (py3langid).

Replies come mostly in French or English, so the candidate set is limited to
languages plausibly written to a European city, and French and English get a
prior boost: a two-word "merci !" should not come out as Czech, while a full
German or Spanish sentence still wins on its own evidence.
"""

from collections.abc import Iterable
from functools import cache

from .text import for_language_id

UNKNOWN = "und"  # BCP 47 "undetermined": nothing readable left (emoji, links only)

CANDIDATES = (
    "fr", "en", "de", "es", "it", "pt", "nl", "ca", "eu", "br", "oc", "gl",
    "pl", "ro", "cs", "sk", "hu", "sv", "da", "no", "fi", "el", "bg", "hr",
    "ru", "uk", "tr", "ar", "he", "fa", "hi", "bn", "ur", "zh", "ja", "ko",
    "vi", "id", "th", "sw",
)
PREFERRED = {"fr": 8.0, "en": 8.0}  # prior odds multiplier over other candidates
MIN_LETTERS = 2


@cache
def _identifier():
    """Load the py3langid model once per process (about half a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text` ("fr", "en", ...), or "und" if nothing to read."""
    cleaned = for_language_id(text)
    if sum(map(str.isalpha, cleaned)) < MIN_LETTERS:
        return UNKNOWN
    ranked = _identifier().rank(cleaned)
    top, top_p = ranked[0]
    if top in PREFERRED:
        return top
    probs = dict(ranked)
    preferred = max(PREFERRED, key=lambda lang: probs[lang] * PREFERRED[lang])
    return preferred if probs[preferred] * PREFERRED[preferred] > top_p else top


def detect_languages(texts: Iterable[str]) -> list[str]:
    """`detect_language` over many texts."""
    return [detect_language(t) for t in texts]
