"""Which requests ask for the same dataset, and which published dataset answers a request.

Requests are short, French or English, and wrapped in boilerplate ("pourriez-vous
publier en open data...", "please release ... as CSV"). Texts are reduced to
what names the dataset: accents, handles, links, stop words and boilerplate go,
plurals fold, and a small bilingual lexicon (data, in
classifiers/data/matching_lexicon.toml) turns FR/EN synonyms into one concept
token ("vélo", "bike", "cycle" -> `_bike`), so "comptages vélo" and "bike
counters" meet. Two requests are the same when their remaining tokens
mostly match each other (a soft Dice coefficient: words also match across small
spelling differences and cognates by rapidfuzz ratio, "pharmacie" ~ "pharmacy";
concepts that qualify rather than name a dataset, such as opening hours, weigh
less), blended with rapidfuzz's token_set_ratio. A request matches a catalogue
dataset when the dataset's title and keywords cover the request's tokens and the
request covers the title's.

What it cannot do: paraphrases across languages whose words are neither in the
lexicon nor cognates ("horodateurs" / "parking meters") score low, so
recall on unseen wording is below the figures measured on the labelled pairs.

Pure functions over text; no database, no network. `python -m classifiers.matching`
prints precision and recall on the "measure" part of the labelled sets in
classifiers/data/.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, TypeVar

from rapidfuzz import fuzz, process

Key = TypeVar("Key", bound=Hashable)  # a candidate's id, handed back with its score
DATA = Path(__file__).resolve().parent / "data"
DUPLICATE_PAIRS = DATA / "duplicate_pairs.jsonl"
CATALOGUE_MATCHES = DATA / "catalogue_matches.jsonl"

# Chosen before the labelled pairs were split into "tune" and "measure" (see
# classifiers/data/README.md), precision first so officers see few wrong
# suggestions. `python -m classifiers.matching` prints the figures on the
# "measure" part: duplicates at 0.70, precision 0.95 / recall 0.87; catalogue
# at 0.65, precision 0.93 / recall 0.82.
DUPLICATE_THRESHOLD = 0.7
CATALOGUE_THRESHOLD = 0.65

# ---------------------------------------------------------------------------
# Normalisation

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_ACCENT = re.compile("[\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower case, no accents, no links or handles, words separated by single spaces."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _ACCENT.sub("", unicodedata.normalize("NFKD", text.casefold()))
    text = text.replace("œ", "oe").replace("æ", "ae")
    return " ".join(_NON_WORD.sub(" ", text).split())


_IRREGULAR = {"buses": "bus", "busses": "bus", "children": "child", "people": "person", "yeux": "oeil",
              "women": "woman", "men": "man", "feet": "foot", "mice": "mouse"}
# Singular words ending in -us that must keep their s ("census" is not a plural, "menus" is).
_SINGULAR_US = frozenset(
    "bus autobus minibus trolleybus omnibus campus virus status census corpus terminus bonus focus plus nous vous "
    "tous sous surplus consensus jus abus refus".split()
)


def stem(word: str) -> str:
    """Fold plurals, FR and EN: "pistes" -> "piste", "jeux" -> "jeu", "locaux" -> "local", "libraries" -> "library"."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("eaux", "eux")):
        return word[:-1]
    if word.endswith("aux"):  # "locaux", "sociaux", "journaux" -> "local", "social", "journal"
        return word[:-3] + "al"
    if word.endswith("s") and not word.endswith(("ss", "is")) and word not in _SINGULAR_US:
        word = word[:-1]
    # "adresse(s)", "address(es)", "crèche(s)", "crash(es)" meet at "adress", "address", "crech", "crash".
    if word.endswith(("sse", "she", "che", "xe", "ze")):
        word = word[:-1]
    return word


# The vocabulary (concepts with their FR and EN forms, stop words, boilerplate,
# facets) is data: classifiers/data/matching_lexicon.toml says how to extend it.
# It is read once, when this module is imported.
LEXICON_FILE = DATA / "matching_lexicon.toml"


def _load_vocabulary(path: Path = LEXICON_FILE) -> dict:
    with path.open("rb") as file:
        return tomllib.load(file)


_VOCABULARY = _load_vocabulary()
# Concept -> FR and EN forms (folded, singular). Several concepts may share a
# form's words; longer forms win ("parc de stationnement" is parking, not a park).
LEXICON: dict[str, tuple[str, ...]] = {concept: tuple(forms) for concept, forms in _VOCABULARY["concepts"].items()}
STOP_WORDS = frozenset(stem(w) for w in _VOCABULARY["stop_words"])
# Boilerplate phrases removed before anything else (folded).
BOILERPLATE: tuple[str, ...] = tuple(_VOCABULARY["boilerplate"])


