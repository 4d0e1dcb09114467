"""Officers' internal notes on a request: never on a public page, never in an export.

A note may quote a requester ("@camille asked for hourly counts"): when that
person is erased, the notes of the requests they supported that name them or
quote their words are blanked with the rest of their personal data.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Message, Requester, RequestNote
from storage.quotes import QUOTE_WORDS, word_runs, words

ERASED_NOTE = "[erased]"
MAX_LENGTH = 4000


class NoteError(ValueError):
    """The note cannot be kept; the message says why."""


def add_note(session: Session, *, request_id: int, author: str, text: str) -> RequestNote:
    text = text.strip()
    if not text:
        raise NoteError("a note needs some text")
    note = RequestNote(request_id=request_id, author=author, text=text[:MAX_LENGTH])
    session.add(note)
    session.flush()
    return note


def notes_for(session: Session, *, request_id: int) -> list[RequestNote]:
    return list(session.scalars(
        select(RequestNote).where(RequestNote.request_id == request_id).order_by(RequestNote.id)
    ))


def erase_notes_quoting(session: Session, requester: Requester) -> int:
    """Blank the notes (on the requests this person supports) that name them or quote them; returns how many.

    Runs before the handle and the messages are blanked, since it needs them to recognise a quote.
    """
    request_ids = select(Message.request_id).distinct().where(
        Message.requester_id == requester.id, Message.request_id.is_not(None)
    )
    notes = session.scalars(select(RequestNote).where(RequestNote.request_id.in_(request_ids))).all()
    if not notes:
        return 0
    texts = session.scalars(select(Message.text).where(Message.requester_id == requester.id)).all()
    names = {requester.external_user_id.lower()}
    if requester.handle:
        names.add(requester.handle.lower().lstrip("@"))
    quotes = {" " + " ".join(shingle) + " " for text in texts for shingle in _shingles(text)}
    erased = 0
    for note in notes:
        lowered, note_words = note.text.lower(), " " + " ".join(words(note.text)) + " "
        if any(_names(lowered, name) for name in names) or any(quote in note_words for quote in quotes):
            note.text = ERASED_NOTE
            erased += 1
    session.flush()
    return erased


def _shingles(text: str) -> set[tuple[str, ...]]:
    """The quote runs of a message; a message shorter than a run is one run (two words at least)."""
    found = words(text)
    if len(found) < QUOTE_WORDS:
        return {tuple(found)} if len(found) >= 2 else set()
    return word_runs(text)


def _names(text: str, name: str) -> bool:
    return bool(name) and re.search(r"(?<![\w])@?" + re.escape(name) + r"(?![\w])", text) is not None
