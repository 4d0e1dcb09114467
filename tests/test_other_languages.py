"""A message neither French nor English goes to an officer with its language; acknowledgements use the default."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config import load_config
from bot.networks.sandbox import timeline
from bot.pipeline.classify import needs_review
from bot.runtime import Runtime
from bot.web.decisions import confirm_request
from storage.models import Message, Request
from tests.helpers import citizens_reply

CITIZENS = [
    ("@fahrrad_fan", "Bitte veröffentlichen Sie die stündlichen Fahrradzählungen als offene Daten im CSV-Format."),
    ("@datos_ana", "¿Podrían publicar los horarios de los autobuses en datos abiertos? Gracias."),
    ("@camille_velo", "Bonjour, pourriez-vous publier les comptages vélo par compteur et par heure ? Merci !"),
]


@pytest.mark.parametrize(
    ("score", "lang", "expected"),
    [
        (0.99, "fr", False), (0.01, "en", False), (0.99, "en-GB", False), (0.5, "fr", True),
        (0.99, "de", True), (0.01, "es", True), (0.99, "und", True), (0.99, None, True),
    ],
)
def test_only_french_and_english_outside_the_band_are_automatic(score, lang, expected):
    assert needs_review(score, lang, (0.4, 0.6)) is expected


def test_other_languages_wait_for_an_officer_and_are_acknowledged_in_the_default_language(cli, sessions, config_file):
    cli("init")
    german, spanish, french = citizens_reply(sessions, to=None, citizens=CITIZENS)
    cli("run --once")
    with sessions() as session:
        messages = {int(m.external_id): m for m in session.scalars(select(Message))}
        assert messages[german].lang == "de" and messages[spanish].lang == "es"
        for foreign in (german, spanish):
            assert messages[foreign].needs_review is True
            assert messages[foreign].request_id is None  # no automatic request
        assert messages[french].needs_review is False and messages[french].request_id is not None
        assert session.scalars(select(Request)).all().__len__() == 1
        answered = {e.in_reply_to_id for e in timeline(session, from_bot=True) if e.in_reply_to_id}
    assert answered == {french}  # nothing was sent to the German or Spanish writer

    # An officer confirms the German request: its acknowledgement is in the default language (fr).
    rt = Runtime.from_config(load_config(config_file))
    try:
        with rt.sessions() as session, session.begin():
            german_id = session.scalar(select(Message.id).where(Message.external_id == str(german)))
            confirm_request(session, german_id, officer="alice", writer=rt.reply_writer())
    finally:
        rt.close()
    cli("run --once")
    with sessions() as session:
        acks = {e.in_reply_to_id: e.text for e in timeline(session, from_bot=True) if e.in_reply_to_id}
    assert acks[german].startswith("Merci !")
    assert acks[french].startswith("Merci !")
