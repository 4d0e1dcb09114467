"""Small helpers shared by the pipeline tests."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bot.networks.sandbox import say, timeline
from storage.models import Message, Post, Reply, Request, StatusEvent

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
