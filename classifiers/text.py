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


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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
    text = _HASHTAG.sub(" ", text)
    kept = [
        c if (unicodedata.category(c)[0] in "LMP" or c.isspace()) else " "
        for c in text
    ]
    return _SPACES.sub(" ", "".join(kept)).strip()
