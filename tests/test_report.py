"""The publication note: every number against the database (independent SQL), the files, the CLI and the web page."""

from __future__ import annotations

import re
import statistics
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from bot.report import compute_note, write_report
from bot.report.charts import CHARTS
from storage.models import (
    Campaign,
    FollowUp,
    Message,
    Post,
    Reply,
    Request,
    Requester,
    ReuseFeedback,
    StatusEvent,
)
from storage.support import support_count

SLUG = "2027-q1"
START = datetime(2027, 1, 4, 9, tzinfo=UTC)
HANDLES = ("@velo_fan", "@bus_rider", "@parent_x", "@grumpy", "@late_reader", "@other_q")
SECRET_WORDS = "my neighbour's dog"


def at(days: float) -> datetime:
    return START + timedelta(days=days)


def build_campaign(session) -> dict[str, int]:
    """A quarter on two networks: posts, replies, requests at every stage, a merge, follow-up and feedback."""
    campaign = Campaign(slug=SLUG, title="Appel T1 2027", call_text="Quelles données ?")
    other = Campaign(slug="2026-q4", title="Previous call", call_text="Which data?")
    session.add_all([campaign, other])
    session.flush()
    posts = [
        Post(campaign_id=campaign.id, network="sandbox", kind="call", text="Call", state="posted",
             external_id="100", url="sandbox://entries/100", posted_at=at(0), due_at=at(0)),
        Post(campaign_id=campaign.id, network="mastodon", kind="reminder", text="Reminder", state="posted",
             external_id="m-1", url="https://mastodon.example/@city/1", posted_at=at(4), due_at=at(4)),
        Post(campaign_id=campaign.id, network="sandbox", kind="note", text="Note", state="pending", due_at=at(70)),
    ]
    session.add_all(posts)
    people = {}
    for handle in HANDLES:
        network = "mastodon" if handle in ("@bus_rider", "@late_reader") else "sandbox"
        people[handle] = Requester(network=network, external_user_id=f"id-{handle}", handle=handle, lang="fr")
    session.add_all(people.values())
    session.flush()
    counter = iter(range(1, 1000))

    def message(handle, words, day, *, request=None, label="data_request", reply_to=None, thread=None, camp=campaign):
        row = Message(
            network=people[handle].network, external_id=f"x{next(counter)}", requester_id=people[handle].id,
            campaign_id=camp.id, text=words, lang="fr", sent_at=at(day), received_at=at(day) + timedelta(minutes=3),
            in_reply_to_id=reply_to, conversation_id=thread, label=label, score=0.9,
            classified_at=at(day), routed_at=at(day), request_id=request.id if request else None,
        )
        session.add(row)
        session.flush()
        return row

    def request(title, day, status="received", *, camp=campaign, **values):
        row = Request(title=title, status=status, campaign_id=camp.id, created_at=at(day), **values)
        session.add(row)
        session.flush()
        session.add(StatusEvent(request_id=row.id, status="received", actor="datacall", created_at=at(day)))
        return row

    def decide(row, status, day, **values):
        session.add(StatusEvent(request_id=row.id, status=status, actor="alice", created_at=at(day), **values))
        row.status = status
        for key, value in values.items():
            setattr(row, key, value)

    velo = request("Comptages vélo de @velo_fan", 0.2)
    bus = request("Horaires bus", 1.5)
    canteen = request("Menus cantine", 4.1)
    canteen_dup = request("Menus cantines écoles", 4.6)
    toilets = request("Toilettes", 6.0)
    census = request("Recensement", 7.0)
    message("@velo_fan", f"Les comptages vélo svp, {SECRET_WORDS}", 0.2, request=velo, reply_to="100")
    message("@parent_x", "Moi aussi les comptages vélo", 0.9, request=velo, thread="100")
    message("@bus_rider", "Bus timetables please", 1.5, request=bus)
    message("@bus_rider", "Menus de cantine aussi", 4.1, request=canteen, reply_to="m-1")
    message("@parent_x", "Menus des cantines des écoles", 4.6, request=canteen_dup)
    message("@velo_fan", "Toilettes publiques ?", 6.0, request=toilets, reply_to="100")
    message("@grumpy", f"Off topic, {SECRET_WORDS}", 1.0, label="off_topic", reply_to="100")
    message("@grumpy", "Another complaint", 4.2, label="off_topic", reply_to="m-1")
    message("@late_reader", "Recensement par quartier", 7.0, request=census)
    # Not this campaign: never counted.
    previous = request("Old request", -30, camp=other)
    message("@other_q", "Old message", -30, request=previous, camp=other)

    decide(bus, "under_review", 3.5)
    decide(bus, "accepted", 9.5, answer="Prévu au printemps.")
    decide(canteen_dup, "duplicate", 5.0, duplicate_of_id=canteen.id)
    canteen_dup.duplicate_of_id = canteen.id
    session.execute(text("UPDATE messages SET request_id = :to WHERE request_id = :from"),
                    {"to": canteen.id, "from": canteen_dup.id})
    decide(canteen, "in_progress", 8.0)
    decide(velo, "published", 20.0, url="https://data.example.org/velo", answer="Comptages horaires.")
    decide(toilets, "already_available", 6.5, url="https://data.example.org/toilettes")
    decide(census, "out_of_scope", 12.0, answer="Voir l'INSEE : https://www.insee.fr")

    # Follow-up of the published request: two asked, one answered; the answer is no contribution.
    for handle, state in (("@velo_fan", "sent"), ("@parent_x", "sent")):
        source = session.scalars(
            select(Message).where(Message.requester_id == people[handle].id, Message.request_id == velo.id)
        ).first()
        reply = Reply(requester_id=people[handle].id, message_id=source.id, network=people[handle].network,
                      idempotency_key=f"datacall-followup-{velo.id}-{people[handle].id}", lang="fr",
                      text="Question", state=state, external_id=f"q-{handle}")
        session.add(reply)
        session.flush()
        session.add(FollowUp(request_id=velo.id, requester_id=people[handle].id, reply_id=reply.id))
    answer = message("@velo_fan", f"Oui, une carte ! {SECRET_WORDS}", 50, reply_to="q-@velo_fan")
    answer.classified_at, answer.label = at(50), None
    session.add(ReuseFeedback(request_id=velo.id, requester_id=people["@velo_fan"].id, message_id=answer.id))
    session.flush()
    return {"campaign": campaign.id, "velo": velo.id, "bus": bus.id, "canteen": canteen.id,
            "canteen_dup": canteen_dup.id, "toilets": toilets.id, "census": census.id}