class _Lexicon:
    """The concept lexicon compiled into one regex over folded, stemmed text."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]]):
        forms: dict[str, str] = {}
        for concept, phrases in lexicon.items():
            for phrase in phrases:
                key = " ".join(stem(w) for w in fold(phrase).split())
                forms.setdefault(key, concept)
        self.forms = forms
        alternatives = sorted(forms, key=lambda f: (-len(f.split()), -len(f)))
        self.pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![a-z0-9])")

    def replace(self, text: str) -> str:
        return self.pattern.sub(lambda m: " " + " ".join("_" + c for c in self.forms[m.group()].split("+")) + " ", text)


_BOILERPLATE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(re.escape(" ".join(stem(w) for w in p.split())) for p in sorted(BOILERPLATE, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    return _Lexicon(LEXICON)


@lru_cache(maxsize=20000)
def tokens(text: str) -> tuple[str, ...]:
    """What names the dataset: concept tokens ("_bike") and remaining content words, in order, once each."""
    # French elisions fold to single letters ("l'air" -> "l air"), dropped below.
    stemmed = " ".join(stem(w) for w in fold(text).split())
    stemmed = _BOILERPLATE.sub(" ", stemmed)
    stemmed = _lexicon().replace(stemmed)
    seen: dict[str, None] = {}
    for word in stemmed.split():
        if word.startswith("_") or (word not in STOP_WORDS and (len(word) > 1) and not _is_noise_number(word)):
            seen.setdefault(word, None)
    return tuple(seen)


def clear_caches() -> None:
    """Forget every text's tokens and fuzzy words (benchmarks time the matcher with nothing cached)."""
    tokens.cache_clear()
    _fuzzy_words.cache_clear()


def _is_noise_number(word: str) -> bool:
    """Numbers other than years ("2024") say nothing about the dataset."""
    return word.isdigit() and not (len(word) == 4 and word[:2] in ("19", "20"))


def normalise(text: str) -> str:
    """`tokens` as one string, e.g. for display or for rapidfuzz."""
    return " ".join(tokens(text))


# ---------------------------------------------------------------------------
# Similarity

WORD_MATCH = 77  # rapidfuzz ratio from which two plain words count as one (typos, cognates: "pharmacie", "pharmacy")
DICE_WEIGHT = 0.75  # the rest is token_set_ratio


def _matches(word: str, others: tuple[str, ...]) -> bool:
    if word in others:
        return True
    if not _spelled(word):
        return False  # concepts match exactly; short words too ("bus" is not "bu")
    fuzzy = _fuzzy_words(others)
    # One call into rapidfuzz for all of them: the same test as any(fuzz.ratio(word, o) >= WORD_MATCH).
    return bool(fuzzy) and process.extractOne(word, fuzzy, scorer=fuzz.ratio, score_cutoff=WORD_MATCH) is not None


@lru_cache(maxsize=20000)
def _fuzzy_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words that may match by spelling."""
    return tuple(word for word in words if _spelled(word))


def _spelled(word: str) -> bool:
    """Whether a word may match another by spelling: a plain word (not a concept) of five letters or more."""
    return not word.startswith("_") and len(word) >= 5


# Concepts that qualify a dataset rather than name it: sharing "opening hours" does
# not make a library and a museum the same, so they weigh less than subjects.
FACETS = frozenset("_" + concept for concept in _VOCABULARY["facets"])
FACET_WEIGHT = 0.75


def _weight(token: str) -> float:
    return FACET_WEIGHT if token in FACETS else 1.0


def soft_dice(a: Sequence[str], b: Sequence[str]) -> float:
    """Weighted share of the tokens of both sides that find a match on the other side."""
    if not a or not b:
        return 0.0
    a, b = tuple(a), tuple(b)  # the same objects when they are tokens(): _fuzzy_words caches by them
    matched = sum(_weight(w) for w in a if _matches(w, b)) + sum(_weight(w) for w in b if _matches(w, a))
    total = sum(map(_weight, a)) + sum(map(_weight, b))
    return matched / total


def similarity(a: str, b: str) -> float:
    """How likely two requests ask for the same dataset, in [0, 1]; symmetric."""
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 0.0
    dice = soft_dice(ta, tb)
    # token_set_ratio scores a text contained in a longer one at 100 ("bus" in "bus
    # stops"), so it counts only as far as the two sides agree token by token.
    ratio = fuzz.token_set_ratio(" ".join(ta), " ".join(tb)) / 100
    return round(DICE_WEIGHT * dice + (1 - DICE_WEIGHT) * ratio * min(1.0, dice * 2), 4)


def best_matches(
    text: str,
    candidates: Iterable[tuple[Key, str]],
    *,
    threshold: float = DUPLICATE_THRESHOLD,
    limit: int = 5,
) -> list[tuple[Key, float]]:
    """The candidates (id, text) most similar to `text`, best first, at or above `threshold`."""
    scored = [(cid, similarity(text, ctext)) for cid, ctext in candidates]
    kept = [(cid, score) for cid, score in scored if score >= threshold]
    kept.sort(key=lambda pair: -pair[1])
    return kept[:limit]


# ---------------------------------------------------------------------------
# Candidate lookup: which stored texts are worth scoring at all

FUZZY_KEY = 4  # letters of a plain word's start and end that are indexed too


def index_terms(text: str) -> frozenset[str]:
    """The keys under which a text is indexed, so candidates are found without a scan.

    Two texts that `similarity` or `catalogue_score` can put above their
    thresholds share at least one matched token; a token matches exactly
    (concepts, short words) or, for plain words of five letters or more, by
    rapidfuzz ratio, so those words are also indexed by their first and last
    letters ("^phar", "rmacy$"), which near spellings share.
    """
    keys = set()
    for word in tokens(text):
        keys.add(word)
        if _spelled(word):
            keys.add("^" + word[:FUZZY_KEY])
            keys.add(word[-FUZZY_KEY:] + "$")
    return frozenset(keys)


def dataset_index_terms(dataset: DatasetText) -> frozenset[str]:
    """A catalogue dataset's keys: those of its title, keywords and the part of its description that is scored."""
    return index_terms(dataset.title) | index_terms(dataset.keywords) | index_terms(dataset.description[:2000])


