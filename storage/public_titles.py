"""What the public may read of a request's words: an approved title, or a neutral one.

A request's `title` is a draft made from the first message (handles, links,
e-mails and phones removed, but names and addresses kept): only officers see
it. The public sees `public_title`, which an officer wrote or approved; until
then a neutral "Request #N" in the reader's language, unless the person who
wrote the first message consented to be shown (`requester consent --public`),
whose own words the draft is. Replies to that person may quote their own words.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Message, Request, Requester
from storage.queries import erased_requester

NEUTRAL = {"fr": "Demande n° {id}", "en": "Request #{id}"}
# Exports and other language-free places use the English form.
EXPORT_LANGUAGE = "en"


def neutral_title(request_id: int, lang: str = EXPORT_LANGUAGE) -> str:
    return NEUTRAL.get(lang, NEUTRAL[EXPORT_LANGUAGE]).format(id=request_id)


def consented_drafts(session: Session, request_ids: Iterable[int]) -> set[int]:
    """The requests whose draft may be shown: its author consented and was not erased."""
    ids = list(request_ids)
    if not ids:
        return set()
    return set(session.scalars(
        select(Request.id)
        .join(Message, Message.id == Request.title_message_id)
        .join(Requester, Requester.id == Message.requester_id)
        .where(Request.id.in_(ids), Requester.consented_public.is_(True), ~erased_requester())
    ))


def shown_title(request: Request, *, draft_consented: bool, lang: str = EXPORT_LANGUAGE) -> str:
    """The one title a non-officer may read."""
    if request.public_title:
        return request.public_title
    if draft_consented:
        return request.title
    return neutral_title(request.id, lang)


def public_titles(session: Session, requests: Iterable[Request], *, lang: str = EXPORT_LANGUAGE) -> dict[int, str]:
    """Request id -> the title the public sees, for many requests in one query."""
    requests = list(requests)
    consented = consented_drafts(session, [r.id for r in requests if not r.public_title])
    return {r.id: shown_title(r, draft_consented=r.id in consented, lang=lang) for r in requests}


def title_for(session: Session, request: Request, *, requester_id: int | None, lang: str) -> str:
    """The title to quote to `requester_id`: their own words if the draft is theirs, else the public one."""
    if request.title_message_id is not None and requester_id is not None and not request.public_title:
        author = session.scalar(select(Message.requester_id).where(Message.id == request.title_message_id))
        if author == requester_id:
            return request.title
    return public_titles(session, [request], lang=lang)[request.id]
