"""Spot checks: a random share of the automatic decisions waits for an officer, whose decisions
measure how precise the automatic ones are on the deployment's own messages."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select

from bot.config import load_config
from bot.networks.sandbox import timeline
from bot.pipeline.classify import drawn_for_spot_check, in_band
from bot.runtime import Runtime
from bot.web.decisions import confirm_request, mark_off_topic
from classifiers.metrics import wilson_interval
from storage.models import Message
from tests.helpers import citizens_reply

TOPICS = ["bus stops", "bike counters", "school menus", "tree inventory", "parking spaces", "air quality",
          "public toilets", "library loans"]
CITIZENS = [(f"@asker{n}", f"Please publish the {topic} dataset as open data, in CSV, updated monthly.")
            for n, topic in enumerate(TOPICS)]
CITIZENS += [(f"@chatter{n}", f"Thanks, lovely sunny day at the {topic} today, see you all at the fair!")
             for n, topic in enumerate(TOPICS)]


def test_the_draw_is_stable_and_takes_its_share():
    draws = [drawn_for_spot_check("mastodon", str(n), 0.1) for n in range(5000)]
    assert 0.085 < sum(draws) / len(draws) < 0.115
    assert draws == [drawn_for_spot_check("mastodon", str(n), 0.1) for n in range(5000)]  # any worker, any time
    assert draws != [drawn_for_spot_check("twitter", str(n), 0.1) for n in range(5000)]
    assert not any(drawn_for_spot_check("mastodon", str(n), 0.0) for n in range(5000))


def test_spot_checks_wait_for_an_officer_and_measure_the_automatic_decisions(cli, sessions, write_config, db_url,
                                                                           tmp_path):
    band = (0.1, 0.9)
    config = write_config(f'[database]\nurl = "{db_url}"\n[replies]\nretry_base_seconds = 0.01\n'
                          f"[classifier]\nreview_band = {list(band)}\nspot_check_share = 0.5\n", "spot.toml")
    cli("init", config=config)
    citizens_reply(sessions, to=None, citizens=CITIZENS)
    cli("run --once", config=config)
    with sessions() as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        answered = {e.in_reply_to_id for e in timeline(session, from_bot=True) if e.in_reply_to_id}
        drawn = []
        for message in messages:
            automatic = not in_band(message.score, band)
            assert message.spot_check == (automatic and drawn_for_spot_check(message.network, message.external_id, 0.5))
            if message.spot_check:
                drawn.append((message.id, message.label))
                assert message.needs_review and message.request_id is None
                assert int(message.external_id) not in answered  # no automatic reply before the officer
            elif automatic:
                assert not message.needs_review
        assert {label for _, label in drawn} == {"data_request", "off_topic"}, "these texts draw both sides"

    # The officer agrees with every drawn request but one, and with every drawn off-topic message.
    rt = Runtime.from_config(load_config(config))
    try:
        with rt.sessions() as session, session.begin():
            requests = [message_id for message_id, label in drawn if label == "data_request"]
            for message_id, label in drawn:
                if label == "off_topic" or message_id == requests[0]:
                    mark_off_topic(session, message_id, officer="alice", writer=rt.reply_writer())
                else:
                    confirm_request(session, message_id, officer="alice", writer=rt.reply_writer())
    finally:
        rt.close()
    off_topic = len(drawn) - len(requests)
    status = cli("status", config=config).output
    low, high = wilson_interval(len(requests) - 1, len(requests))
    assert (f"spot checks of automatic decisions: data_request {len(requests) - 1} of {len(requests)} right "
            f"(95 % interval {low:.2f}-{high:.2f}), off_topic {off_topic} of {off_topic} right") in status

    cli("run --once", config=config)  # the confirmed requests are acknowledged now, once each
    cli("run --once", config=config)
    with sessions() as session:
        answers = Counter(e.in_reply_to_id for e in timeline(session, from_bot=True) if e.in_reply_to_id)
        confirmed = session.scalars(select(Message.external_id).where(Message.id.in_(requests[1:]))).all()
    assert confirmed and all(answers[int(external_id)] == 1 for external_id in confirmed)

    report_path = tmp_path / "report.json"
    cli(["evaluate", "--decisions", "--out", str(report_path)], config=config)
    checks = json.loads(report_path.read_text())["spot_checks"]
    assert checks["data_request"] == {"checked": len(requests), "right": len(requests) - 1,
                                      "precision": (len(requests) - 1) / len(requests), "interval_95": [low, high]}
    assert checks["off_topic"]["checked"] == off_topic and checks["off_topic"]["precision"] == 1.0


def test_the_precision_of_a_few_checks_comes_with_its_interval():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(10, 10)
    assert round(low, 3) == 0.722 and high == 1.0  # ten right of ten does not promise 97 %
    low, high = wilson_interval(5, 10)
    assert (round(low, 3), round(high, 3)) == (0.237, 0.763)
    low, high = wilson_interval(970, 1000)
    assert 0.95 < low < 0.97 < high < 0.98
