"""Running one officer decision as one transaction, and saying what it did."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.web.decisions import DecisionError
from bot.web.views import Ctx, local_next
from storage.models import Reply


def act(ctx: Ctx, work: Callable[[], str], default_next: str = "/queue"):
    """Run one decision as one transaction; a refusal is rolled back and shown to the officer."""
    try:
        done = work()
        ctx.db.commit()
        ctx.cache.clear()  # the officer sees at once the counts their decision changed
        ctx.flash(done)
    except DecisionError as exc:
        ctx.db.rollback()
        ctx.flash(ctx.t(exc.key, **exc.values), "error")
    return ctx.redirect(local_next(ctx.field("next"), default_next))


def queued_replies(db: Session, event_id: int) -> int:
    return db.scalar(select(func.count()).where(Reply.status_event_id == event_id)) or 0
