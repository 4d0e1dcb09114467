"""The demo scenario: a call on the sandbox network, citizens reply, datacall answers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bot.jobs import run_once
from bot.networks.sandbox import say, timeline
from bot.pipeline.status import set_status
from bot.runtime import Runtime
from bot.web import decisions
from storage.models import Campaign, Message, Post, Reply, Request

MESSAGES = Path(__file__).resolve().parent / "messages.toml"
CAMPAIGN = "demo-call"
PUBLISHED_URL = "https://data.example.org/datasets/bike-counters"


@dataclass
class DemoOutcome:
    messages: dict[str | None, int] = field(default_factory=dict)  # per label; None: not classified yet
    agreed: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    reviewed: dict[str, int] = field(default_factory=dict)  # the officer's labels for the messages left to them
    spot_checks: int = 0  # of those, drawn at random among the automatic decisions
    published: Request | None = None
    merged: tuple[int, int] | None = None
    second_pass_new_replies: int = 0
    failures: list[str] = field(default_factory=list)
    bot_posts: list[str] = field(default_factory=list)


def sample_messages() -> list[dict]:
    return tomllib.loads(MESSAGES.read_text(encoding="utf-8"))["message"]


def play(rt: Runtime) -> DemoOutcome:
    outcome = DemoOutcome()
    samples = sample_messages()
    with rt.sessions() as session, session.begin():
        call_text = rt.templates.render(
            "call", rt.config.campaigns.default_language, max_length=rt.max_length("sandbox"), campaign="demo"
        )
        campaign = Campaign(slug=CAMPAIGN, title="Demo call for contributions", call_text=call_text)
        session.add(campaign)
        session.flush()
        session.add(Post(campaign_id=campaign.id, network="sandbox", kind="call", text=call_text))
    _run(rt, outcome)  # posts the call

    with rt.sessions() as session, session.begin():
        call_id = int(session.scalar(select(Post.external_id).where(Post.kind == "call")))
        for index, sample in enumerate(samples):
            # Most citizens answer the call; every fourth mentions the account instead.
            say(session, sample["handle"], sample["text"], in_reply_to_id=None if index % 4 == 3 else call_id)
    _run(rt, outcome)  # collects, classifies, opens requests, acknowledges

    with rt.sessions() as session, session.begin():
        writer = rt.reply_writer()
        by_text = {m.text: m for m in session.scalars(select(Message))}
        for sample in samples:
            message = by_text[sample["text"]]
            outcome.agreed += message.label == sample["expect"]
            if message.needs_review:  # inside the review band, or a spot check: the officer decides, as in the queue
                outcome.spot_checks += message.spot_check
                decide = decisions.confirm_request if sample["expect"] == "data_request" else decisions.mark_off_topic
                decide(session, message.id, officer="demo officer", writer=writer)
                outcome.reviewed[sample["expect"]] = outcome.reviewed.get(sample["expect"], 0) + 1
        session.flush()
        first_request = session.scalar(select(Request).order_by(Request.id))
        if first_request is not None:
            set_status(
                session, first_request.id, "published", actor="demo officer", writer=writer,
                url=PUBLISHED_URL, answer="Counts per counter and per hour, updated daily.",
            )
            outcome.published = first_request
        pair = [by_text[s["text"]].request_id for s in samples if s.get("pair")]
        kept, joined = pair if len(pair) == 2 else (None, None)
        if kept and joined and kept != joined:
            set_status(session, joined, "duplicate", actor="demo officer", writer=writer, duplicate_of=kept)
            outcome.merged = (joined, kept)
    _run(rt, outcome)  # sends the status replies

    with rt.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Reply)) or 0
    _run(rt, outcome)  # a second pass finds nothing left to do
    with rt.sessions() as session:
        outcome.second_pass_new_replies = (session.scalar(select(func.count()).select_from(Reply)) or 0) - before
        outcome.messages = dict(session.execute(select(Message.label, func.count()).group_by(Message.label)).all())
        outcome.requests = dict(session.execute(select(Request.status, func.count()).group_by(Request.status)).all())
        outcome.replies = dict(session.execute(select(Reply.state, func.count()).group_by(Reply.state)).all())
        outcome.bot_posts = [entry.text for entry in timeline(session, from_bot=True)]
    return outcome


def _run(rt: Runtime, outcome: DemoOutcome) -> None:
    for name, (_, error) in run_once(rt).items():
        if error is not None:
            outcome.failures.append(f"{name}: {error}")
