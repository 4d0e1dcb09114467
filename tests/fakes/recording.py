"""A network that keeps every send, repeated idempotency keys included, as X and Telegram do.

The sandbox drops a second send with the same key, so a worker race or a
resend would go unnoticed on it. `RecordingConnector` reads citizens' messages
from the sandbox timeline (so `say` still feeds it) but appends every reply and
post and poll as a new timeline entry and to a `SendLog`: a test counts sends per key.
The `recording` fixture puts it in place of the sandbox in every runtime
built from a config, the CLI's included.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

import bot.networks.registry
from bot.networks.base import Connector, PostRef, ReplyTarget
from bot.networks.sandbox import BOT_HANDLE, BOT_ID, SandboxConnector, entry_url
from storage.models import SandboxEntry


@dataclass(frozen=True)
class Send:
    kind: str  # "reply", "post" or "poll"
    idempotency_key: str
    in_reply_to: str | None
    text: str


@dataclass
class SendLog:
    """Every send that reached the network, in order; safe to share between worker threads."""

    sends: list[Send] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, send: Send) -> None:
        with self._lock:
            self.sends.append(send)

    def per_key(self, kind: str = "reply") -> Counter:
        with self._lock:
            return Counter(send.idempotency_key for send in self.sends if send.kind == kind)

    def repeated(self, kind: str = "reply") -> dict[str, int]:
        """Keys sent more than once: a citizen told the same thing twice."""
        return {key: n for key, n in self.per_key(kind).items() if n > 1}


class RecordingConnector(SandboxConnector):
    """The sandbox without its safety net: no idempotency, every send recorded."""

    idempotent_sends = False
    # Like Telegram it cannot list what it sent; a test sets these True to play X, whose own
    # timeline is searched (the sandbox's timeline table here) before a taken-back reply or post is resent.
    finds_own_replies = False
    finds_own_posts = False
    # One reply at a time through `reply` (which tests wrap), not the sandbox's one-transaction group.
    reply_all = Connector.reply_all

    def __init__(self, sessions, *, log: SendLog, barrier: threading.Barrier | None = None, **kwargs):
        super().__init__(sessions, **kwargs)
        self.log = log
        # Holds each sender until another worker is sending too, so their sends overlap.
        self.barrier = barrier

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        ref = self._append(text, in_reply_to_id=None, is_private=False)
        self.log.add(Send("post", idempotency_key, None, text))
        return ref

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        poll = {"options": list(options), "votes": [0] * len(options), "closed": False}
        ref = self._append(question, in_reply_to_id=None, is_private=False, poll=poll)
        self.log.add(Send("poll", idempotency_key, None, question))
        return ref

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        if self.barrier is not None:
            try:
                self.barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                self.barrier.reset()  # the other worker had nothing to send: go on alone
        ref = self._append(text, in_reply_to_id=int(target.external_id), is_private=target.is_private)
        self.log.add(Send("reply", idempotency_key, target.external_id, text))
        return ref

    def _append(self, text: str, *, in_reply_to_id: int | None, is_private: bool, poll: dict | None = None) -> PostRef:
        if len(text) > self.max_length:
            raise ValueError(f"post of {len(text)} characters exceeds {self.max_length}")
        with self.sessions() as session, session.begin():
            entry = SandboxEntry(
                author_id=BOT_ID, handle=BOT_HANDLE, text=text, in_reply_to_id=in_reply_to_id,
                is_private=is_private, from_bot=True, idempotency_key=None, poll=poll,
            )
            session.add(entry)
            session.flush()
            return PostRef(str(entry.id), entry_url(entry.id))


@pytest.fixture
def recording(monkeypatch) -> SendLog:
    """Every runtime built from now on talks to a RecordingConnector where the config says sandbox."""
    log = SendLog()

    class Recording(RecordingConnector):
        @classmethod
        def from_config(cls, settings, environ, *, sessions=None):
            return cls(sessions, log=log, max_length=settings.max_length, polls=settings.polls)

    found = bot.networks.registry.connector_class

    def connector_class(name, networks=None):
        return Recording if name == "sandbox" else found(name, networks)

    monkeypatch.setattr(bot.networks.registry, "connector_class", connector_class)
    return log
