"""`datacall requester erase|consent`: a person's data goes, the public record stays."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.networks.sandbox import timeline
from storage.erasure import ERASED_TEXT, RequesterNotFound, find_requester
from storage.models import Message, Reply, Request, Requester, StatusEvent, utcnow
from tests.helpers import citizens_reply

CITIZENS = [
    ("@camille_velo", "Bonjour, pourriez-vous publier les comptages vélo par compteur et par heure ? Merci !"),
    ("@data_dev_ana", "Please publish the bike counts per counter and per hour as open data."),
]


def setup_loop(cli, sessions) -> list[int]:
    """Two requests, #2 merged into #1, then #1 accepted: replies to both wait in the outbox."""
    cli("init")
    entries = citizens_reply(sessions, to=None, citizens=CITIZENS)
    cli("run --once")
    cli("request set-status 2 duplicate --of 1")
    cli("run --once")
    cli("request set-status 1 accepted --answer 'Planned for March.'")
    return entries


def requester(sessions, requester_id: int) -> Requester:
    with sessions() as session:
        return session.get(Requester, requester_id)


def test_erase_removes_the_person_and_keeps_the_record(cli, sessions, tmp_path):
    camille_entry, ana_entry = setup_loop(cli, sessions)
    cli(f"export --format json --out {tmp_path / 'before.json'}")

    output = cli("requester erase sandbox @camille_velo --yes").output
    assert "erased requester #1 on sandbox: 1 message(s) blanked, 1 waiting reply(ies) dropped" in output
    assert "camille" not in output
    cli("run --once")

    with sessions() as session:
        erased = session.get(Requester, 1)
        assert (erased.handle, erased.external_user_id, erased.opted_out) == (None, "erased-1", True)
        message = session.scalars(select(Message).where(Message.requester_id == 1)).one()
        assert message.text == ERASED_TEXT and message.url is None
        dropped = session.scalars(select(Reply).where(Reply.requester_id == 1, Reply.state == "dead")).one()
        assert dropped.last_error == "requester erased"
        assert session.scalar(select(Reply).where(Reply.requester_id == 1, Reply.state == "pending")) is None
        # The public record stays: both requests, their history, and camille as a supporter.
        assert [r.status for r in session.scalars(select(Request).order_by(Request.id))] == ["accepted", "duplicate"]
        assert len(session.scalars(select(StatusEvent)).all()) == 4
        assert message.request_id == 1
        assert session.get(Requester, 2).handle == "@data_dev_ana"
        answered = [e.in_reply_to_id for e in timeline(session, from_bot=True)]
    # Ana hears about "accepted"; camille, erased before the send, does not.
    assert answered.count(ana_entry) == 3 and answered.count(camille_entry) == 1

    cli(f"export --format json --out {tmp_path / 'after.json'}")
    before = json.loads((tmp_path / "before.json").read_text())["requests"][0]
    after = json.loads((tmp_path / "after.json").read_text())["requests"][0]
    assert before["supporter_count"] == after["supporter_count"] == 2
    # The erased person's old pseudonym is gone too: earlier exports no longer join to them.
    assert len(set(before["supporters"]) & set(after["supporters"])) == 1
    assert "camille" not in cli("request show 1").output


def test_erase_is_idempotent_and_says_what_it_finds(cli, sessions):
    setup_loop(cli, sessions)
    cli("requester erase sandbox camille_velo --yes")
    assert "already erased" in cli("requester erase sandbox erased-1 --yes").output
    result = cli("requester erase sandbox @camille_velo --yes", expect=2)
    assert result.output.strip() == (
        "datacall: no requester @camille_velo on sandbox (an erased one is known only as erased-ID)"
    )
    assert "no requester @nobody on mastodon" in cli("requester erase mastodon @nobody --yes", expect=2).output
    with sessions() as session:
        assert session.get(Requester, 1).external_user_id == "erased-1"
        assert session.scalar(select(Message.text).where(Message.requester_id == 1)) == ERASED_TEXT


def test_erase_asks_first_and_finds_people_by_user_id_in_any_case(cli, sessions):
    setup_loop(cli, sessions)
    assert cli("requester erase sandbox @Data_Dev_Ana", input="n\n", expect=1).exit_code == 1
    assert requester(sessions, 2).handle == "@data_dev_ana"
    result = cli("requester erase sandbox u-data_dev_ana", input="y\n")
    assert "Erase @data_dev_ana on sandbox?" in result.output and "erased requester #2" in result.output
    assert requester(sessions, 2).handle is None


def test_a_message_not_yet_processed_is_erased_before_it_becomes_a_request(cli, sessions):
    cli("init")
    with sessions() as session, session.begin():
        person = Requester(network="sandbox", external_user_id="u-late", handle="@late")
        session.add(person)
        session.flush()
        session.add(Message(network="sandbox", external_id="77", requester_id=person.id,
                            text="Please publish the list of public toilets as CSV.", received_at=utcnow()))
    cli("requester erase sandbox @late --yes")
    cli("run --once")
    with sessions() as session:
        message = session.scalar(select(Message))
        assert message.text == ERASED_TEXT and message.request_id is None
        # It left the pipeline at erasure: never classified, whatever a model would make of "[erased]".
        assert message.label is None and message.routed_at is not None
        assert session.scalar(select(Request)) is None
        assert session.scalar(select(Reply)) is None


def test_someone_erased_who_writes_again_is_a_new_requester(cli, sessions):
    setup_loop(cli, sessions)
    cli("requester erase sandbox @camille_velo --yes")
    (entry,) = citizens_reply(
        sessions, to=None, citizens=[("@camille_velo", "Publiez les horaires des piscines en CSV.")]
    )
    cli("run --once")
    with sessions() as session:
        again = session.scalar(select(Requester).where(Requester.handle == "@camille_velo"))
        assert again.id == 3 and not again.opted_out
        assert entry in [e.in_reply_to_id for e in timeline(session, from_bot=True)]


def test_consent_is_recorded_and_withdrawn(cli, sessions):
    setup_loop(cli, sessions)
    assert not requester(sessions, 1).consented_public
    assert "may be shown" in cli("requester consent sandbox @camille_velo --public").output
    assert requester(sessions, 1).consented_public
    assert "stays private" in cli("requester consent sandbox u-camille_velo --private").output
    assert not requester(sessions, 1).consented_public
    cli("requester consent sandbox @camille_velo --public")
    cli("requester erase sandbox @camille_velo --yes")
    assert not requester(sessions, 1).consented_public
    assert "was erased" in cli("requester consent sandbox erased-1 --public", expect=2).output
    assert cli("requester consent sandbox @data_dev_ana", expect=2).exit_code == 2  # --public or --private


def test_a_handle_two_people_used_needs_the_user_id(sessions):
    with sessions() as session, session.begin():
        session.add_all([
            Requester(network="telegram", external_user_id="11", handle="Marie"),
            Requester(network="telegram", external_user_id="12", handle="marie"),
        ])
    with sessions() as session:
        try:
            find_requester(session, "telegram", "marie")
        except RequesterNotFound as exc:
            assert "user ids 11, 12" in str(exc)
        else:
            raise AssertionError("an ambiguous handle was accepted")
        assert find_requester(session, "telegram", "12").handle == "marie"
