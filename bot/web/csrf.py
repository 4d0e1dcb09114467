"""One CSRF token per session, in a hidden field of every form, checked on every POST.

SameSite=Lax cookies already stop most cross-site posts; the token also covers
old browsers and same-site attackers (another app on a sibling subdomain).
"""

from __future__ import annotations

import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

FIELD = "csrf_token"


def token(request: Request) -> str:
    """The session's token, made on first need (so public pages set no cookie)."""
    value = request.session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        request.session["csrf"] = value
    return value


def valid(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get(FIELD)
    return isinstance(expected, str) and isinstance(given, str) and secrets.compare_digest(expected, given)