# ---------------------------------------------------------------------------
# Catalogue matching


class DatasetText(NamedTuple):
    """The words of a catalogue dataset that matching reads."""

    title: str
    keywords: str = ""
    description: str = ""


DESCRIPTION_WEIGHT = 0.5  # a request word found only in the description counts half


def catalogue_score(request: str, dataset: DatasetText) -> float:
    """How likely `dataset` is what `request` asks for, in [0, 1].

    Mostly: how much of the request the dataset's title and keywords cover (a
    word found only in the long description counts half); then how much of the
    title the request covers, so "Budget participatif" does not answer "budget".
    """
    wanted = tokens(request)
    title = tokens(dataset.title)
    if not wanted or not title:
        return 0.0
    head = title + tokens(dataset.keywords)
    body = tokens(dataset.description[:2000])
    covered = sum(1.0 if _matches(w, head) else DESCRIPTION_WEIGHT if _matches(w, body) else 0.0 for w in wanted)
    coverage = covered / len(wanted)
    title_covered = sum(_matches(w, wanted) for w in title) / len(title)
    return round(0.6 * coverage + 0.4 * title_covered, 4)


def best_datasets(
    request: str,
    datasets: Iterable[tuple[Key, DatasetText]],
    *,
    threshold: float = CATALOGUE_THRESHOLD,
    limit: int = 3,
) -> list[tuple[Key, float]]:
    """The catalogue datasets (id, DatasetText) that may answer `request`, best first."""
    wanted = set(tokens(request))
    if not wanted:
        return []
    scored: list[tuple[Key, float]] = []
    for did, dataset in datasets:
        score = catalogue_score(request, dataset)
        if score >= threshold:
            scored.append((did, score))
    scored.sort(key=lambda pair: -pair[1])
    return scored[:limit]


# ---------------------------------------------------------------------------
# Scope rules


