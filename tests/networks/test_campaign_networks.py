"""A scheduled campaign on the three real networks (their HTTP fakes): the call goes out on each,
and every reply is tied to the post it answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.models import Message, Post


def test_the_call_goes_out_on_every_network_and_replies_are_tracked_per_post(cli, sessions, fakes, config):
    x, mastodon, telegram = fakes
    cli("init", config=config)
    yesterday = datetime.now(ZoneInfo("Europe/Paris")).date() - timedelta(days=1)
    cli(["campaign", "create", "now-q", "--start", yesterday.isoformat(), "--title", "Open data call"], config=config)
    cli("run --once", config=config)  # the call was due yesterday: posted once, nothing else is due
    with sessions() as session:
        posted = {p.network: p for p in session.scalars(select(Post).where(Post.state == "posted"))}
        assert {p.kind for p in posted.values()} == {"call"} and set(posted) == {"twitter", "mastodon", "telegram"}
        pending = session.scalars(select(Post).where(Post.state == "pending")).all()
        assert {p.kind for p in pending} >= {"reminder", "survey", "note"}
    [tweet] = x.posts_by_bot()
    assert tweet["text"].startswith("📣 Appel à contributions « Open data call »")
    assert len(mastodon.posts_by_bot()) == 1 and len(telegram.sent_messages()) == 1

    x.citizen_reply(posted["twitter"].external_id, "ana_data", "Could you publish the bike counts per hour?")
    mastodon.citizen_reply(posted["mastodon"].external_id, "lea",
                           "Pourriez-vous publier les comptages vélo par heure en CSV ?")
    channel_post = int(posted["telegram"].external_id.rpartition(":")[2])
    telegram.channel_comment("sam", "Please publish the list of public toilets with opening hours.", channel_post)
    cli("run --once", config=config)
    with sessions() as session:
        messages = session.scalars(select(Message)).all()
        assert sorted(m.network for m in messages) == ["mastodon", "telegram", "twitter"]
        assert all(m.post_id == posted[m.network].id for m in messages)
        assert all(m.request_id is not None for m in messages)
    shown = cli("campaign show now-q", config=config).output
    call_lines = [line for line in shown.splitlines() if " call " in line and "posted" in line]
    assert len(call_lines) == 3 and all("  1 / 1 " in line for line in call_lines)
    cli("run --once", config=config)
    assert len(x.posts_by_bot()) == 2  # the acknowledgement only: the call was not posted again
