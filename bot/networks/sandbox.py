"""The sandbox network: a real connector whose timeline is a table in the database.

It powers `datacall demo` and the end-to-end tests: citizens' messages are
injected with `say`, and what the bot posted is read back with `timeline`.

SQLAlchemy and the models are imported where the timeline is read, not at the top: the config
imports this module for `SandboxConfig`, and `datacall classify` loads the config without
needing any database code.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import NetworkConfig
from bot.networks.base import (
    NOT_FOUND,
    Batch,
    Connector,
    Incoming,
    Lookup,
    NetworkError,
    OutgoingReply,
    PollResult,
    PostRef,
    ReplyTarget,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from storage.models import SandboxEntry

BOT_ID = "0"
BOT_HANDLE = "@datacall"


class SandboxConfig(NetworkConfig):
    """`[networks.sandbox]`: on unless turned off, since it needs nothing but the database."""

    enabled: bool = True
    # Native polls for the relevance survey; false: a numbered text post answered with "+N".
    polls: bool = True


class SandboxConnector(Connector):
    name = "sandbox"
    config_model = SandboxConfig
    idempotent_sends = True
    finds_own_replies = True  # the timeline is a table
    finds_own_posts = True

    def __init__(
        self, sessions: sessionmaker[Session], *, max_length: int = 500, page_size: int = 200, polls: bool = True
    ):
        self.sessions = sessions
        self.max_length = max_length
        self.page_size = page_size
        # Like Mastodon: 4 options of 50 characters. Without polls the survey is a numbered text post.
        self.poll_options = 4 if polls else 0
        self.poll_option_length = 50

    @classmethod
    def from_config(
        cls, settings: NetworkConfig, environ: Mapping[str, str], *, sessions: sessionmaker[Session] | None = None
    ) -> SandboxConnector:
        """The timeline lives in datacall's own database: `sessions` is required."""
        if sessions is None:
            raise ValueError("the sandbox network keeps its timeline in the database: pass sessions")
        assert isinstance(settings, SandboxConfig)
        return cls(sessions, max_length=settings.max_length, polls=settings.polls)

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        return self._publish(text, idempotency_key=idempotency_key)

    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        from sqlalchemy import select

        from storage.models import SandboxEntry

        after = int(cursor or 0)
        with self.sessions() as session:
            entries = session.scalars(
                select(SandboxEntry)
                .where(SandboxEntry.id > after, SandboxEntry.from_bot.is_(False))
                .order_by(SandboxEntry.id)
                .limit(self.page_size)
            ).all()
        messages = tuple(_incoming(entry) for entry in entries)
        return Batch(messages, str(entries[-1].id) if entries else cursor, more=len(entries) == self.page_size)

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        return self._publish(
            text,
            idempotency_key=idempotency_key,
            in_reply_to_id=int(target.external_id),
            is_private=target.is_private,
        )

    def reply_all(
        self, replies: Sequence[OutgoingReply], *, stop: Callable[[], bool] = lambda: False
    ) -> list[PostRef | Exception]:
        """Every reply in one transaction: the timeline takes the whole group at once (or, if it fails, none)."""
        from sqlalchemy import insert, select

        from storage.models import SandboxEntry

        outcomes: list[PostRef | Exception | None] = [None] * len(replies)
        fresh: dict[str, int] = {}  # idempotency key -> index of the first reply that publishes it
        for index, outgoing in enumerate(replies):
            outcomes[index] = self._too_long(outgoing.text)
            if outcomes[index] is None:
                fresh.setdefault(outgoing.idempotency_key, index)
        try:
            with self.sessions() as session, session.begin():
                existing = dict(session.execute(
                    select(SandboxEntry.idempotency_key, SandboxEntry.id)
                    .where(SandboxEntry.idempotency_key.in_(list(fresh)))
                ).all()) if fresh else {}
                new = [index for key, index in fresh.items() if key not in existing]
                ids = session.scalars(insert(SandboxEntry).returning(SandboxEntry.id, sort_by_parameter_order=True), [
                    {"author_id": BOT_ID, "handle": BOT_HANDLE, "text": replies[index].text,
                     "in_reply_to_id": int(replies[index].target.external_id),
                     "is_private": replies[index].target.is_private, "from_bot": True,
                     "idempotency_key": replies[index].idempotency_key, "poll": None}
                    for index in new
                ]).all() if new else []
        except Exception as exc:  # noqa: BLE001 - nothing was published: every reply failed alike
            return [exc if outcome is None else outcome for outcome in outcomes]
        # A key published before, or twice in this group: the network keeps one entry.
        entries = dict(existing)
        entries.update((replies[index].idempotency_key, entry_id) for index, entry_id in zip(new, ids, strict=True))
        return [
            PostRef(str(entries[outgoing.idempotency_key]), entry_url(entries[outgoing.idempotency_key]))
            if outcome is None else outcome
            for outcome, outgoing in zip(outcomes, replies, strict=True)
        ]

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        if not self.poll_options:
            raise NotImplementedError("sandbox polls are turned off ([networks.sandbox] polls = false)")
        if not 2 <= len(options) <= self.poll_options or any(len(o) > self.poll_option_length for o in options):
            raise NetworkError(f"sandbox polls take 2 to {self.poll_options} options of up to "
                               f"{self.poll_option_length} characters", permanent=True)
        poll = {"options": list(options), "votes": [0] * len(options), "closed": False}
        return self._publish(question, idempotency_key=idempotency_key, poll=poll)

    def poll_results(self, external_id: str) -> PollResult:
        """Close the poll (no vote counts after its end) and return its votes."""
        from storage.models import SandboxEntry

        with self.sessions() as session, session.begin():
            entry = session.get(SandboxEntry, int(external_id), with_for_update=True)
            if entry is None or entry.poll is None:
                raise NetworkError(f"sandbox entry {external_id} has no poll", permanent=True)
            entry.poll = {**entry.poll, "closed": True}
            return PollResult(votes=tuple(entry.poll["votes"]), closed=True)

    def find_own_reply(self, target: ReplyTarget, *, since: datetime, known: Collection[str] = ()) -> Lookup:
        """The bot's timeline entries answering `target` since `since`, oldest first."""
        from sqlalchemy import select

        from storage.models import SandboxEntry

        with self.sessions() as session:
            entry_id = session.scalar(
                select(SandboxEntry.id)
                .where(
                    SandboxEntry.from_bot.is_(True),
                    SandboxEntry.in_reply_to_id == int(target.external_id),
                    SandboxEntry.created_at >= since,
                    SandboxEntry.id.not_in([int(ref) for ref in known if ref.isdigit()]),
                )
                .order_by(SandboxEntry.id)
            )
        return Lookup(checked=True, found=PostRef(str(entry_id), entry_url(entry_id))) if entry_id else NOT_FOUND

    def find_own_post(
        self, text: str, *, since: datetime, known: Collection[str] = (), poll_options: Sequence[str] = ()
    ) -> Lookup:
        """The bot's oldest timeline entry since `since` that is not a reply, with this text, and with a poll
        of exactly `poll_options` if any, else none."""
        from sqlalchemy import select

        from storage.models import SandboxEntry

        with self.sessions() as session:
            entries = session.execute(
                select(SandboxEntry.id, SandboxEntry.poll)
                .where(
                    SandboxEntry.from_bot.is_(True),
                    SandboxEntry.in_reply_to_id.is_(None),
                    SandboxEntry.text == text,
                    SandboxEntry.created_at >= since,
                    SandboxEntry.id.not_in([int(ref) for ref in known if ref.isdigit()]),
                )
                .order_by(SandboxEntry.id)
            ).all()
        wanted = list(poll_options)
        entry_id = next((entry_id for entry_id, poll in entries if (poll or {}).get("options", []) == wanted), None)
        return Lookup(checked=True, found=PostRef(str(entry_id), entry_url(entry_id))) if entry_id else NOT_FOUND

    def whoami(self) -> str:
        from sqlalchemy import select

        from storage.models import SandboxEntry

        with self.sessions() as session:
            session.scalar(select(SandboxEntry.id).limit(1))  # the timeline table is reachable
        return BOT_HANDLE

    def _too_long(self, text: str) -> ValueError | None:
        """The error of a post over the sandbox's length limit, or None."""
        if len(text) > self.max_length:
            return ValueError(f"sandbox post of {len(text)} characters exceeds {self.max_length}")
        return None

    def _publish(self, text, *, idempotency_key, in_reply_to_id=None, is_private=False, poll=None) -> PostRef:
        from sqlalchemy import select

        from storage.models import SandboxEntry

        if error := self._too_long(text):
            raise error
        with self.sessions() as session, session.begin():
            existing = session.scalar(
                select(SandboxEntry).where(SandboxEntry.idempotency_key == idempotency_key)
            )
            if existing is not None:  # the same send again: the network keeps one
                return PostRef(str(existing.id), entry_url(existing.id))
            entry = SandboxEntry(
                author_id=BOT_ID,
                handle=BOT_HANDLE,
                text=text,
                in_reply_to_id=in_reply_to_id,
                is_private=is_private,
                from_bot=True,
                idempotency_key=idempotency_key,
                poll=poll,
            )
            session.add(entry)
            session.flush()
            return PostRef(str(entry.id), entry_url(entry.id))