@pytest.fixture
def seeded(sessions):
    with sessions() as session, session.begin():
        ids = build_campaign(session)
    return ids


def sql(session, query: str, **params):
    return session.execute(text(query), params).all()


def as_utc(value) -> datetime:
    """What the database hands back, as an aware UTC datetime (SQLite gives text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_every_number_matches_the_database(sessions, seeded):
    cid = seeded["campaign"]
    with sessions() as session:
        note = compute_note(session, SLUG, lang="fr")
        messages = sql(session, "SELECT count(*) FROM messages WHERE campaign_id = :c "
                                "AND id NOT IN (SELECT message_id FROM reuse_feedback)", c=cid)[0][0]
        listed = "SELECT id FROM requests WHERE campaign_id = :c AND status <> 'duplicate'"
        requests = sql(session, f"SELECT count(*) FROM ({listed}) AS listed", c=cid)[0][0]
        accepted = sql(session, "SELECT count(*) FROM requests WHERE campaign_id = :c "
                                "AND status IN ('accepted', 'in_progress', 'published')", c=cid)[0][0]
        published = sql(session, "SELECT count(*) FROM requests WHERE campaign_id = :c AND status = 'published'",
                        c=cid)[0][0]
        statuses = dict(sql(session, "SELECT status, count(*) FROM requests WHERE campaign_id = :c "
                                     "AND status <> 'duplicate' GROUP BY status", c=cid))
        merged = sql(session, "SELECT count(*) FROM requests WHERE campaign_id = :c AND status = 'duplicate'",
                     c=cid)[0][0]
        support = sql(session, f"SELECT request_id, count(DISTINCT requester_id) FROM messages "
                               f"WHERE request_id IN ({listed}) GROUP BY request_id "
                               f"ORDER BY count(DISTINCT requester_id) DESC, request_id", c=cid)
        per_network = dict(sql(session, "SELECT network, count(*) FROM messages WHERE campaign_id = :c "
                                        "AND id NOT IN (SELECT message_id FROM reuse_feedback) GROUP BY network",
                               c=cid))
        firsts = sql(session, f"SELECT r.id, r.created_at, min(e.created_at) FROM requests r "
                              f"JOIN status_events e ON e.request_id = r.id "
                              f"WHERE r.id IN ({listed}) AND e.status <> 'received' GROUP BY r.id, r.created_at",
                     c=cid)
        asked = sql(session, f"SELECT count(*) FROM follow_ups f JOIN replies p ON p.id = f.reply_id "
                             f"WHERE p.state = 'sent' AND f.request_id IN ({listed})", c=cid)[0][0]
        answers = sql(session, f"SELECT count(*), count(DISTINCT request_id) FROM reuse_feedback "
                               f"WHERE request_id IN ({listed})", c=cid)[0]
        day_counts = {}
        for network in per_network:
            for day in range(-1, 60):
                start = START.replace(hour=0) + timedelta(days=day)
                n = sql(session, "SELECT count(*) FROM messages WHERE campaign_id = :c AND network = :n "
                                 "AND id NOT IN (SELECT message_id FROM reuse_feedback) "
                                 "AND coalesce(sent_at, received_at) >= :a AND coalesce(sent_at, received_at) < :b",
                        c=cid, n=network, a=start, b=start + timedelta(days=1))[0][0]
                if n:
                    day_counts.setdefault(network, {})[start.date()] = n
        call_replies = sql(session, "SELECT count(*), count(DISTINCT request_id) FROM messages "
                                    "WHERE campaign_id = :c AND network = 'sandbox' "
                                    "AND (in_reply_to_id = '100' OR conversation_id = '100')", c=cid)[0]

    assert note.funnel == {"messages": messages, "requests": requests, "accepted": accepted, "published": published}
    assert note.funnel == {"messages": 9, "requests": 5, "accepted": 3, "published": 1}  # the scenario, by hand
    assert note.statuses == statuses and note.merged_duplicates == merged == 1
    assert [(line.id, line.supporters) for line in note.most_supported] == [(r, n) for r, n in support]
    assert note.most_supported[0].id == seeded["velo"]  # two people; the canteen has two via its merged duplicate
    assert {line.id: line.supporters for line in note.requests}[seeded["canteen"]] == 2
    assert {network: sum(days.values()) for network, days in note.messages_per_day.items()} == per_network
    assert note.messages_per_day == day_counts
    days = sorted((as_utc(first) - as_utc(created)).total_seconds() / 86400 for _, created, first in firsts)
    assert note.answer_days == pytest.approx(days, abs=0.01)
    assert note.median_answer_days == pytest.approx(statistics.median(days), abs=0.01)
    assert note.unanswered == requests - len(firsts)
    assert (note.followed_up, note.feedback_answers, note.feedback_requests) == (asked, *answers) == (2, 1, 1)
    call = next(mark for mark in note.posts if mark.kind == "call")
    assert (call.replies, call.requests) == tuple(call_replies)
    assert [mark.kind for mark in note.posts] == ["call", "reminder"]  # the pending note is not out yet


def test_support_counts_merged_duplicates_on_the_request_they_joined(sessions, seeded):
    with sessions() as session:
        note = compute_note(session, SLUG, lang="en")
        shared = support_count(session, [seeded["velo"], seeded["canteen"]])
    support = {line.id: line.supporters for line in note.requests}
    assert support[seeded["velo"]] == shared[seeded["velo"]] == 2
    assert support[seeded["canteen"]] == shared[seeded["canteen"]] == 2  # the duplicate's supporter joined it
    assert seeded["canteen_dup"] not in support


def test_titles_are_neutral_until_an_officer_approves_one(sessions, seeded):
    def titles(lang):
        with sessions() as session:
            return {line.id: line.title for line in compute_note(session, SLUG, lang=lang).requests}

    velo = seeded["velo"]
    assert (titles("fr")[velo], titles("en")[velo]) == (f"Demande n° {velo}", f"Request #{velo}")
    with sessions() as session, session.begin():
        session.get(Request, velo).public_title = "Bike counts"
    assert titles("en")[velo] == "Bike counts"


def assert_public(content: str) -> None:
    for handle in HANDLES:
        assert handle not in content and handle.lstrip("@") not in content, handle
    assert SECRET_WORDS not in content and "Comptages vélo de" not in content
    assert "Bus timetables please" not in content


def test_written_files_say_the_numbers_and_nothing_personal(sessions, seeded, tmp_path):
    written = write_report(sessions, SLUG, tmp_path / "note", lang="en")
    names = sorted(path.name for path in written)
    assert names == sorted(["index.html", "note.md", *(f"{name}.svg" for name in CHARTS)])
    html = (tmp_path / "note" / "index.html").read_text()
    markdown = (tmp_path / "note" / "note.md").read_text()
    for content in (html, markdown):
        assert "9 messages received, 5 data requests, 3 accepted, 1 published." in content
        assert "Prévu au printemps." in content and "https://data.example.org/toilettes" in content
        assert "INSEE : https://www.insee.fr" in content
        assert f"Request #{seeded['census']}" in content
        assert_public(content)
    assert "<script" not in html
    assert html.count("<img src=") == len(CHARTS)
    assert "Median: 3.9 days (5 requests with a decision; 0 waiting)." in html
    for name in CHARTS:
        svg = (tmp_path / "note" / f"{name}.svg").read_text()
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert_public(svg)
        assert f"{name}.svg" in markdown
    messages_chart = (tmp_path / "note" / "messages.svg").read_text()
    assert "call (sandbox)" in messages_chart and "reminder (mastodon)" in messages_chart  # posts marked
    assert "mastodon" in messages_chart and "sandbox" in messages_chart
    # Same data, same files: nothing random or dated inside.
    again = write_report(sessions, SLUG, tmp_path / "again", lang="en")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]


def test_write_report_takes_an_open_session_too(sessions, seeded, tmp_path):
    with sessions() as session:
        written = write_report(session, SLUG, tmp_path)
    assert "Note de publication — Appel T1 2027" in (tmp_path / "index.html").read_text()
    assert len(written) == len(CHARTS) + 2


def test_markdown_cannot_be_broken_by_an_answer(sessions, seeded, tmp_path):
    with sessions() as session, session.begin():
        session.get(Request, seeded["census"]).answer = "See | the *INSEE*\nsite <b>now</b>"
    write_report(sessions, SLUG, tmp_path, lang="en")
    line = next(line for line in (tmp_path / "note.md").read_text().splitlines()
                if line.startswith(f"| Request #{seeded['census']} "))
    assert line.count(" | ") == 5  # six cells: the answer's pipe is escaped
    assert r"See \| the \*INSEE\* site \<b\>now\</b\>" in line


def test_cli_report_writes_the_note_and_help_lists_it(cli, sessions, seeded, tmp_path):
    out = tmp_path / "q1"
    result = cli(f"report {SLUG} --out {out} --lang fr")
    assert "8 files" in result.output
    assert "9 messages reçus, 5 demandes de données, 3 acceptées, 1 publiées." in (out / "note.md").read_text()
    missing = cli(f"report 2031-q4 --out {out}", expect=2)
    assert missing.output.strip() == "datacall: no campaign '2031-q4'"
    assert "report" in cli("--help", config=None).output
    (tmp_path / "a-file").write_text("x")
    assert "not a folder" in cli(f"report {SLUG} --out {tmp_path / 'a-file'}", expect=2).output


def test_public_web_app_serves_the_note_and_its_charts(client, runtime):
    with runtime.sessions() as session, session.begin():
        build_campaign(session)
    page = client.get(f"/campaigns/{SLUG}")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "style-src 'self'" in policy and "'unsafe-inline'" not in policy and "<script" not in page.text
    html = page.text
    assert "9 messages received, 5 data requests, 3 accepted, 1 published." in html
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert_public(html)
    charts = re.findall(r'<img src="(/campaigns/[^"]+\.svg\?lang=en)"', html)
    assert len(charts) == len(CHARTS)
    for url in charts:
        chart = client.get(url)
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
        ET.fromstring(chart.text)
    french = client.get(f"/campaigns/{SLUG}?lang=fr").text
    assert "9 messages reçus" in french
    assert client.get("/campaigns/2031-q4").status_code == 404
    assert client.get(f"/campaigns/{SLUG}/charts/nope.svg").status_code == 404


def test_a_campaign_with_nothing_yet_still_has_a_note(sessions, tmp_path):
    with sessions() as session, session.begin():
        session.add(Campaign(slug="2027-q2", title="Spring call", call_text="Which data?"))
    written = write_report(sessions, "2027-q2", tmp_path, lang="en")
    assert len(written) == len(CHARTS) + 2
    html = (tmp_path / "index.html").read_text()
    assert "0 messages received, 0 data requests, 0 accepted, 0 published." in html
    assert "No request for this campaign." in html and "No request has had a decision yet." in html
    for name in CHARTS:
        ET.fromstring((tmp_path / f"{name}.svg").read_text())
