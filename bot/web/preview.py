"""What a status change will send, before it is sent: the exact replies and how many people get them.

Shared by the request page, the queue's bulk bar and the suggestions, so every
way of deciding shows the same preview, and says at once when the change would
be refused (`bot.pipeline.status.check_change`, as on the command line).
"""

from __future__ import annotations

from bot.pipeline.status import NEEDS_ANSWER, NEEDS_URL, StatusError, check_change
from bot.replies.render import LANGUAGES
from bot.web.views import Ctx, parse_id
from storage import queries
from storage.models import Request
from storage.public_titles import public_titles


def reply_preview(ctx: Ctx, request: Request, status: str, *, answer: str = "", url: str = "",
                  target: str = "", expected: str = "") -> dict:
    """The French and English replies as the outbox would write them, and the number of recipients."""
    writer = ctx.writer
    limit = max((network.max_length for network in writer.networks.values()), default=500)
    # What supporters other than the draft's author read; its author reads their own words.
    titles = {lang: public_titles(ctx.db, [request], lang=lang)[request.id] for lang in LANGUAGES}
    texts = {
        lang: writer.templates.render(
            status, lang, max_length=limit, id=request.id, title=titles[lang], answer=answer, url=url,
            duplicate_of=target, link=writer._link(request.id, lang),  # the same link the outbox adds
        )
        for lang in LANGUAGES
    }
    recipients = [
        requester for requester, _ in queries.supporters(ctx.db, request_id=request.id)
        if not requester.opted_out and writer.reaches(requester)
    ]
    refusal = ""
    missing = (status in NEEDS_URL and not url) or (status in NEEDS_ANSWER and not answer)
    if not missing and (status != "duplicate" or parse_id(target) is not None):
        try:  # the same check the change will face: say now that it would be refused
            check_change(ctx.db, request, status, answer=answer or None, url=url or None,
                         duplicate_of=parse_id(target) if status == "duplicate" else None, reopen=True)
        except StatusError as exc:
            refusal = str(exc)
    return {
        "status": status, "answer": answer, "url": url, "target": target, "texts": texts, "refusal": refusal,
        "expected": expected, "recipients": len(recipients),
        "needs_url": status in NEEDS_URL, "needs_answer": status in NEEDS_ANSWER,
        "reopens": request.status == "published" and status != "published",
    }
