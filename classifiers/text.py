"""Text clean-up and tokenisation shared by training and prediction.

Replies are short and noisy: @mentions of the city account, #hashtags, links,
emoji, missing accents, shouting. The bag-of-words model generalises better
when those variations collapse to one form. Splitting words with one regex
here, instead of spaCy's affix rules, also makes prediction about twice as
fast on new text (spaCy's rules are costly on words it has not cached yet).
"""

import re
import unicodedata

# Bump when `model_tokens` changes: it is part of the model cache key, so
# cached models trained on the old tokens are not reused.
NORMALISATION_VERSION = "1"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Twitter @user, Mastodon @user@instance.social, Telegram @channel.
_MENTION = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_ELISION = re.compile(r"(\w)'(\w)")
_SYMBOL = re.compile(r"([^\w\s'])")  # punctuation and emoji become tokens of their own
_SPACES = re.compile(r"\s+")
_LATIN_ACCENT = re.compile("[\u0300-\u036f]")  # combining accents of Latin scripts
_NON_WORD = re.compile(r"[^\w\s]+")
_DIGITS = re.compile(r"[\d_]+")


def _strip_accents(text: str) -> str:
    """Drop Latin accents ("données" -> "donnees"), keep other scripts' marks."""
    if text.isascii():
        return text
    return _LATIN_ACCENT.sub("", unicodedata.normalize("NFKD", text))


def _marks_and_punctuation(match: re.Match) -> str:
    return "".join(c if unicodedata.category(c)[0] in "MP" else " " for c in match.group())


def model_tokens(text: str) -> list[str]:
    """Lower-case, accent-free words, with links and mentions as placeholder words.

    Hashtag words are kept ("#OpenData" -> "opendata") because they often carry
    the topic; French elisions are split ("l'horaire" -> "l'", "horaire").
    """
    text = _URL.sub(" httpurl ", text)
    text = _MENTION.sub(" atmention ", text)
    text = _HASHTAG.sub(r" \1 ", text)
    text = _strip_accents(text.casefold()).replace("’", "'")
    text = _ELISION.sub(r"\1' \2", text)
    return _SYMBOL.sub(r" \1 ", text).split()


def for_language_id(text: str) -> str:
    """Only the words a human would read: no links, mentions, hashtags, emoji or digits.

    Hashtags go too: they are often English ("#OpenData") in French messages.
    """
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub(" ", unicodedata.normalize("NFC", text))
    text = _NON_WORD.sub(_marks_and_punctuation, text)  # emoji and symbols go
    return _SPACES.sub(" ", _DIGITS.sub(" ", text)).strip()
