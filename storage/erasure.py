"""Erasing a requester: their personal data goes, the public record stays.

A person may ask to be forgotten. Their handle, user id, message texts and
links go; requests, status events and supporter counts stay, because they are
the public record of what was asked and answered. Nothing is sent to them
afterwards. The message's network id stays, so fetching the same message
again is recognised and not stored a second time.

Their words leave every other place too: a draft title made from their
message becomes "Request #N"; a public title that repeats five words in a row
of their messages (an approved draft, a quote) is withdrawn, so the public
sees a neutral title until an officer writes a new one, while an officer's
own wording stays; the suggestions computed for those requests are deleted;
the texts of the replies written to them are blanked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Message, Reply, Request, Requester, Suggestion, utcnow
from storage.notes import erase_notes_quoting
from storage.public_titles import neutral_title
from storage.queries import TOMBSTONE_PREFIX, changed_rows, drop_waiting_replies
from storage.quotes import word_runs

ERASED_TEXT = "[erased]"
ERASED_REASON = "requester erased"


class RequesterNotFound(LookupError):
    """Nobody, or more than one person, answers to that name; the message says which."""


@dataclass(frozen=True)
class Erasure:
    requester_id: int
    messages: int
    replies_dropped: int
    already_erased: bool


def tombstone(requester_id: int) -> str:
    return f"{TOMBSTONE_PREFIX}{requester_id}"


def is_erased(requester: Requester) -> bool:
    return requester.external_user_id == tombstone(requester.id)


def find_requester(session: Session, network: str, who: str) -> Requester:
    """The requester on `network` whose user id or handle (with or without @, any case) is `who`."""
    by_id = session.scalar(
        select(Requester).where(Requester.network == network, Requester.external_user_id == who)
    )
    if by_id is not None:
        return by_id
    bare = who.strip().lstrip("@").lower()
    matches = session.scalars(
        select(Requester)
        .where(Requester.network == network, func.lower(Requester.handle).in_([bare, f"@{bare}"]))
        .order_by(Requester.id)
    ).all()
    if not matches:
        raise RequesterNotFound(f"no requester {who} on {network} (an erased one is known only as erased-ID)")
    if len(matches) > 1:
        ids = ", ".join(m.external_user_id for m in matches)
        raise RequesterNotFound(f"{who} on {network} is more than one person (user ids {ids}); give the user id")
    return matches[0]


def erase_requester(session: Session, requester: Requester) -> Erasure:
    """Erase in the caller's transaction; safe to repeat."""
    session.refresh(requester, with_for_update=True)  # concurrent erasures of one person queue up
    already = is_erased(requester)
    erase_notes_quoting(session, requester)  # before the handle and texts it recognises go
    requester.external_user_id = tombstone(requester.id)
    requester.handle = None
    requester.opted_out = True
    requester.consented_public = False
    _forget_words_in_requests(session, requester.id)
    messages = _blank_messages(session, requester.id)
    session.execute(
        update(Reply).where(Reply.requester_id == requester.id).values(text=ERASED_TEXT)
        .execution_options(synchronize_session=False)
    )
    dropped = drop_waiting_replies(session, requester_id=requester.id, reason=ERASED_REASON)
    session.flush()
    return Erasure(requester.id, messages, dropped, already)


def _forget_words_in_requests(session: Session, requester_id: int) -> None:
    """Titles made from or quoting the person's messages go neutral; their requests' suggestions go."""
    rows = session.execute(select(Message.id, Message.text, Message.request_id).where(
        Message.requester_id == requester_id
    )).all()
    if not rows:
        return
    message_ids = [row.id for row in rows]
    runs = set().union(*(word_runs(row.text) for row in rows))
    requests = session.scalars(select(Request).where(or_(
        Request.id.in_({row.request_id for row in rows if row.request_id is not None}),
        Request.title_message_id.in_(message_ids),
    ))).all()
    for request in requests:
        from_them = request.title_message_id in message_ids or bool(word_runs(request.title) & runs)
        if request.public_title and (
            word_runs(request.public_title) & runs or (from_them and request.public_title == request.title)
        ):
            request.public_title = None  # an approved draft or a quote: a new title needs an officer
        if from_them:
            request.title = neutral_title(request.id)
    ids = [request.id for request in requests]
    session.execute(
        delete(Suggestion).where(or_(
            Suggestion.request_id.in_(ids), Suggestion.target.in_([f"request:{i}" for i in ids])
        )).execution_options(synchronize_session=False)
    )


def _blank_messages(session: Session, requester_id: int) -> int:
    """Blank the texts and links; a message not yet processed leaves the pipeline as it is."""
    now = utcnow()
    owned = Message.requester_id == requester_id
    for column in (Message.classified_at, Message.routed_at):
        session.execute(
            update(Message).where(owned, column.is_(None)).values({column: now})
            .execution_options(synchronize_session=False)
        )
    return changed_rows(
        session,
        update(Message).where(owned).values(text=ERASED_TEXT, url=None, needs_review=False)
        .execution_options(synchronize_session=False),
    )


def set_public_consent(requester: Requester, public: bool) -> None:
    """Record whether the public dashboard may show this person's handle and words."""
    if public and is_erased(requester):
        raise RequesterNotFound(f"requester #{requester.id} was erased; there is nothing of theirs to show")
    requester.consented_public = public
