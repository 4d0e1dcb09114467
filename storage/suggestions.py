"""Keeping suggestions true after officers decide, and remembering the ones they dismissed.

The suggest step (bot/pipeline/suggest.py) writes suggestions once per request
and skips any (request, kind, target) already stored, so a dismissed
suggestion, kept with its `dismissed_at`, never comes back. When a request is
decided, its own suggestions are closed and so are those that point to it:
nothing is merged into a decided request, and a merged one no longer exists
as such (the duplicates that pointed to it now point to the request it joined).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Request, Suggestion, utcnow

DECIDED = ("published", "already_available", "out_of_scope", "declined", "duplicate")


def request_target(request_id: int) -> str:
    return f"request:{request_id}"


def close_suggestions(session: Session, request: Request) -> None:
    """After a status change: a decided request offers nothing more, and nothing points to it."""
    if request.status not in DECIDED:
        return
    session.execute(delete(Suggestion).where(Suggestion.request_id == request.id)
                    .execution_options(synchronize_session=False))
    pointing = session.scalars(select(Suggestion).where(Suggestion.target == request_target(request.id))).all()
    survivor = request.duplicate_of_id if request.status == "duplicate" else None
    for suggestion in pointing:
        moved = request_target(survivor) if survivor else None
        if moved is None or suggestion.request_id == survivor or session.scalar(
            select(Suggestion.id).where(Suggestion.request_id == suggestion.request_id,
                                        Suggestion.kind == suggestion.kind, Suggestion.target == moved)
        ):
            session.delete(suggestion)
        else:
            suggestion.target = moved
    session.flush()


def dismiss(session: Session, *, request_id: int, suggestion_id: int, officer: str) -> Suggestion | None:
    """Mark a suggestion as not wanted; None if the request has no such suggestion."""
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.request_id != request_id:
        return None
    if suggestion.dismissed_at is None:
        suggestion.dismissed_at = utcnow()
        suggestion.dismissed_by = officer
    session.flush()
    return suggestion