def entry_url(entry_id: int) -> str:
    return f"sandbox://entries/{entry_id}"


def _incoming(entry: SandboxEntry) -> Incoming:
    return Incoming(
        external_id=str(entry.id),
        author_id=entry.author_id,
        author_handle=entry.handle,
        text=entry.text,
        sent_at=entry.created_at,
        in_reply_to_id=str(entry.in_reply_to_id) if entry.in_reply_to_id else None,
        url=entry_url(entry.id),
        is_private=entry.is_private,
    )


def say(
    session: Session,
    handle: str,
    text: str,
    *,
    in_reply_to_id: int | None = None,
    is_private: bool = False,
) -> SandboxEntry:
    """A citizen writes on the sandbox network (the caller commits)."""
    from storage.models import SandboxEntry

    entry = SandboxEntry(
        author_id=f"u-{handle.lstrip('@').lower()}",
        handle=handle,
        text=text,
        in_reply_to_id=in_reply_to_id,
        is_private=is_private,
    )
    session.add(entry)
    session.flush()
    return entry


def vote(session: Session, entry_id: int, option_index: int, voters: int = 1) -> None:
    """Citizens vote in a poll the bot posted (the caller commits); a closed poll takes no vote."""
    from storage.models import SandboxEntry

    entry = session.get(SandboxEntry, entry_id, with_for_update=True)
    if entry is None or entry.poll is None or entry.poll["closed"]:
        return
    votes = list(entry.poll["votes"])
    votes[option_index] += voters
    entry.poll = {**entry.poll, "votes": votes}  # a new dict: SQLAlchemy sees the change
    session.flush()


def timeline(session: Session, *, from_bot: bool | None = None) -> list[SandboxEntry]:
    """Everything on the sandbox network, oldest first."""
    from sqlalchemy import select

    from storage.models import SandboxEntry

    query = select(SandboxEntry).order_by(SandboxEntry.id)
    if from_bot is not None:
        query = query.where(SandboxEntry.from_bot.is_(from_bot))
    return list(session.scalars(query))
