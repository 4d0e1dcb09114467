"""Reply texts: every status in both languages, always within the network's limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.networks.base import ReplyTarget
from bot.networks.sandbox import SandboxConnector, say, timeline
from bot.redact import title_from
from bot.replies.render import LANGUAGES, REQUIRED, load_templates
from storage.models import REQUEST_STATUSES
from tests.helpers import assert_fitted_once, long_reply

TEMPLATES = load_templates()
URL = "https://data.example.org/datasets/a-rather-long-dataset-name"


def test_every_status_has_a_french_and_an_english_text():
    assert set(REQUEST_STATUSES) <= set(REQUIRED)
    for status in REQUEST_STATUSES:
        assert TEMPLATES.texts[status]["fr"] != TEMPLATES.texts[status]["en"]


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(REQUEST_STATUSES),
    lang=st.sampled_from(LANGUAGES),
    title=st.text(max_size=600),
    answer=st.text(max_size=2000),
    max_length=st.sampled_from([280, 500, 4096]),
)
def test_reply_fits_the_network_and_keeps_the_link(status, lang, title, answer, max_length):
    text = TEMPLATES.render(
        status, lang, max_length=max_length, id=12345, title=title, answer=answer, url=URL, duplicate_of=7
    )
    assert len(text) <= max_length
    if "{url}" in TEMPLATES.texts[status][lang]:
        assert URL in text  # links are never cut: a reply without its link is useless


def test_short_answer_is_kept_whole():
    text = TEMPLATES.render("declined", "en", max_length=280, id=3, answer="The data contains personal records.")
    assert text.endswith("The data contains personal records.")


def test_unknown_language_falls_back_to_french():
    assert TEMPLATES.render("received", "de", max_length=500, id=1, title="x").startswith("Merci")


def test_template_with_unknown_placeholder_is_refused(tmp_path):
    import pytest

    from bot.replies.render import TemplateError

    source = TEMPLATES.source.read_text(encoding="utf-8").replace("« {title} »", "« {titel} »")
    path = tmp_path / "t.toml"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"\[received\] fr: unknown placeholder \{titel\}"):
        load_templates(path)


def test_title_leaves_out_handles_links_emails_and_phone_numbers():
    title = title_from(
        "@OpenDataVille @anne@mastodon.social please publish noise maps https://x.org/a "
        "mail me at anne@example.org or call +33 6 12 34 56 78 #opendata"
    )
    assert title == "please publish noise maps mail me at or call #opendata"


def test_title_is_shortened_on_a_word_boundary():
    title = title_from("publish " + "budget " * 40)
    assert len(title) <= 120 and title.endswith("budget…")


@settings(max_examples=100, deadline=None)
@given(title=st.text(max_size=400), answer=st.text(max_size=600))
def test_reply_fits_when_the_network_counts_differently(title, answer):
    from bot.networks.twitter import weighted_length

    text = TEMPLATES.render(
        "published", "fr", max_length=280, length=weighted_length, id=7, title=title, answer=answer, url=URL,
    )
    assert weighted_length(text) <= 280
    assert URL in text


def test_emoji_heavy_answer_is_shortened_for_x():
    from bot.networks.twitter import weighted_length

    answer = "🚲" * 200
    assert len(TEMPLATES.render("declined", "en", max_length=280, id=1, answer=answer)) <= 280
    text = TEMPLATES.render("declined", "en", max_length=280, length=weighted_length, id=1, answer=answer)
    assert weighted_length(text) <= 280 < weighted_length(
        TEMPLATES.render("declined", "en", max_length=280, id=1, answer=answer)
    )


def test_a_long_reply_is_fitted_once_on_the_sandbox(sessions):
    connector = SandboxConnector(sessions)
    with sessions() as session, session.begin():
        citizen = say(session, "@camille_velo", "Publish the bike counts, please.")
    written = long_reply(connector, "@camille_velo")
    target = ReplyTarget(str(citizen.id), citizen.author_id, "@camille_velo")
    ref = connector.reply(target, written, idempotency_key="r1")
    with sessions() as session:
        [sent] = [entry for entry in timeline(session, from_bot=True) if str(entry.id) == ref.external_id]
    assert_fitted_once(connector, "@camille_velo", written, sent.text)
    assert len(sent.text) == connector.max_length  # the answer gave way just enough, once
