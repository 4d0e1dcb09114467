"""Status changes decided by officers: a StatusEvent and a reply to every supporter."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.pipeline.replies import ReplyWriter
from storage.models import REQUEST_STATUSES, Message, Request, StatusEvent
from storage.suggestions import close_suggestions
from storage.support import recount

# Statuses that mean nothing without a public answer or a link.
NEEDS_URL = {"published", "already_available"}
NEEDS_ANSWER = {"out_of_scope", "declined"}


class StatusError(ValueError):
    """The change cannot be made; the message says why, for the officer."""


def parse_expected(value: str | None) -> date | None:
    """An accepted request's expected publication date as typed (YYYY-MM-DD); blank is none.

    The one parser for the command line and the web form; ValueError if it is not a date.
    """
    text = (value or "").strip()
    return date.fromisoformat(text) if text else None


def check_change(
    session: Session,
    request: Request,
    status: str,
    *,
    answer: str | None,
    url: str | None,
    duplicate_of: int | None,
    reopen: bool,
) -> Request | None:
    """Whether this change may be made, for the CLI, the web page and the bulk form alike.

    Refuses a change that changes nothing (its supporters would be told the
    same thing twice), and moving a published request back without `reopen`.
    Returns the request a duplicate joins.
    """
    if status not in REQUEST_STATUSES:
        raise StatusError(f"unknown status {status!r}; one of: {', '.join(REQUEST_STATUSES)}")
    if status in NEEDS_URL and not url:
        raise StatusError(f"status {status} needs --url (the dataset's link)")
    if status in NEEDS_ANSWER and not answer:
        raise StatusError(f"status {status} needs --answer (the reason, or who to ask)")
    if (status == "duplicate") != (duplicate_of is not None):
        raise StatusError("status duplicate needs --of ID (the request it joins), and only it takes --of")
    same = (status, answer or None, url or None) == (request.status, request.answer or None, request.url or None)
    if same and (status != "duplicate" or duplicate_of == request.duplicate_of_id):
        raise StatusError(
            f"request #{request.id} is already {status} with this answer and link; "
            "its supporters would be told the same thing again"
        )
    if request.status == "published" and status != "published" and not reopen:
        raise StatusError(
            f"request #{request.id} is published; moving it back to {status} needs a confirmation "
            "(--reopen on the command line), because its supporters are told"
        )
    if duplicate_of is None:
        return None
    target = session.get(Request, duplicate_of)
    if target is None or target.id == request.id:
        raise StatusError(f"request #{duplicate_of} cannot take the supporters of #{request.id}")
    if target.status == "duplicate":
        raise StatusError(f"request #{duplicate_of} is itself a duplicate of #{target.duplicate_of_id}")
    if target.not_a_request:
        raise StatusError(f"request #{duplicate_of} was closed as not a data request; it takes no supporters")
    return target


def set_status(
    session: Session,
    request_id: int,
    status: str,
    *,
    actor: str,
    writer: ReplyWriter,
    answer: str | None = None,
    url: str | None = None,
    duplicate_of: int | None = None,
    reopen: bool = False,
    expected: date | None = None,
) -> StatusEvent:
    """Record the change and queue the replies, in the caller's transaction.

    `reopen` confirms moving a request back from `published`.
    """
    request = session.get(Request, request_id, with_for_update=True)
    if request is None:
        raise StatusError(f"no request #{request_id}")
    target = check_change(session, request, status, answer=answer, url=url, duplicate_of=duplicate_of, reopen=reopen)
    if expected is not None and status != "accepted":
        raise StatusError("only status accepted takes an expected date (--expected YYYY-MM-DD)")

    event = StatusEvent(
        request_id=request.id, status=status, answer=answer, url=url,
        duplicate_of_id=duplicate_of, actor=actor,
    )
    session.add(event)
    request.status = status
    request.answer = answer
    request.url = url
    request.not_a_request = False  # a decision on the request itself: it is a request again
    if status == "accepted":
        # Past this date an accepted request is overdue; none given, it never is.
        request.expected_at = expected
    session.flush()
    # Tell the supporters first, while they are still this request's supporters.
    writer.queue_status_replies(session, event=event, request=request)
    if target is not None:
        request.duplicate_of_id = target.id
        # Merging keeps every supporter: their messages now back the surviving request.
        session.execute(
            update(Message).where(Message.request_id == request.id).values(request_id=target.id)
        )
        recount(session, [request.id, target.id])  # a bulk UPDATE: the flush hook does not see it
    close_suggestions(session, request)  # none from a decided request, none pointing to it
    return event
