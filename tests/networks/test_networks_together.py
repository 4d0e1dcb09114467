"""All three real networks at once: one keeps failing, the other two keep flowing,
and the failing one catches up later with nothing lost."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Message, NetworkCursor, utcnow

ASK = "Could you publish the bike counter data per hour as CSV?"


def test_one_network_down_the_others_flow_then_it_catches_up(cli, sessions, fakes, config):
    x, mastodon, telegram = fakes
    cli("init", config=config)
    mastodon.fail_next(500, times=1000)  # Mastodon is down for a while
    x.citizen_mention("ana_data", ASK)
    mastodon.citizen_mention("lea", "Pourriez-vous publier les comptages vélo par heure en CSV ?")
    telegram.private_message("sam", "Please publish the list of public toilets with opening hours.")

    for _ in range(3):
        output = cli("run --once", config=config, expect=1).output
        assert "poll:mastodon: failed" in output
    cli("run --once", config=config)  # paused now: Mastodon is left alone, the run is clean
    assert "mastodon is paused until" in cli("status", config=config).output
    with sessions() as session:
        assert sorted(m.network for m in session.scalars(select(Message))) == ["telegram", "twitter"]
        mastodon_cursor = session.get(NetworkCursor, "mastodon")
        assert mastodon_cursor.paused_until is not None and mastodon_cursor.consecutive_failures >= 3
    assert len(x.posts_by_bot()) == 1 and len(telegram.sent_messages()) == 1  # both acknowledged

    with mastodon._lock:
        mastodon._failures.clear()  # Mastodon is back
    with sessions() as session, session.begin():
        session.get(NetworkCursor, "mastodon").paused_until = utcnow()  # and its pause is over
    cli("run --once", config=config)
    with sessions() as session:
        assert sorted(m.network for m in session.scalars(select(Message))) == ["mastodon", "telegram", "twitter"]
    assert len(mastodon.posts_by_bot()) == 1  # the late acknowledgement
    cli("run --once", config=config)
    assert (len(x.posts_by_bot()), len(mastodon.posts_by_bot()), len(telegram.sent_messages())) == (1, 1, 1)
