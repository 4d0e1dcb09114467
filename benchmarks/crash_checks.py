"""What the crash harness checks after the last run, and how long replies waited after each restart.

`OutboxWatch` samples the outbox from the harness process while `datacall run`
lives and dies, so the wait of a reply is seen from outside: from the first
restart after it was due (or from its due time, if no process died meanwhile)
until it left the outbox (sent, or handed to an officer as `unknown`/`dead`).
A reply still waiting at the end waits until the end. The limit applies to the
replies a kill caught claimed (`sending`): whether claims left by a dead worker
are taken back quickly. Every other due reply's wait is reported too: after
many short lives it also measures the backlog the final run has to drain.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.crash_networks import Fed
from storage.models import Message, Reply

WAITING = ("pending", "failed", "sending")
# Outcomes an officer settles (`datacall reply mark-sent|resend`): not lost, but no automatic answer either.
FOR_AN_OFFICER = ("unknown", "dead")


def epoch(moment: datetime) -> float:
    """The database's naive UTC times as epoch seconds, comparable with time.time()."""
    return moment.replace(tzinfo=UTC).timestamp()


@dataclass
class Seen:
    created: float
    due: float
    left_at: float | None = None  # when it was first seen out of the outbox
    caught_at: float | None = None  # when a kill first found it claimed (`sending`)


@dataclass
class OutboxWatch:
    """A thread that samples every reply's state every `interval` seconds."""

    sessions: sessionmaker[Session]
    interval: float = 0.25
    replies: dict[int, Seen] = field(default_factory=dict)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="outbox-watch", daemon=True)

    def __enter__(self) -> OutboxWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()  # the final state, after the last run stopped

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a busy database: the next sample sees the same rows
                self.errors += 1

    def sample(self, *, killed_at: float | None = None) -> None:
        """Read every reply's state; `killed_at`: the process just died, its claims are caught."""
        now = time.time()
        with self.sessions() as session:
            rows = session.execute(select(Reply.id, Reply.state, Reply.created_at, Reply.next_attempt_at)).all()
        with self._lock:
            for reply_id, state, created_at, next_attempt_at in rows:
                seen = self.replies.setdefault(reply_id, Seen(epoch(created_at), epoch(next_attempt_at)))
                if state in WAITING:
                    seen.due, seen.left_at = epoch(next_attempt_at), None
                elif seen.left_at is None:
                    seen.left_at = now
                if killed_at is not None and state == "sending" and seen.caught_at is None:
                    seen.caught_at = killed_at


@dataclass(frozen=True)
class Wait:
    reply_id: int
    seconds: float
    after_restart: bool  # it was there when a killed process was replaced
    still_waiting: bool
    caught: bool  # claimed by a process that was killed