def keyword_hits(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords found in `text` as whole words or phrases, ignoring case, accents and plurals."""
    words = f" {' '.join(stem(w) for w in fold(text).split())} "
    hits = []
    for keyword in keywords:
        folded = " ".join(stem(w) for w in fold(keyword).split())
        if folded and f" {folded} " in words:
            hits.append(keyword)
    return hits


# ---------------------------------------------------------------------------
# Evaluation on the labelled sets


@dataclass(frozen=True)
class Metrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    n: int

    def line(self) -> str:
        return (
            f"threshold {self.threshold:.2f}: precision {self.precision:.3f}, recall {self.recall:.3f}, "
            f"F1 {self.f1:.3f} (tp {self.true_positives}, fp {self.false_positives}, "
            f"fn {self.false_negatives}, n {self.n})"
        )


def metrics(scores: Sequence[float], gold: Sequence[bool], threshold: float) -> Metrics:
    """Precision and recall of "score >= threshold" against the gold labels."""
    if len(scores) != len(gold):
        raise ValueError("scores and gold must have the same length")
    tp = sum(s >= threshold and g for s, g in zip(scores, gold, strict=False))
    fp = sum(s >= threshold and not g for s, g in zip(scores, gold, strict=False))
    fn = sum(s < threshold and g for s, g in zip(scores, gold, strict=False))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(threshold, precision, recall, f1, tp, fp, fn, len(gold))


def choose_threshold(scores: Sequence[float], gold: Sequence[bool], *, min_precision: float = 0.9) -> Metrics:
    """The lowest threshold with the best recall among those reaching `min_precision`."""
    candidates = sorted({round(s, 2) for s in scores} | {round(t / 100, 2) for t in range(30, 96, 5)})
    best = None
    for threshold in candidates:
        m = metrics(scores, gold, threshold)
        if m.precision >= min_precision and (best is None or m.recall > best.recall):
            best = m
    return best or metrics(scores, gold, 1.01)


# The labelled pairs are split by a hash of their texts, so adding a pair never
# moves another and nobody chooses which pairs measure the matcher.
TUNE, MEASURE = "tune", "measure"


def split_of(*texts: str) -> str:
    """The part a labelled pair belongs to: "measure" (quoted figures) or "tune" (may guide the lexicon).

    Duplicate pairs are hashed on their two texts, catalogue pairs on the request
    and the dataset id; about half of the pairs land in each part.
    """
    digest = hashlib.sha256("\x1f".join(texts).encode("utf-8")).digest()
    return MEASURE if digest[0] % 2 == 0 else TUNE


def read_pairs(path: Path | str, split: str | None = None) -> list[dict]:
    """Labelled pairs of a JSONL file; `split` keeps only "tune" or "measure" pairs."""
    with Path(path).open(encoding="utf-8") as lines:
        pairs = [json.loads(line) for line in lines if line.strip()]
    return [p for p in pairs if split is None or p["split"] == split]


def duplicate_scores(
    path: Path | str = DUPLICATE_PAIRS, split: str | None = None
) -> tuple[list[float], list[bool], list[dict]]:
    pairs = read_pairs(path, split)
    return [similarity(p["a"], p["b"]) for p in pairs], [bool(p["same"]) for p in pairs], pairs


def catalogue_scores(
    path: Path | str = CATALOGUE_MATCHES, split: str | None = None
) -> tuple[list[float], list[bool], list[dict]]:
    pairs = read_pairs(path, split)
    scores = []
    for p in pairs:
        d = p["dataset"]
        keywords = " ".join(d.get("keywords") or [])
        scores.append(catalogue_score(p["request"], DatasetText(d["title"], keywords, d.get("description", ""))))
    return scores, [bool(p["match"]) for p in pairs], pairs


def duplicate_metrics(
    threshold: float = DUPLICATE_THRESHOLD, *, split: str | None = None, path: Path | str = DUPLICATE_PAIRS
) -> Metrics:
    """Precision and recall of duplicate suggestions on the labelled pairs."""
    scores, gold, _ = duplicate_scores(path, split)
    return metrics(scores, gold, threshold)


def catalogue_metrics(
    threshold: float = CATALOGUE_THRESHOLD, *, split: str | None = None, path: Path | str = CATALOGUE_MATCHES
) -> Metrics:
    """Precision and recall of "already available" suggestions on the labelled pairs."""
    scores, gold, _ = catalogue_scores(path, split)
    return metrics(scores, gold, threshold)


_SPLIT_LABELS = {
    MEASURE: "measure (the figures to quote)",
    TUNE: "tune (lexicon entries may be fitted to it)",
    None: "all",
}


def _report(name: str, score_fn, threshold: float, text_of, verbose: bool) -> None:
    for split in (MEASURE, TUNE, None):
        scores, gold, pairs = score_fn(split=split)
        print(f"{name}, {_SPLIT_LABELS[split]}: {len(pairs)} labelled pairs ({sum(gold)} positive)")
        print("  in use      " + metrics(scores, gold, threshold).line())
        if split == TUNE:
            print("  most recall at precision >= 0.9: " + choose_threshold(scores, gold).line())
        # Failures are listed for the tune part only: reading the measure part's
        # failures to add lexicon entries would make its figures meaningless.
        if verbose and split == TUNE:
            for score, g, pair in sorted(zip(scores, gold, pairs, strict=False), key=lambda x: -x[0]):
                if (score >= threshold) != g:
                    print(f"    {'FP' if not g else 'FN'} {score:.3f}  {text_of(pair)}")


def main(argv: Sequence[str] = ()) -> int:
    verbose = "-v" in argv or "--verbose" in argv
    _report("duplicates", duplicate_scores, DUPLICATE_THRESHOLD,
            lambda p: f"{p['a']!r} ~ {p['b']!r}  [{p.get('note', '')}]", verbose)
    _report("catalogue", catalogue_scores, CATALOGUE_THRESHOLD,
            lambda p: f"{p['request']!r} -> {p['dataset']['title']!r}  [{p.get('note', '')}]", verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
