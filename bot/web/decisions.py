"""What an officer's decision does to the rows. Shared by single and bulk actions; no HTTP here.

Each function works in the caller's transaction and never commits; on a
DecisionError the caller rolls back, so a refused decision leaves no trace.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.pipeline import reply_checks
from bot.pipeline.replies import ReplyWriter
from bot.pipeline.route import open_request
from bot.pipeline.status import NEEDS_ANSWER, NEEDS_URL, StatusError, parse_expected, set_status
from bot.pipeline.titles import TitleError, set_public_title
from bot.web import i18n
from bot.web.views import safe_href
from storage import queries
from storage.models import REQUEST_STATUSES, LabelDecision, Message, Reply, Request, StatusEvent, utcnow

# A request still open to "this was not a data request after all".
UNDECIDED = ("received", "under_review")


class DecisionError(ValueError):
    """Refused; `key` and `values` make the message in the officer's language."""

    def __init__(self, key: str, **values: object):
        super().__init__(key)
        self.key = key
        self.values = values


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise DecisionError("error.no_message", id=message_id)
    return message


def _label(session: Session, message: Message, label: str, officer: str) -> None:
    """The officer's word on a message, kept as training data for the next model."""
    session.add(LabelDecision(
        message_id=message.id, label=label, officer=officer,
        previous_label=message.label, previous_score=message.score,
    ))
    message.label = label
    message.needs_review = False


def confirm_request(session: Session, message_id: int, *, officer: str, writer: ReplyWriter) -> Request:
    """A data request after all: label it, and open its request (acknowledged) if it has none."""
    message = _message(session, message_id)
    if message.request_id is None:
        # Claimed like the router does, so it never opens a second request for this message.
        won = queries.claim(
            session, Message, message.id, where=[Message.request_id.is_(None)],
            values={"routed_at": func.coalesce(Message.routed_at, utcnow())},
        )
        session.refresh(message)
        _label(session, message, "data_request", officer)
        if won:
            open_request(session, message, writer=writer)
    else:
        _label(session, message, "data_request", officer)
    session.flush()
    request = message.request
    if request is None:  # a lost claim means another worker routed it, so it has one
        raise RuntimeError(f"message {message_id} confirmed without a request")
    return request


def mark_off_topic(session: Session, message_id: int, *, officer: str, writer: ReplyWriter) -> str:
    """Not a data request. Returns what happened to its request, if it had one.

    - no request: only the label changes (and the router will not open one);
    - its request has other supporters: the message leaves it;
    - it was the request's only message, still undecided: the request is
      `declined` with a short answer in the requester's language, because they
      were told their data request was logged;
    - its only request is already decided: refused, change the status instead.
    """
    message = _message(session, message_id)
    request = message.request
    others = 0
    if request is not None:
        others = session.scalar(
            select(func.count()).where(Message.request_id == request.id, Message.id != message.id)
        ) or 0
        if not others and request.status not in UNDECIDED:
            raise DecisionError("error.off_topic_decided", id=request.id, status=request.status)
    if message.routed_at is None:
        message.routed_at = utcnow()
    _label(session, message, "off_topic", officer)
    if request is None:
        return "labelled"
    if others:
        message.request_id = None
        return "detached"
    answer = i18n.translate(writer.language(message.requester), "answer.not_a_request")
    set_status(session, request.id, "declined", actor=officer, writer=writer, answer=answer)
    request.not_a_request = True  # it leaves the dashboard and the exports
    return "declined"


def change_status(
    session: Session,
    request_id: int,
    status: str,
    *,
    officer: str,
    writer: ReplyWriter,
    answer: str | None = None,
    url: str | None = None,
    duplicate_of: int | None = None,
    reopen: bool = False,
    expected: str | None = None,
) -> StatusEvent:
    """A status event with its replies; reviewing the request also settles its uncertain messages.

    What may change is decided by `bot.pipeline.status.check_change`, as on the command line.
    """
    answer, url = (answer or "").strip() or None, (url or "").strip() or None
    if status not in REQUEST_STATUSES:
        raise DecisionError("error.unknown_status", status=status)
    if status in NEEDS_URL and not url:
        raise DecisionError("error.needs_url", id=request_id, status=status)
    if url and not safe_href(url):
        raise DecisionError("error.bad_url", url=url)
    if status in NEEDS_ANSWER and not answer:
        raise DecisionError("error.needs_answer", id=request_id, status=status)
    if status == "duplicate" and duplicate_of is None:
        raise DecisionError("error.needs_target", id=request_id)
    if status != "duplicate":
        duplicate_of = None
    expected_date = _expected_date(expected) if status == "accepted" else None
    uncertain = session.scalars(
        select(Message).where(Message.request_id == request_id, Message.needs_review.is_(True))
    ).all()
    for message in uncertain:
        _label(session, message, "data_request", officer)
    try:
        return set_status(
            session, request_id, status, actor=officer, writer=writer,
            answer=answer, url=url, duplicate_of=duplicate_of, reopen=reopen, expected=expected_date,
        )
    except StatusError as exc:
        raise DecisionError("error.status", reason=str(exc)) from None


def _expected_date(value: str | None) -> date | None:
    try:
        return parse_expected(value)
    except ValueError:
        raise DecisionError("error.bad_date", value=(value or "").strip()) from None


def rename(session: Session, request_id: int, title: str) -> Request:
    """The public title the officer wrote or approved; empty withdraws it (the public sees a neutral one)."""
    try:
        return set_public_title(session, request_id, title)
    except TitleError:
        raise DecisionError("error.no_request", id=request_id) from None


def _reply_of(session: Session, request_id: int, reply_id: int) -> None:
    """Refused unless the reply belongs to this request or one merged into it."""
    merged = select(Request.id).where(Request.duplicate_of_id == request_id)
    belongs = session.scalar(
        select(Reply.id).join(StatusEvent).where(
            Reply.id == reply_id, or_(StatusEvent.request_id == request_id, StatusEvent.request_id.in_(merged))
        )
    )
    if belongs is None:
        raise DecisionError("error.no_reply", id=reply_id)


def retry_reply(session: Session, request_id: int, reply_id: int) -> Reply:
    """A dead or unknown reply goes back to the outbox with fresh attempts, unless its requester left.

    The officer is asked to check first that it did not go out.
    """
    _reply_of(session, request_id, reply_id)
    try:
        return reply_checks.resend(session, reply_id)
    except reply_checks.ReplyCheckError as exc:
        raise DecisionError("error.reply", reason=str(exc)) from None


def mark_reply_sent(session: Session, request_id: int, reply_id: int, *, officer: str) -> Reply:
    """The officer found an unknown (or dead) reply on the network: it counts as sent."""
    _reply_of(session, request_id, reply_id)
    try:
        return reply_checks.mark_sent(session, reply_id, officer=officer)
    except reply_checks.ReplyCheckError as exc:
        raise DecisionError("error.reply", reason=str(exc)) from None
