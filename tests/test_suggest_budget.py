"""A suggestion pass may stop between two batches (its time budget, a stop): the next pass goes on where it
stopped, and the suggestions made in several passes are exactly those of one pass."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from sqlalchemy import delete, select

from bot import jobs
from bot.config import load_config
from bot.pipeline.suggest import INDEX_KEY, MARK_KEY, suggest_new
from storage.models import AppSetting, MatchTerm, Request, Suggestion

TITLES = ["Menus des cantines scolaires", "Ponctualité des bus par ligne", "School canteen menus",
          "Bus punctuality per line", "Liste des toilettes publiques"]


def add_requests(sessions, count: int) -> None:
    with sessions() as session, session.begin():
        for request_id in range(1, count + 1):
            session.add(Request(id=request_id, title=TITLES[request_id % len(TITLES)]))


def mark(sessions) -> str | None:
    with sessions() as session:
        setting = session.get(AppSetting, MARK_KEY)
        return setting.value if setting else None


def made(sessions) -> set[tuple[int, str, str]]:
    with sessions() as session:
        return {(s.request_id, s.kind, s.target) for s in session.scalars(select(Suggestion))}


def after_checks(count: int):
    """A stop that lets `count` batches start, then says stop."""
    checks: list[int] = []
    return lambda: checks.append(1) or len(checks) > count


def test_a_pass_stopped_between_batches_is_finished_by_the_next_with_the_same_suggestions(sessions):
    add_requests(sessions, 30)
    suggest_new(sessions, batch_size=4, stop=after_checks(2))
    assert mark(sessions) == "8"  # two batches of four
    assert {request_id for request_id, *_ in made(sessions)} <= set(range(1, 9))
    suggest_new(sessions, batch_size=4)
    assert mark(sessions) == "30"
    in_two_passes = made(sessions)
    assert any(request_id > 8 for request_id, *_ in in_two_passes)
    with sessions() as session, session.begin():  # the same requests, looked at afresh in one pass
        session.execute(delete(Suggestion))
        session.execute(delete(MatchTerm))
        session.execute(delete(AppSetting).where(AppSetting.key.in_([MARK_KEY, INDEX_KEY])))
    suggest_new(sessions, batch_size=4)
    assert made(sessions) == in_two_passes and mark(sessions) == "30"


def suggest_job(sessions, write_config, db_url, seconds: float, stopping: bool = False):
    config = load_config(write_config(f'[database]\nurl = "{db_url}"\n[scheduler]\n'
                                      f"suggest_seconds_per_pass = {seconds}\n"))
    event = threading.Event()
    if stopping:
        event.set()
    return jobs.suggest(SimpleNamespace(config=config, sessions=sessions, stopping=event))


def test_the_suggest_job_keeps_to_its_budget_and_to_a_stop(sessions, write_config, db_url):
    add_requests(sessions, 250)
    suggest_job(sessions, write_config, db_url, seconds=0.000001)  # spent before the first batch
    assert mark(sessions) is None
    suggest_job(sessions, write_config, db_url, seconds=0, stopping=True)  # the worker is stopping
    assert mark(sessions) is None
    suggest_job(sessions, write_config, db_url, seconds=0)  # no limit
    assert mark(sessions) == "250"


def test_candidates_of_a_text_with_more_terms_than_one_statement_takes(sessions):
    """Terms are looked up a hundred at a time; holders of any of them are found, each within its own range."""
    from storage import match_terms

    many = [f"word{n:03d}" for n in range(2 * match_terms.TERMS_PER_STATEMENT + 5)]
    with sessions() as session, session.begin():
        match_terms.replace_terms(session, kind="request", terms_by_ref={1: many[:3], 2: many[-2:], 3: ["other"]})
    with sessions() as session:
        assert match_terms.candidates(session, kind="request", terms=many) == {1, 2}
        assert match_terms.candidates(session, kind="request", terms=many, below=2) == {1}
        assert match_terms.candidates(session, kind="request", terms=[]) == set()
