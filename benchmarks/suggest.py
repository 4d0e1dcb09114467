"""Cost of suggestions per new request, from 1,000 to 100,000 open requests, as ratios to a ceiling.

    python -m benchmarks.suggest [--sizes 1000 10000 100000] [--new 40] [--url URL]

For each size N, a database (SQLite in a temporary folder by default, or --url)
holds N open requests already looked at and indexed, on a mix of subjects and
place names (many share common concepts such as "_bus", few share rare words).
Then `--new` new requests arrive (half of them duplicates of an open request),
and the suggest step (`suggest_new`: index lookups, scoring, one short write per
batch) is timed per new request.

The ceiling, measured in the same run: the matcher alone scoring one new request
against a fixed list of 100 texts in memory (no database, nothing cached), i.e.
what the step would cost if the database were free and it compared with 100
requests (the most candidates it scores: `storage.match_terms.CANDIDATE_LIMIT`). A ratio
of 0.5 means one suggestion costs twice that. "scan" is what suggestions cost
before the index: one new request scored against every open request.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

import sqlalchemy as sa

from bot.pipeline import suggest
from bot.pipeline.suggest import INDEX_KEY, MARK_KEY, suggest_new
from classifiers import matching
from storage import match_terms
from storage.database import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import AppSetting, Request

SUBJECTS = [
    "ponctualité des bus", "horaires des bus", "comptages vélo", "pistes cyclables", "arbres d'alignement",
    "qualité de l'air", "menus des cantines", "toilettes publiques", "bornes de recharge", "places de parking",
    "permis de construire", "résultats des élections", "subventions aux associations", "accidents de la route",
    "bike counters", "bus stops", "street trees", "air quality", "school canteen menus", "public toilets",
    "EV charging points", "parking spaces", "building permits", "election results", "grants to charities",
    "road accidents", "noise maps", "drinking fountains", "playgrounds", "library loans",
]
FACETS = ["par heure", "en temps réel", "per hour", "by line", "with opening hours", "", "", ""]
SYLLABLES = ["ba", "lo", "mi", "ter", "vin", "cha", "rou", "pel", "dor", "sau", "gre", "nat", "fol", "jus"]


def place(rng: random.Random) -> str:
    """A made-up street or district name: rare words, as real requests have."""
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def request_text(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(FACETS)} {place(rng)} {place(rng)}".strip()


def seed(sessions, count: int, rng: random.Random) -> list[str]:
    texts = [request_text(rng) for _ in range(count)]
    for start in range(0, count, 5000):
        chunk = range(start + 1, min(count, start + 5000) + 1)
        with sessions() as session, session.begin():
            session.execute(sa.insert(Request), [{"id": i, "title": texts[i - 1]} for i in chunk])
            match_terms.replace_terms(
                session, kind="request", terms_by_ref={i: matching.index_terms(texts[i - 1]) for i in chunk}
            )
    with sessions() as session, session.begin():
        session.add_all([AppSetting(key=MARK_KEY, value=str(count)),
                         AppSetting(key=INDEX_KEY, value=suggest.INDEX_VERSION)])
    return texts


def ceiling(new: list[str], rng: random.Random) -> float:
    """Seconds per new request for the matcher alone against 100 texts in memory."""
    fixed = [(i, request_text(rng)) for i in range(100)]
    elapsed = 0.0
    for text in new:
        matching.clear_caches()  # nothing cached, as for the step's candidates
        started = time.perf_counter()
        matching.best_matches(text, fixed, limit=suggest.LIMIT)
        elapsed += time.perf_counter() - started
    return elapsed / len(new)


def scan(new: list[str], texts: list[str], samples: int = 3) -> float:
    """Seconds per new request when it is scored against every open request (the old way)."""
    candidates = list(enumerate(texts, start=1))
    started = time.perf_counter()
    for text in new[:samples]:
        matching.best_matches(text, candidates, limit=suggest.LIMIT)
    return (time.perf_counter() - started) / samples


def measure(url: str, count: int, new_count: int, seed_value: int = 12) -> dict:
    rng = random.Random(seed_value)
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        texts = seed(sessions, count, rng)
        # Half duplicates of an open request (other facet, other words around), half new subjects.
        new = [texts[rng.randrange(count)] + " svp" if n % 2 else request_text(rng) for n in range(new_count)]
        with sessions() as session, session.begin():
            session.execute(sa.insert(Request), [{"id": count + 1 + n, "title": t} for n, t in enumerate(new)])
        candidate_counts = []
        with sessions() as session:
            for n, text in enumerate(new):
                found = match_terms.candidates(
                    session, kind="request", terms=matching.index_terms(text), below=count + 1 + n
                )
                candidate_counts.append(len(found))
        matching.clear_caches()
        started = time.perf_counter()
        added = suggest_new(sessions, batch_size=100)
        per_request = (time.perf_counter() - started) / new_count
        floor = ceiling(new, rng)
        return {
            "open_requests": count,
            "new_requests": new_count,
            "suggestions": added,
            "suggest_ms": per_request * 1000,
            "ceiling_ms": floor * 1000,
            "ratio": floor / per_request,
            "scan_ms": scan(new, texts) * 1000,
            "candidates_median": statistics.median(candidate_counts),
            "candidates_max": max(candidate_counts),
        }
    finally:
        engine.dispose()


def report(rows: list[dict]) -> str:
    lines = [
        "| open requests | suggest per new request (ms) | ceiling (ms) | ratio to ceiling "
        "| candidates scored (median / max) | scan of every open request (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['open_requests']:,} | {row['suggest_ms']:.1f} | {row['ceiling_ms']:.1f} | {row['ratio']:.2f} "
            f"| {row['candidates_median']:.0f} / {row['candidates_max']} | {row['scan_ms']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--new", type=int, default=40)
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(measure(args.url or f"sqlite:///{folder}/suggest.db", size, args.new))
    print(report(rows))


if __name__ == "__main__":
    main()
