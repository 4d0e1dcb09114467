"""Small helpers shared by the pipeline tests."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bot.networks.base import Connector
from bot.networks.sandbox import say, timeline
from bot.pipeline.replies import ReplyWriter
from bot.replies.render import load_templates
from storage.models import Message, Post, Reply, Request, Requester, StatusEvent

CITIZENS = [
    ("@camille_velo", "Bonjour, pourriez-vous publier les comptages vélo par compteur et par heure ? Merci !"),
    ("@data_dev_ana", "Is there an API for real-time bus positions? A GTFS-RT feed would be great."),
    ("@grumpy_joe", "The bin on my street has not been emptied for a week, this is ridiculous."),
]


def call_entry_id(sessions) -> int:
    with sessions() as session:
        return int(session.scalar(select(Post.external_id).where(Post.kind == "call", Post.state == "posted")))


def citizens_reply(sessions, *, to: int | None, citizens=CITIZENS) -> list[int]:
    """The first citizen answers the call `to`; the others mention the account."""
    ids = []
    with sessions() as session, session.begin():
        for index, (handle, text) in enumerate(citizens):
            ids.append(say(session, handle, text, in_reply_to_id=to if index == 0 else None).id)
    return ids


def snapshot(sessions) -> dict:
    """What a run leaves behind, comparable between a clean run and an interrupted one."""
    with sessions() as session:
        bot_entries = timeline(session, from_bot=True)
        return {
            "messages": sorted(
                (m.external_id, m.label, m.request_id is not None)
                for m in session.scalars(select(Message))
            ),
            "requests": session.scalar(select(func.count()).select_from(Request)),
            "events": session.scalar(select(func.count()).select_from(StatusEvent)),
            "replies": dict(Counter(r.state for r in session.scalars(select(Reply)))),
            "bot_posts": len(bot_entries),
            "answered": sorted(Counter(e.in_reply_to_id for e in bot_entries if e.in_reply_to_id).items()),
        }


# Far too long for every network (Telegram takes 4096), with emoji that X counts twice.
LONG_ANSWER = "The city does not hold these counts; " + "the regional agency keeps them 🚲 " * 200
FOLLOW_LINK = "Follow it: https://data.example.org/requests/7"


def long_reply(connector: Connector, handle: str) -> str:
    """The `declined` reply the reply writer queues for `handle` on `connector`, its answer far too long."""
    writer = ReplyWriter(
        templates=load_templates(), networks={connector.name: connector}, default_language="en",
        public_url="https://data.example.org",
    )
    requester = Requester(network=connector.name, handle=handle, lang="en")
    return writer.render("declined", "en", requester, id=7, answer=LONG_ANSWER, link=writer._link(7, "en"))


def assert_fitted_once(connector: Connector, handle: str, written: str, sent: str) -> None:
    """What went out is the written reply behind the network's mention, within its limit, cut once."""
    assert sent == connector.addressed(handle, written)
    assert connector.text_length(sent) <= connector.max_length
    assert sent.count("…") == 1 and sent.endswith(f"… {FOLLOW_LINK}")  # the answer gave way, not the link
