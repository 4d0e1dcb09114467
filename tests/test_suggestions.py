"""The suggest step: duplicates, datasets already available and out-of-scope rules, on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.pipeline.suggest import GAP_GRACE, MARK_KEY, suggest_new
from storage.models import AppSetting, Message, Request, Requester, Suggestion, utcnow
from tests.helpers import citizens_reply

CKAN = Path(__file__).resolve().parent / "data" / "catalogues" / "ckan_package_search.json"

RULE = """
[[scope.rules]]
name = "national statistics"
keywords = ["recensement", "census", "chômage", "unemployment"]
answer_fr = "Ces données relèvent de l'INSEE : https://www.insee.fr"
answer_en = "This data is published by the national statistics office: https://www.insee.fr"

[[scope.rules]]
name = "weather"
keywords = ["météo", "weather forecast"]
answer_fr = "Voir Météo-France."
answer_en = "See Météo-France."
"""


@pytest.fixture
def config(write_config, db_url):
    """Sandbox deployment whose classifier sends every data request straight to routing (no review band)."""
    return write_config(
        f'[database]\nurl = "{db_url}"\n[replies]\nretry_base_seconds = 0.01\n'
        f"[classifier]\nreview_band = [0.0, 0.0]\n{RULE}",
        "suggest.toml",
    )


@pytest.fixture
def run(cli, config, sessions):
    """Citizens write on the sandbox, then one pass of `datacall run`; returns the CLI runner."""
    cli("init", config=config)

    def go(*citizens: tuple[str, str]):
        citizens_reply(sessions, to=None, citizens=list(citizens))
        cli("run --once", config=config)

    return go


def suggestions(sessions, **where) -> list[tuple[int, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(Suggestion).filter_by(**where).order_by(Suggestion.id)).all()
        return [(s.request_id, s.kind, s.target) for s in rows]


def statuses(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Request.status).order_by(Request.id)))


def test_the_same_dataset_asked_in_french_and_english_is_a_duplicate_suggestion(run, cli, config, sessions):
    run(
        ("@parent_a", "Merci de publier les menus des cantines scolaires en CSV, école par école."),
        ("@parent_b", "Please publish the school canteen menus per school as open data (CSV)."),
        ("@commuter", "Please publish the bus stop locations as open data"),
    )
    assert statuses(sessions) == ["received", "received", "received"]  # suggesting decides nothing
    assert suggestions(sessions, kind="duplicate") == [(2, "duplicate", "request:1")]
    with sessions() as session:
        score = session.scalar(select(Suggestion.score).where(Suggestion.kind == "duplicate"))
    assert 0.7 <= score <= 1.0

    shown = cli("request show 2", config=config).output
    assert "duplicate (" in shown and "#1 (received) Merci de publier les menus" in shown
    assert "datacall request set-status 2 duplicate --of 1" in shown
    assert "#2 may ask for the same dataset" in cli("request show 1", config=config).output
    assert "suggestions" not in cli("request show 3", config=config).output

    # The officer merges: both supporters now back request 1.
    cli("request set-status 2 duplicate --of 1", config=config)
    with sessions() as session:
        handles = {m.requester.handle for m in session.scalars(select(Message).where(Message.request_id == 1))}
    assert handles == {"@parent_a", "@parent_b"}


def test_different_datasets_on_the_same_topic_are_not_suggested(run, sessions):
    run(
        ("@a", "Pourriez-vous publier la ponctualité des bus par ligne ?"),
        ("@b", "Please publish the bus stop locations as open data"),
        ("@c", "Pourriez-vous publier les comptages vélo par compteur et par heure ?"),
        ("@d", "Please publish the bike lanes network as open data"),
    )
    assert len(statuses(sessions)) == 4
    assert suggestions(sessions, kind="duplicate") == []


def test_decided_requests_are_not_offered_as_duplicates(run, cli, config, sessions):
    run(("@a", "Please publish the list of public toilets as CSV."))
    cli(["request", "set-status", "1", "published", "--url", "https://data.example.org/toilettes"], config=config)
    run(("@b", "Où trouver la liste des toilettes publiques en open data ?"))
    assert len(statuses(sessions)) == 2
    assert suggestions(sessions, kind="duplicate") == []


def test_a_request_for_an_imported_dataset_gets_its_link(run, cli, config, sessions):
    cli(f"catalogue import {CKAN} --base-url https://data.example.org", config=config)
    run(
        ("@parent", "Where can I find the school canteen menus as open data?"),
        ("@commuter", "Pourriez-vous publier la ponctualité des bus par ligne ?"),
    )
    with sessions() as session:
        found = session.scalars(select(Suggestion).where(Suggestion.kind == "already_available")).all()
        assert [(s.request_id, s.url) for s in found] == [
            (1, "https://data.example.org/dataset/menus-des-cantines-scolaires")
        ]
        assert found[0].target.startswith("dataset:") and found[0].score >= 0.65
    shown = cli("request show 1", config=config).output
    assert "already_available" in shown and "Menus des cantines scolaires" in shown
    assert "set-status 1 already_available --url https://data.example.org/dataset/menus-des-cantines-scolaires" in shown
    assert statuses(sessions) == ["received", "received"]


def test_scope_rules_answer_in_the_requesters_language(run, cli, config, sessions):
    run(
        ("@fr", "Pourriez-vous publier le taux de chômage par quartier en open data ?"),
        ("@en", "Could you publish the unemployment rate per district as open data?"),
        ("@other", "Please publish the list of public toilets as CSV."),
    )
    with sessions() as session:
        rows = session.scalars(
            select(Suggestion).where(Suggestion.kind == "out_of_scope").order_by(Suggestion.id)
        ).all()
        assert [(s.request_id, s.target, s.answer) for s in rows] == [
            (1, "rule:national statistics", "Ces données relèvent de l'INSEE : https://www.insee.fr"),
            (2, "rule:national statistics", "This data is published by the national statistics office: https://www.insee.fr"),
        ]
    assert "out_of_scope --answer 'Ces données relèvent de l'\"'\"'INSEE" in cli("request show 1", config=config).output
    assert statuses(sessions) == ["received"] * 3


def test_the_step_is_idempotent_and_keeps_a_high_water_mark(run, sessions):
    run(
        ("@a", "Merci de publier les menus des cantines scolaires en CSV, école par école."),
        ("@b", "Please publish the school canteen menus per school as open data (CSV)."),
    )
    before = suggestions(sessions)
    assert before
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY).value == "2"
    assert suggest_new(sessions) == 0  # nothing new
    # Even forced to look again from the start, the unique key keeps one row per suggestion.
    with sessions() as session, session.begin():
        session.get(AppSetting, MARK_KEY).value = "0"
    assert suggest_new(sessions) == 0
    assert suggestions(sessions) == before
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY).value == "2"


def test_a_fresh_gap_in_request_ids_waits_for_the_missing_request(sessions):
    """On PostgreSQL a request id can be taken by a transaction that has not committed yet."""
    with sessions() as session, session.begin():
        for request_id in (1, 2, 4):
            session.add(Request(id=request_id, title=f"Menus des cantines scolaires {request_id}"))
    assert suggest_new(sessions) >= 1
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY).value == "2"  # 3 may still be on its way
    with sessions() as session, session.begin():
        old_enough = utcnow() - GAP_GRACE - timedelta(seconds=1)
        session.execute(update(Request).where(Request.id == 4).values(created_at=old_enough))
    suggest_new(sessions)
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY).value == "4"  # 3 never came: rolled back
        assert session.scalar(select(func.count()).select_from(Suggestion).where(Suggestion.request_id == 4)) == 2


def test_an_idle_pass_writes_nothing(sessions):
    assert suggest_new(sessions) == 0
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY) is None


def test_two_workers_never_look_at_the_same_request_twice(sessions, monkeypatch):
    from bot.pipeline import suggest

    with sessions() as session, session.begin():
        for request_id in range(1, 31):
            session.add(Request(id=request_id, title=["Menus des cantines", "Ponctualité des bus"][request_id % 2]))
    seen: list[int] = []
    real = suggest._suggest

    def spy(session, request, *args):
        seen.append(request.id)
        return real(session, request, *args)

    monkeypatch.setattr(suggest, "_suggest", spy)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(suggest_new(sessions, batch_size=4))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(seen) == list(range(1, 31))  # each request once, by one worker or the other
    with sessions() as session:
        assert session.get(AppSetting, MARK_KEY).value == "30"
        assert sum(results) == session.scalar(select(func.count()).select_from(Suggestion)) > 0


def test_an_erased_requester_s_words_are_not_matched_but_the_title_is(sessions):
    titles = {1: "Menus des cantines scolaires", 2: "Ponctualité des bus par ligne", 3: "School canteen menus"}
    with sessions() as session, session.begin():
        person = Requester(network="sandbox", external_user_id="1", handle="erased-1")
        session.add(person)
        session.flush()
        for request_id, title in titles.items():
            session.add(Request(id=request_id, title=title))
            session.flush()
            session.add(Message(network="sandbox", external_id=str(request_id), requester_id=person.id,
                                text="[erased]", request_id=request_id))
    suggest_new(sessions)
    assert suggestions(sessions) == [(3, "duplicate", "request:1")]


def test_scope_rules_are_validated_like_the_rest_of_the_config(cli, write_config, db_url):
    bad = write_config(f'[database]\nurl = "{db_url}"\n[[scope.rules]]\nname = "x"\nkeywords = ["a"]\nkeywrds = ["a"]\n'
                       'answer_fr = "a"\nanswer_en = "b"\n', "bad.toml")
    result = cli("status", config=bad, expect=2)
    assert "scope.rules.0.keywrds: unknown key" in result.output and len(result.output.strip().splitlines()) == 1
    first_rule = RULE.split("[[scope.rules]]")[1]
    twice = write_config(f'[database]\nurl = "{db_url}"\n{RULE}\n[[scope.rules]]{first_rule}', "twice.toml")
    assert "rule names must be unique: national statistics" in cli("status", config=twice, expect=2).output
    empty = write_config(f'[database]\nurl = "{db_url}"\n[[scope.rules]]\nname = "x"\nkeywords = []\n'
                         'answer_fr = "a"\nanswer_en = "b"\n', "empty.toml")
    assert "scope.rules.0.keywords" in cli("status", config=empty, expect=2).output
