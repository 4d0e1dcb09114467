"""Text clean-up and tokenisation shared by training and prediction.

Replies are short and noisy: @mentions of the city account, #hashtags, links,
emoji, missing accents, shouting. The bag-of-words model generalises better
when those variations collapse to one form. Splitting words with one regex
here, instead of spaCy's affix rules, also makes prediction about twice as
fast on new text (spaCy's rules are costly on words it has not cached yet).
"""

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Bump when `model_tokens` changes: it is part of the model cache key, so
# cached models trained on the old tokens are not reused.
NORMALISATION_VERSION = "1"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Twitter @user, Mastodon @user@instance.social, Telegram @channel.
_MENTION = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_ELISION = re.compile(r"(\w)'(\w)")
# A token is a run of word characters and apostrophes, or one other symbol
# (punctuation and emoji become tokens of their own).
_TOKEN = re.compile(r"[\w']+|[^\w\s']")
_LATIN_ACCENT = re.compile("[\u0300-\u036f]")  # combining accents of Latin scripts
_NON_WORD = re.compile(r"[^\w\s]")
_DIGITS = re.compile(r"[\d_]")
# First character of every character n-gram token (never of a word token).
CHAR_NGRAM_MARK = "~"


def _strip_accents(text: str) -> str:
    """Drop Latin accents ("données" -> "donnees"), keep other scripts' marks."""
    if text.isascii():
        return text
    return _LATIN_ACCENT.sub("", unicodedata.normalize("NFKD", text))


def model_tokens(text: str) -> list[str]:
    """Lower-case, accent-free words, with links and mentions as placeholder words.

    Hashtag words are kept ("#OpenData" -> "opendata") because they often carry
    the topic; French elisions are split ("l'horaire" -> "l'", "horaire").
    """
    # The `in` tests only skip substitutions that could not match: the fast path of every reply.
    text = _links_and_mentions(text, " httpurl ", " atmention ")
    if "#" in text:
        text = _HASHTAG.sub(r" \1 ", text)
    text = _strip_accents(text.casefold()).replace("’", "'")
    if "'" in text:
        text = _ELISION.sub(r"\1' \2", text)
    return _TOKEN.findall(text)


def _links_and_mentions(text: str, link: str, mention: str) -> str:
    lowered = text.lower()
    if "http" in lowered or "www." in lowered:
        text = _URL.sub(link, text)
    if "@" in text:
        text = _MENTION.sub(mention, text)
    return text


def char_ngrams(words: list[str], low: int, high: int) -> list[str]:
    """Character n-grams (lengths low..high) of each word, as extra tokens.

    They let the model share evidence between "publier", "publiez" and
    "publication", and survive typos. Each word is framed by "<" and ">" and
    each n-gram starts with "~", a form no word token can take (punctuation
    is always split off), so "~bus" never collides with the word "bus".
    """
    if not low:
        return []
    grams: list[str] = []
    for word in words:
        if len(word) < 3 or not word.isalpha():
            continue
        framed = f"<{word}>"
        for size in range(low, min(high, len(framed)) + 1):
            grams.extend(CHAR_NGRAM_MARK + framed[i : i + size] for i in range(len(framed) - size + 1))
    return grams


@dataclass(frozen=True)
class TokenExtras:
    """What a model adds after a text's words: each word's character n-grams, then its word classes.

    Extras are computed word by word (so the fast scoring paths can cache them
    per word) and come after all the words, in word order: `features` and
    the fast paths build the same token sequence, hence the same n-grams.
    """

    char_ngrams: tuple[int, int] = (0, 0)
    word_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # folded word -> class tokens

    def __bool__(self) -> bool:
        return bool(self.char_ngrams[0] or self.word_classes)

    def of_word(self, word: str) -> list[str]:
        low, high = self.char_ngrams
        grams = char_ngrams([word], low, high) if low else []
        return grams + list(self.word_classes.get(word, ()))


NO_EXTRAS = TokenExtras()


class WordIds:
    """The token ids of `features(words)` for the fast scoring paths, cached word by word.

    `string_id` is the model's own string-to-id function (spaCy's hash, or
    the numpy path's copy of it). Words recur, so each word's ids (its own,
    then its extras') are computed once; the cache is cleared when full, so
    memory stays bounded on endless streams.
    """

    CACHE_WORDS = 50_000

    def __init__(self, extras: TokenExtras, string_id: Callable[[str], int]):
        self.extras = extras
        self.string_id = string_id
        self._ids: dict[str, tuple[int, ...]] = {}

    def _of_word(self, word: str) -> tuple[int, ...]:
        ids = tuple(self.string_id(t) for t in [word, *self.extras.of_word(word)])
        if len(self._ids) >= self.CACHE_WORDS:
            self._ids.clear()
        self._ids[word] = ids
        return ids

    def of(self, words: list[str]) -> list[int]:
        """The ids of `features(words)`, in that order: the words, then their extras."""
        cached = self._ids.get
        per_word = [cached(word) or self._of_word(word) for word in words]
        if not self.extras:
            return [ids[0] for ids in per_word]
        return [ids[0] for ids in per_word] + [i for ids in per_word for i in ids[1:]]


def features(text: str, extras: TokenExtras = NO_EXTRAS) -> list[str]:
    """The tokens a model sees: `model_tokens`, then each word's extras if the model uses them."""
    words = model_tokens(text)
    if not extras or not words:
        return words
    return words + [token for word in words for token in extras.of_word(word)]


class _LanguageIdChars(dict):
    """`str.translate` table of `for_language_id`, filled one character at a time on first sight.

    A character becomes a space if it is a digit or "_", or if it is neither a
    word character, nor a space, nor a mark or punctuation (emoji and symbols);
    every other character is kept. Deciding per character with the same
    regular expressions as the run-by-run substitutions gives the same text,
    and translate does it in one pass (CPython caches the ASCII answers).
    """

    LIMIT = 20_000  # distinct characters remembered; cleared when full (bounded on any input)

    def __missing__(self, code: int) -> int:
        if len(self) >= self.LIMIT:
            self.clear()
        char = chr(code)
        drop = bool(_DIGITS.match(char)) or (
            bool(_NON_WORD.match(char)) and unicodedata.category(char)[0] not in "MP"
        )
        self[code] = value = 32 if drop else code
        return value


_LANGUAGE_ID_CHARS = _LanguageIdChars()


def for_language_id(text: str) -> str:
    """Only the words a human would read: no links, mentions, hashtags, emoji or digits.

    Hashtags go too: they are often English ("#OpenData") in French messages.
    """
    text = _links_and_mentions(text, " ", " ")
    text = unicodedata.normalize("NFC", text)
    if "#" in text:
        text = _HASHTAG.sub(" ", text)
    return " ".join(text.translate(_LANGUAGE_ID_CHARS).split())  # \s (re) and split() agree on spaces
