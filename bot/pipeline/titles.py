"""An officer writes or approves the public title of a request (web page and `request set-title`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.redact import redact
from storage.models import Request

MAX_LENGTH = 300


class TitleError(ValueError):
    """Refused; the message says why, for the officer."""


def set_public_title(session: Session, request_id: int, title: str) -> Request:
    """Store the approved title, in the caller's transaction; empty withdraws it.

    Handles, links, e-mails and phone numbers are removed even from a title an
    officer typed, as from the draft: the public never reads them.
    """
    request = session.get(Request, request_id)
    if request is None:
        raise TitleError(f"no request #{request_id}")
    request.public_title = redact(title)[:MAX_LENGTH] or None
    return request
