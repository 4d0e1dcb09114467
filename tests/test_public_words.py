"""Public words need approval, and erasure leaves no five words of a person anywhere the public reads.

Every public surface is read as a visitor would: the dashboard and every public
request page through the ASGI client (in English and French), and the three
exports (CSV, JSON, data package) through the CLI.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from bot.networks.sandbox import say
from bot.training_data import decision_records
from storage.models import LabelDecision, Message, Reply, Request, Requester, StatusEvent, Suggestion
from tests.web_support import login, post

CAMILLE = [
    "Bonjour, je suis Camille Martin au 12 rue des Lilas : publiez les comptages vélo par heure svp",
    "Et pourriez-vous ouvrir la liste des places de stationnement vélo avec leur capacité ?",
    "Les horaires temps réel des bus de la ligne 38 en open data, ce serait top pour mon appli",
]
ANA = "Is there an open dataset of real-time bus positions for every line of the network?"


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", html.unescape(text).casefold())


def five_word_runs(text: str) -> set[tuple[str, ...]]:
    words = words_of(text)
    return {tuple(words[i:i + 5]) for i in range(len(words) - 4)}


def public_surfaces(cli, client, tmp_path, request_ids) -> dict[str, str]:
    """Everything a person without an officer account can read, by name."""
    surfaces = {}
    for lang in ("en", "fr"):
        surfaces[f"/ ({lang})"] = client.get(f"/?lang={lang}").text
        for request_id in request_ids:
            surfaces[f"/requests/{request_id} ({lang})"] = client.get(f"/requests/{request_id}?lang={lang}").text
    for fmt, out in (("csv", tmp_path / "csv"), ("json", tmp_path / "requests.json"),
                     ("datapackage", tmp_path / "package")):
        cli(f"export --format {fmt} --out {out}")
        for path in ([out] if out.is_file() else sorted(out.iterdir())):
            surfaces[f"export {fmt} {path.name}"] = path.read_text(encoding="utf-8")
    return surfaces


def quotes(surfaces: dict[str, str], texts: list[str]) -> dict[str, list[str]]:
    """Where a run of five words of `texts` can be read: surface -> the runs found."""
    runs = set().union(*(five_word_runs(text) for text in texts))
    found = {}
    for name, content in surfaces.items():
        hits = five_word_runs(content) & runs
        if hits:
            found[name] = sorted(" ".join(run) for run in hits)
    return found


def test_the_detector_sees_five_words_and_nothing_less():
    page = "<h1>#1 Publiez les comptages vélo par heure</h1>"
    assert quotes({"page": page}, ["publiez LES comptages vélo par heure svp"]) == {
        "page": ["les comptages vélo par heure", "publiez les comptages vélo par"]
    }
    assert quotes({"page": page}, ["comptages vélo par heure"]) == {}


@pytest.fixture
def config_file(write_config, db_url):
    """These tests are about what the public reads, not about the model's doubt: no review band."""
    return write_config(
        f'[database]\nurl = "{db_url}"\n[replies]\nretry_base_seconds = 0.01\n'
        "[classifier]\nreview_band = [0.0, 0.0]\n"
    )


@pytest.fixture
def loop(cli, sessions, recording):
    """Camille opens #1, #2 and #4, ana opens #3; #4 is merged into #3."""
    cli("init")
    with sessions() as session, session.begin():
        say(session, "@camille_velo", CAMILLE[0])
        say(session, "@camille_velo", CAMILLE[1])
        say(session, "@data_dev_ana", ANA)
        say(session, "@camille_velo", CAMILLE[2])
    cli("run --once")
    with sessions() as session:
        opened = {m.text: m.request_id for m in session.scalars(select(Message))}
    assert [opened[text] for text in (*CAMILLE, ANA)] == [1, 2, 4, 3]
    cli("request set-status 4 duplicate --of 3")
    return sessions


def test_until_an_officer_approves_a_title_the_public_reads_a_neutral_one(cli, loop, client, tmp_path):
    surfaces = public_surfaces(cli, client, tmp_path, [1, 2, 3])
    assert quotes(surfaces, [*CAMILLE, ANA]) == {}
    assert "Request #1" in surfaces["/ (en)"] and "Demande n° 1" in surfaces["/ (fr)"]
    assert "<h1>Demande n° 2</h1>" in surfaces["/requests/2 (fr)"]
    rows = json.loads(surfaces["export json requests.json"])["requests"]
    assert [row["title"] for row in rows] == ["Request #1", "Request #2", "Request #3", "Request #4"]
    assert "Request #1" in surfaces["export csv requests.csv"]


def test_an_approved_title_is_shown_and_can_be_withdrawn(cli, loop, client):
    cli(["request", "set-title", "3", "Real-time bus positions, every line"])
    assert "#3 Real-time bus positions, every line" in client.get("/").text
    assert "Real-time bus positions, every line" in client.get("/requests/3").text
    assert "no public title" in cli(["request", "set-title", "3", ""]).output
    assert "Request #3" in client.get("/").text
    assert "no request #99" in cli(["request", "set-title", "99", "x"], expect=2).output


def test_an_officer_types_no_handle_or_link_into_a_public_title(cli, loop):
    cli(["request", "set-title", "3", "Bus positions @data_dev_ana https://x.example/p/1"])
    with loop() as session:
        assert session.get(Request, 3).public_title == "Bus positions"


