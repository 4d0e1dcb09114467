"""The match-term index behind suggestions: candidates by shared terms, bounded, rebuilt after an upgrade."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import delete, func, select

from bot.pipeline import suggest
from bot.pipeline.suggest import INDEX_KEY, MARK_KEY, suggest_new
from classifiers import matching
from storage import match_terms
from storage.database import make_engine, make_session_factory, reading
from storage.migrate import upgrade
from storage.models import AppSetting, MatchTerm, Request, Suggestion

# Unrelated subjects: none of their terms meets "school canteen menus".
UNRELATED = [
    "Ponctualité des bus ligne {n}", "Comptages vélo compteur {n}", "Arbres d'alignement quartier {n}",
    "Qualité de l'air station {n}", "Permis de construire dossier {n}", "Résultats des élections bureau {n}",
]


def add_requests(sessions, titles: list[str], start: int) -> list[int]:
    """Requests that the suggest step has already looked at, indexed as it indexes them."""
    ids = list(range(start, start + len(titles)))
    with sessions() as session, session.begin():
        session.execute(sa.insert(Request), [{"id": i, "title": t} for i, t in zip(ids, titles, strict=False)])
        match_terms.replace_terms(
            session, kind="request",
            terms_by_ref={i: matching.index_terms(t) for i, t in zip(ids, titles, strict=False)},
        )
        session.merge(AppSetting(key=MARK_KEY, value=str(ids[-1])))
        session.merge(AppSetting(key=INDEX_KEY, value=suggest.INDEX_VERSION))
    return ids


def candidates_for(sessions, text: str, below: int) -> set[int]:
    with reading(sessions) as session:
        return match_terms.candidates(session, kind="request", terms=matching.index_terms(text), below=below)


def test_the_candidate_set_does_not_grow_with_unrelated_requests(sessions):
    related = add_requests(sessions, ["Menus des cantines scolaires", "School canteen menus per school"], 1)
    text = "Please publish the school canteen menus as CSV"
    before = candidates_for(sessions, text, below=10**6)
    assert set(related) <= before
    add_requests(sessions, [UNRELATED[n % len(UNRELATED)].format(n=n) for n in range(3000)], 10)
    assert candidates_for(sessions, text, below=10**6) == before


def test_a_common_term_reads_a_bounded_number_of_holders(sessions):
    add_requests(sessions, [f"Horaires des bus ligne {n}" for n in range(match_terms.RARE_LIMIT + 200)], 1)
    found = candidates_for(sessions, "Horaires des bus", below=10**6)
    assert 0 < len(found) <= match_terms.RARE_LIMIT
    # The most recent holders are the ones read.
    assert max(found) == match_terms.RARE_LIMIT + 200


def test_a_new_request_is_matched_against_the_indexed_ones_only(sessions, monkeypatch):
    add_requests(sessions, ["Menus des cantines scolaires"] + [UNRELATED[n % 6].format(n=n) for n in range(500)], 1)
    with sessions() as session, session.begin():
        session.add(Request(id=502, title="School canteen menus, school by school"))
    compared: list[int] = []
    real = matching.best_matches

    def spy(text, candidates, **kwargs):
        candidates = list(candidates)
        compared.extend(rid for rid, _ in candidates)
        return real(text, candidates, **kwargs)

    monkeypatch.setattr(matching, "best_matches", spy)
    assert suggest_new(sessions) == 1
    assert compared == [1]  # not the 500 others
    with sessions() as session:
        assert session.scalars(select(Suggestion.target)).all() == ["request:1"]
        # The new request is in the index now, for the next ones.
        assert session.scalar(select(func.count()).select_from(MatchTerm).where(MatchTerm.ref_id == 502)) > 0


def test_the_index_is_rebuilt_once_after_an_upgrade(sessions):
    with sessions() as session, session.begin():
        session.add(Request(id=1, title="Menus des cantines scolaires"))
    suggest_new(sessions)
    # A database upgraded from before the index: requests looked at, no terms, no version.
    with sessions() as session, session.begin():
        session.execute(delete(MatchTerm))
        session.execute(delete(AppSetting).where(AppSetting.key == INDEX_KEY))
        session.add(Request(id=2, title="School canteen menus"))
    suggest_new(sessions)
    with sessions() as session:
        assert session.scalars(select(Suggestion.target).where(Suggestion.request_id == 2)).all() == ["request:1"]
        assert session.get(AppSetting, INDEX_KEY).value == suggest.INDEX_VERSION


def test_a_reading_session_neither_waits_for_nor_blocks_a_sqlite_writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as writer, writer.begin():
        writer.add(Request(id=1, title="written"))
        writer.flush()
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE); a reader goes on at once.
        with reading(sessions) as reader:
            assert reader.scalar(select(func.count()).select_from(Request)) == 0
    engine.dispose()


def test_every_pair_the_matcher_accepts_shares_an_index_term():
    """The index loses no suggestion on the labelled sets: above the threshold, a term is always shared."""
    scores, _, pairs = matching.duplicate_scores()
    for score, pair in zip(scores, pairs, strict=False):
        if score >= matching.DUPLICATE_THRESHOLD:
            assert matching.index_terms(pair["a"]) & matching.index_terms(pair["b"]), pair
    scores, _, pairs = matching.catalogue_scores()
    for score, pair in zip(scores, pairs, strict=False):
        if score >= matching.CATALOGUE_THRESHOLD:
            d = pair["dataset"]
            dataset = matching.DatasetText(d["title"], " ".join(d.get("keywords") or []), d.get("description", ""))
            assert matching.index_terms(pair["request"]) & matching.dataset_index_terms(dataset), pair


def test_the_suggest_benchmark_runs_and_reports(tmp_path):
    """benchmarks/suggest.py end to end on a small database; timings are not checked, only the report."""
    from benchmarks import suggest as bench

    row = bench.measure(f"sqlite:///{tmp_path}/bench.db", 300, 6)
    assert row["open_requests"] == 300 and row["candidates_max"] <= match_terms.CANDIDATE_LIMIT
    assert row["suggestions"] >= 3  # the three duplicates among the six new requests are found
    assert "| 300 |" in bench.report([row])


def test_erasing_a_requester_takes_their_words_out_of_the_index(cli, sessions, write_config, db_url):
    from tests.helpers import citizens_reply

    config = write_config(f'[database]\nurl = "{db_url}"\n[classifier]\nreview_band = [0.0, 0.0]\n', "erase.toml")
    cli("init", config=config)
    citizens_reply(
        sessions, to=None, citizens=[("@parent_a", "Merci de publier les menus des cantines scolaires zorblax")]
    )
    cli("run --once", config=config)
    with sessions() as session:
        [request_id] = session.scalars(select(Request.id)).all()
        session.execute(sa.update(Request).where(Request.id == request_id).values(title="Menus des cantines"))
        session.commit()
        terms = set(session.scalars(select(MatchTerm.term).where(MatchTerm.ref_id == request_id)))
    assert "zorblax" in terms  # a word of the message, not of the title
    cli("requester erase sandbox @parent_a --yes", config=config)
    with sessions() as session:
        terms = set(session.scalars(select(MatchTerm.term).where(MatchTerm.ref_id == request_id)))
    # The message's words leave the index; so does the draft title made from it (now "Request #N").
    assert "zorblax" not in terms and "_canteen" not in terms
