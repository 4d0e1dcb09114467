"""Queue status replies: one outbox row per (status event, supporter), never two."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.replies.render import Templates
from storage import queries
from storage.models import Reply, Request, StatusEvent


def queue_status_replies(
    session: Session,
    *,
    event: StatusEvent,
    request: Request,
    templates: Templates,
    max_length: dict[str, int],
    default_language: str,
    public_url: str = "",
) -> list[Reply]:
    """Outbox rows telling every supporter about `event`, in their language, on their network."""
    queued = []
    for requester, message in queries.supporters(session, request_id=request.id):
        if requester.opted_out or requester.network not in max_length:
            continue  # opted out, or a network no longer enabled: nobody to tell there
        lang = requester.lang if requester.lang in ("fr", "en") else default_language
        link = ""
        if public_url:
            label = "Suivi :" if lang == "fr" else "Follow it:"
            link = f" {label} {public_url.rstrip('/')}/requests/{request.id}"
        text = templates.render(
            event.status,
            lang,
            max_length=max_length[requester.network],
            id=request.id,
            title=request.title,
            answer=event.answer,
            url=event.url,
            duplicate_of=event.duplicate_of_id,
            link=link,
        )
        reply = Reply(
            status_event_id=event.id,
            requester_id=requester.id,
            message_id=message.id,
            network=requester.network,
            idempotency_key=f"datacall-{event.id}-{requester.id}",
            lang=lang,
            text=text,
            state="pending",
            attempts=0,
        )
        session.add(reply)
        queued.append(reply)
    session.flush()
    return queued
