"""What a status change will send, before it is sent: the exact replies and how many people get them.

Shared by the request page, the queue's bulk bar and the suggestions, so every
way of deciding shows the same preview.
"""

from __future__ import annotations

from bot.pipeline.status import NEEDS_ANSWER, NEEDS_URL
from bot.replies.render import LANGUAGES
from bot.web.views import Ctx
from storage import queries
from storage.models import Request


def reply_preview(ctx: Ctx, request: Request, status: str, *, answer: str = "", url: str = "",
                  target: str = "") -> dict:
    """The French and English replies as the outbox would write them, and the number of recipients."""
    writer = ctx.writer
    limit = max(writer.max_length.values(), default=500)
    texts = {
        lang: writer.templates.render(
            status, lang, max_length=limit, id=request.id, title=request.title, answer=answer, url=url,
            duplicate_of=target, link=writer._link(request.id, lang),  # the same link the outbox adds
        )
        for lang in LANGUAGES
    }
    recipients = [
        requester for requester, _ in queries.supporters(ctx.db, request_id=request.id)
        if not requester.opted_out and requester.network in writer.max_length
    ]
    return {
        "status": status, "answer": answer, "url": url, "target": target, "texts": texts,
        "recipients": len(recipients), "needs_url": status in NEEDS_URL, "needs_answer": status in NEEDS_ANSWER,
        "reopens": request.status == "published" and status != "published",
    }
