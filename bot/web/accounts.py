"""Officer accounts: argon2 password hashes, the account lock, sessions, the per-address login limiter.

Accounts need no HTTP, so `datacall user add` and the login page share the same rules.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.requests import Request as HTTPRequest

from storage.models import USER_ROLES, Request, User, utcnow

MAX_FAILURES = 5  # failed logins in a row before the account is locked
LOCK_TIME = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 10

hasher = PasswordHasher()
clock = time.time  # seconds; the sessions' absolute lifetime is counted with it (tests move it)


class AccountError(ValueError):
    """The account cannot be created as asked; the message says why."""


@cache
def _dummy_hash() -> str:
    return hasher.hash("no such user, same cost")


def create_user(session: Session, name: str, password: str, role: str, *, update: bool = False) -> User:
    """A new officer account (or, with `update`, a new password and role that also unlock it)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("the name must have 1 to 100 characters")
    if role not in USER_ROLES:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = session.scalar(select(User).where(User.name == name))
    if user is not None and not update:
        raise AccountError(f"user {name!r} already exists (use --update to change the password or role)")
    existing = user is not None
    if user is None:
        user = User(name=name)
        session.add(user)
    user.password_hash = hasher.hash(password)
    user.role = role
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    if existing:  # a new password: whoever held the old one is signed out everywhere
        end_sessions(session, user)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        raise AccountError(f"no user {name!r}")
    return user


def set_role(session: Session, user: User, role: str) -> None:
    if role not in USER_ROLES:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(USER_ROLES)}")
    if user.role == "admin" and role != "admin":
        _keep_an_admin(session, user)
    user.role = role
    session.flush()


def reset_password(session: Session, user: User, password: str) -> None:
    """A new password; it also unlocks the account and ends its open sessions."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hasher.hash(password)
    unlock(user)
    session.flush()
    end_sessions(session, user)


def unlock(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def remove_user(session: Session, user: User) -> None:
    """The account goes; what its owner decided stays (events and notes keep the name), assignments are freed."""
    if user.role == "admin":
        _keep_an_admin(session, user)
    session.execute(update(Request).where(Request.assignee_id == user.id).values(assignee_id=None)
                    .execution_options(synchronize_session=False))
    session.delete(user)
    session.flush()


def _keep_an_admin(session: Session, user: User) -> None:
    others = session.scalar(select(func.count()).where(User.role == "admin", User.id != user.id))
    if not others:
        raise AccountError(f"{user.name} is the last admin; make another admin first")


def authenticate(session: Session, name: str, password: str, *, now: datetime | None = None) -> User | None:
    """The user if the password is right and the account not locked; counts failures (caller commits).

    Every failure costs one password check, whether the name is unknown, the
    account locked or the password wrong, so the time taken reveals nothing.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.name == name.strip()).with_for_update())
    if user is None:
        _verify(_dummy_hash(), password)  # same cost whether the name exists or not
        return None
    if user.locked_until is not None and user.locked_until > now:
        _verify(user.password_hash, password)  # the cost of a wrong password; the answer is not used
        return None
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_TIME
            user.failed_logins = 0
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(session: Session, user: User) -> None:
    """Every session of this user ends now, on every device and copy of the cookie (caller commits)."""
    session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    session.refresh(user)


def log_in(request: HTTPRequest, user: User) -> None:
    request.session.clear()  # a fresh session, and a fresh CSRF token, at every login
    request.session["uid"] = user.id
    request.session["version"] = user.session_version
    request.session["since"] = int(clock())


def current_user(request: HTTPRequest, session: Session) -> User | None:
    """The signed-in officer, re-read from the database so a role change or a revocation applies at once.

    The cookie is renewed by every response, so its own expiry slides; `since`
    gives the session an absolute end. A session that has ended is cleared, so
    the response deletes the cookie instead of renewing it.
    """
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = session.get(User, user_id)
    since = request.session.get("since")
    valid = (
        user is not None
        and request.session.get("version") == user.session_version
        and isinstance(since, int)
        and 0 <= clock() - since < request.app.state.session_seconds
    )
    if not valid:
        request.session.clear()
        return None
    return user


class LoginLimiter:
    """Failed logins per client address over a sliding window, in memory (one process)."""

    def __init__(self, max_failures: int = 20, window_seconds: float = 300.0, max_clients: int = 10_000):
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client)) >= self.max_failures

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) >= self.max_clients:
                self._forget_old()
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures[client]
        cutoff = time.monotonic() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def _forget_old(self) -> None:
        for client in list(self._failures):
            if not self._recent(client):
                del self._failures[client]
        if len(self._failures) >= self.max_clients:  # a flood of addresses: bounded memory first
            self._failures.clear()