def test_the_draft_is_public_when_its_author_consented(cli, loop, client):
    cli("requester consent sandbox @camille_velo --public")
    assert "publiez les comptages vélo par heure" in client.get("/requests/1").text
    assert "Request #3" in client.get("/").text  # ana did not consent: her words stay private


def test_other_supporters_are_not_quoted_the_openers_words(cli, loop, recording):
    """Reopened to `received`, #3's supporters (camille joined it) get the title: not ana's words for camille."""
    cli("request set-status 3 under_review")
    cli("request set-status 3 received")
    cli("run --once")
    with loop() as session:
        camille = session.scalar(select(Requester).where(Requester.handle == "@camille_velo"))
        told = session.scalars(select(Reply.text).join(StatusEvent).where(
            Reply.requester_id == camille.id, StatusEvent.request_id == 3, StatusEvent.status == "received"
        )).all()
    assert told and all("Demande n° 3" in text and "bus positions" not in text for text in told)
    assert quotes({"camille's replies": " ".join(told)}, [ANA]) == {}


def test_a_request_closed_as_not_a_data_request_leaves_the_public_views(cli, loop, client, users, tmp_path):
    with loop() as session:
        message_id = session.scalar(select(Message.id).where(Message.request_id == 2))
    login(client)
    post(client, f"/queue/messages/{message_id}/off-topic")
    with loop() as session:
        assert (session.get(Request, 2).status, session.get(Request, 2).not_a_request) == ("declined", True)
    assert client.get("/requests/2").status_code == 404
    assert 'href="/requests/2"' not in client.get("/").text
    rows = json.loads(public_surfaces(cli, client, tmp_path, [])["export json requests.json"])
    assert 2 not in [row["id"] for row in rows["requests"]]
    assert 2 not in [row["request_id"] for row in rows["status_events"]]


def test_after_erasure_no_five_words_of_the_person_remain_public(cli, loop, client, users, tmp_path):
    # #1: an officer approved camille's draft as it is; #2: camille consented, her draft is public;
    # #3 (ana's, joined by camille's #4): an officer's title quoting camille; #3's draft is ana's.
    with loop() as session:
        draft = session.get(Request, 1).title
    cli(["request", "set-title", "1", draft])
    cli("requester consent sandbox @camille_velo --public")
    cli(["request", "set-title", "3", "Bus: les horaires temps réel des bus"])
    with loop() as session, session.begin():
        session.add(Suggestion(request_id=4, kind="duplicate", target="request:3", score=0.9))
        session.add(Suggestion(request_id=3, kind="duplicate", target="request:4", score=0.9))
        camille_messages = session.scalars(select(Message).where(Message.text.in_(CAMILLE))).all()
        for message in camille_messages:
            session.add(LabelDecision(message_id=message.id, label="data_request", officer="alice"))
    before = quotes(public_surfaces(cli, client, tmp_path / "before", [1, 2, 3]), CAMILLE)
    assert {"/requests/1 (en)", "/requests/2 (en)", "/ (en)", "export csv requests.csv"} <= set(before)
    with loop() as session:
        assert len(decision_records(session)) == 3

    cli("requester erase sandbox @camille_velo --yes")

    assert quotes(public_surfaces(cli, client, tmp_path / "after", [1, 2, 3]), CAMILLE) == {}
    with loop() as session:
        requests = {r.id: r for r in session.scalars(select(Request))}
        assert [requests[i].title for i in (1, 2, 4)] == ["Request #1", "Request #2", "Request #4"]
        assert requests[1].public_title is None and requests[3].public_title is None
        assert requests[3].title.startswith("Is there an open dataset")  # ana's words are hers, kept
        assert session.scalars(select(Suggestion)).all() == []
        assert decision_records(session) == []  # `train --with-decisions` learns nothing from [erased]
        assert all(r.text == "[erased]" for r in session.scalars(
            select(Reply).join(Requester).where(Requester.handle.is_(None))
        ))
    # Officers too: the draft titles they see no longer carry the person's words.
    login(client)
    officer_pages = {f"/queue/requests/{i}": client.get(f"/queue/requests/{i}").text for i in (1, 2, 3, 4)}
    assert quotes(officer_pages, CAMILLE) == {}


def test_an_officers_own_title_stays_after_erasure(cli, loop):
    cli(["request", "set-title", "1", "Bike counts per counter and per hour"])
    cli("requester erase sandbox @camille_velo --yes")
    with loop() as session:
        assert session.get(Request, 1).public_title == "Bike counts per counter and per hour"


def test_nothing_merges_into_a_request_closed_as_not_a_data_request(cli, loop, client, users):
    with loop() as session:
        message_id = session.scalar(select(Message.id).where(Message.request_id == 2))
    login(client)
    post(client, f"/queue/messages/{message_id}/off-topic")
    result = cli("request set-status 1 duplicate --of 2", expect=2)
    assert "closed as not a data request" in result.output


def test_status_command_lists_others_requests_by_their_public_title(cli, loop, recording):
    """camille's message now backs ana's #3: /status names it without ana's words."""
    with loop() as session, session.begin():
        say(session, "@camille_velo", "/status")
    cli("run --once")
    [answer] = [send.text for send in recording.sends if send.text.startswith(("Vos demandes", "Your requests"))]
    assert "Request #3" in answer and quotes({"/status": answer}, [ANA]) == {}  # "/status" reads as English
    assert "Bonjour, je suis Camille Martin" in answer  # her own words, to her
