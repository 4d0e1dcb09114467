"""Text clean-up shared by training and prediction, so both see the same input.

Replies are short and noisy: @mentions of the city account, #hashtags, links,
emoji, missing accents, shouting. The bag-of-words model generalises better
when those variations collapse to one form.
"""

import re
import unicodedata

# Bump when `for_model` changes: it is part of the model cache key, so cached
# models trained on the old normalisation are not reused.
NORMALISATION_VERSION = "1"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Twitter @user, Mastodon @user@instance.social, Telegram @channel.
_MENTION = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_ELISION = re.compile(r"(\w)['’](\w)")
_SPACES = re.compile(r"\s+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def for_model(text: str) -> str:
    """Lower-case, accent-free text with links and mentions as placeholder words.

    Hashtag words are kept ("#OpenData" -> "opendata") because they often carry
    the topic; French elisions are split ("l'horaire" -> "l' horaire").
    """
    text = _URL.sub(" httpurl ", text)
    text = _MENTION.sub(" atmention ", text)
    text = _HASHTAG.sub(r" \1 ", text)
    text = _ELISION.sub(r"\1' \2", text)
    text = _strip_accents(text.casefold())
    return _SPACES.sub(" ", text).strip()


def for_language_id(text: str) -> str:
    """Only the words a human would read: no links, mentions, hashtags, emoji or digits.

    Hashtags go too: they are often English ("#OpenData") in French messages.
    """
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub(" ", text)
    kept = [
        c if (unicodedata.category(c)[0] in "LMP" or c.isspace()) else " "
        for c in text
    ]
    return _SPACES.sub(" ", "".join(kept)).strip()