def waits(watch: OutboxWatch, restarts: list[float], end: float) -> list[Wait]:
    """Each reply's wait until it left the outbox, counted from the first restart after it was due.

    The time before that restart belongs to the life that was killed; from that
    restart on, the clock runs through any later kills too, so a reply that stays
    claimed by a dead worker across many short lives is seen waiting all along.
    Without a restart in between, the wait runs from its due time.
    """
    found = []
    for reply_id, seen in watch.replies.items():
        left = seen.left_at if seen.left_at is not None else end
        due = max(seen.created, seen.due)
        anchor = seen.caught_at if seen.caught_at is not None else due  # a caught claim: from its kill on
        later = [moment for moment in restarts[1:] if anchor < moment <= left]
        since = later[0] if later else due
        found.append(Wait(reply_id, max(left - since, 0.0), bool(later), seen.left_at is None,
                          seen.caught_at is not None))
    return found


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check(
    sessions: sessionmaker[Session],
    fed: list[Fed],
    sends: dict[tuple[str, str], int],
    wait_list: list[Wait],
    *,
    max_wait_seconds: float,
) -> list[Check]:
    """Every invariant, each with what broke it."""
    with sessions() as session:
        stored = Counter(session.execute(select(Message.network, Message.external_id)).all())
        unprocessed = session.scalar(
            select(func.count()).select_from(Message).where(
                (Message.classified_at.is_(None)) | (Message.routed_at.is_(None))
            )
        )
        replies = session.execute(
            select(Reply.id, Reply.state, Message.network, Message.external_id)
            .join(Message, Reply.message_id == Message.id)
        ).all()
        requests_without_reply = session.scalar(
            select(func.count()).select_from(Message).where(
                Message.request_id.is_not(None),
                ~select(Reply.id).where(Reply.message_id == Message.id).exists(),
            )
        )
    fed_keys = {(item.network, item.external_id) for item in fed}
    missing = fed_keys - set(stored)
    twice = {key: n for key, n in stored.items() if n > 1}
    unexpected = set(stored) - fed_keys
    targets = {(network, external_id): (reply_id, state) for reply_id, state, network, external_id in replies}
    repeated = {target: n for target, n in sends.items() if n > 1}
    unasked = {target: n for target, n in sends.items() if target not in targets}
    not_delivered = {target: state for target, (_, state) in targets.items() if sends.get(target, 0) == 0}
    states = Counter(state for _, state in targets.values())
    caught = [w for w in wait_list if w.caught]
    worst = max(caught, key=lambda w: w.seconds, default=None)
    late = [w for w in caught if w.seconds > max_wait_seconds]
    slowest = max(wait_list, key=lambda w: w.seconds, default=None)
    return [
        Check(
            "every message stored once",
            not missing and not twice and not unexpected,
            f"{len(fed_keys)} sent by citizens, {sum(stored.values())} stored; missing {len(missing)}, "
            f"stored twice {len(twice)}, not sent by a citizen {len(unexpected)}",
        ),
        Check(
            "every message classified and routed",
            unprocessed == 0 and requests_without_reply == 0,
            f"{unprocessed} not classified or routed; {requests_without_reply} requests without an acknowledgement",
        ),
        Check(
            "no request answered twice",
            not repeated and not unasked,
            f"{sum(sends.values())} replies on the networks to {len(sends)} messages; "
            f"{len(repeated)} answered more than once, {len(unasked)} answered without a reply row",
        ),
        Check(
            "every request answered once",
            not not_delivered,
            f"{len(targets)} acknowledgements ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
            f"{len(not_delivered)} never reached the network "
            f"({', '.join(f'{n} {s}' for s, n in sorted(Counter(not_delivered.values()).items())) or 'none'})",
        ),
        Check(
            "no acknowledgement lost silently",
            all(state in FOR_AN_OFFICER for state in not_delivered.values()),
            f"of the {len(not_delivered)} that never reached the network, "
            f"{sum(state in FOR_AN_OFFICER for state in not_delivered.values())} wait for an officer "
            f"({'/'.join(FOR_AN_OFFICER)}), the others are lost or marked sent",
        ),
        Check(
            f"no reply caught by a kill waited more than {max_wait_seconds:g} s after the restart",
            not late,
            (f"{len(caught)} replies were claimed when their process died; longest wait {worst.seconds:.1f} s "
             f"(reply {worst.reply_id}{', still waiting at the end' if worst.still_waiting else ''}); "
             f"{len(late)} over {max_wait_seconds:g} s")
            if worst else "no reply was claimed when a process died",
        ),
        Check(
            "(measured, not checked) longest wait of any due reply after a restart, backlog included",
            True,
            (f"{slowest.seconds:.1f} s (reply {slowest.reply_id}); "
             f"{sum(w.seconds > max_wait_seconds for w in wait_list)} of {len(wait_list)} replies over "
             f"{max_wait_seconds:g} s, {sum(w.after_restart for w in wait_list)} carried over a restart")
            if slowest else "no replies",
        ),
    ]
