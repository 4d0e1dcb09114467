"""What the crash harness checks after the last run, and how long claims and replies waited after each restart.

`OutboxWatch` samples the outbox from the harness process while `datacall run`
lives and dies, so everything is seen from outside. Two clocks, both started
at the first restart after the moment that matters:

- the release of a claim a kill caught (a reply `sending` when its process
  died): until the claim changes hands, that is until the reply is first seen
  no longer `sending`, or with another claim (its `claimed_by`, `claimed_at`
  or `send_started_at` changed: freed by the restarted worker, or claimed
  again). This is what the limit applies to: whether claims left by a dead
  worker are taken back quickly, whatever the backlog;
- the wait of a reply: from the first restart after it was due (or caught)
  until it left the outbox (sent, or handed to an officer as `unknown`/`dead`).
  Measured and reported: after many short lives it mostly measures the
  backlog the final run has to drain.

A claim still held, or a reply still waiting, at the end is counted until the end.
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
# Networks where a bot cannot list what it sent (Telegram): a reply whose send may have gone out
# is handed to an officer (`unknown`), never sent again, so there it is answered at most once.
CANNOT_LIST_SENT = ("telegram",)
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
class Catch:
    """A claim a kill found: the reply was `sending` when its process died, claimed as `claim` says."""

    reply_id: int
    killed_at: float
    claim: tuple  # (claimed_by, claimed_at, send_started_at) as the dead process left them
    released_at: float | None = None  # when it was first seen no longer `sending`, or claimed otherwise


@dataclass
class OutboxWatch:
    """A thread that samples every reply's state every `interval` seconds."""

    sessions: sessionmaker[Session]
    interval: float = 0.25
    replies: dict[int, Seen] = field(default_factory=dict)
    catches: list[Catch] = field(default_factory=list)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="outbox-watch", daemon=True)
        self._held: dict[int, Catch] = {}  # caught claims not released yet, by reply
        self._read_at = 0.0  # when the newest applied sample was read: an older one is stale

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
            rows = session.execute(select(
                Reply.id, Reply.state, Reply.created_at, Reply.next_attempt_at,
                Reply.claimed_by, Reply.claimed_at, Reply.send_started_at,
            )).all()
        self.apply(rows, now=now, killed_at=killed_at)

    def apply(self, rows, *, now: float, killed_at: float | None = None) -> None:
        """One sample's rows (id, state, created_at, next_attempt_at, claimed_by, claimed_at, send_started_at)."""
        with self._lock:
            if killed_at is None and now < self._read_at:
                return  # the watch thread read before a newer sample (a kill's) was applied: stale
            self._read_at = max(self._read_at, now)  # a kill's sample is never skipped: it records the catches
            for reply_id, state, created_at, next_attempt_at, *claim in rows:
                self._observe(reply_id, state, tuple(claim), now)
                seen = self.replies.setdefault(reply_id, Seen(epoch(created_at), epoch(next_attempt_at)))
                if state in WAITING:
                    seen.due, seen.left_at = epoch(next_attempt_at), None
                elif seen.left_at is None:
                    seen.left_at = now
                if killed_at is not None and state == "sending" and seen.caught_at is None:
                    seen.caught_at = killed_at
                if killed_at is not None and state == "sending" and reply_id not in self._held:
                    self._held[reply_id] = Catch(reply_id, killed_at, tuple(claim))
                    self.catches.append(self._held[reply_id])

    def _observe(self, reply_id: int, state: str, claim: tuple, now: float) -> None:
        """A caught claim is released once its reply is no longer `sending`, or is claimed otherwise."""
        held = self._held.get(reply_id)
        if held is not None and (state != "sending" or claim != held.claim):
            held.released_at = now
            del self._held[reply_id]


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
class Release:
    reply_id: int
    seconds: float  # from the first restart after the kill until the claim changed hands (or the end)
    released: bool  # False: still held as the dead process left it at the end


def releases(watch: OutboxWatch, restarts: list[float], end: float) -> list[Release]:
    """Each caught claim's release, counted from the first restart after its kill, through later kills."""
    found = []
    for catch in watch.catches:
        since = next((moment for moment in restarts if moment > catch.killed_at), end)
        released = catch.released_at if catch.released_at is not None else end
        found.append(Release(catch.reply_id, max(released - since, 0.0), catch.released_at is not None))
    return found


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool  # whether it holds
    detail: str
    checked: bool = True  # False: measured and reported only, the harness's exit code ignores it


def check(
    sessions: sessionmaker[Session],
    fed: list[Fed],
    sends: dict[tuple[str, str], int],
    wait_list: list[Wait],
    release_list: list[Release],
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
    slowest_release = max(release_list, key=lambda r: r.seconds, default=None)
    late_releases = [r for r in release_list if r.seconds > max_wait_seconds]
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
            "every request answered once where the network lists what the bot sent (X); elsewhere at most once",
            not [target for target in not_delivered if target[0] not in CANNOT_LIST_SENT],
            f"{len(targets)} acknowledgements ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
            f"{len(not_delivered)} never reached the network "
            f"({', '.join(f'{n} {s}' for s, n in sorted(Counter(not_delivered.values()).items())) or 'none'}), "
            f"of which on {'/'.join(CANNOT_LIST_SENT)}: "
            f"{sum(target[0] in CANNOT_LIST_SENT for target in not_delivered)}",
        ),
        Check(
            "no acknowledgement lost silently",
            all(state in FOR_AN_OFFICER for state in not_delivered.values()),
            f"of the {len(not_delivered)} that never reached the network, "
            f"{sum(state in FOR_AN_OFFICER for state in not_delivered.values())} wait for an officer "
            f"({'/'.join(FOR_AN_OFFICER)}), the others are lost or marked sent",
        ),
        Check(
            f"every claim a kill caught is released within {max_wait_seconds:g} s of the restart",
            not late_releases,
            (f"{len(release_list)} claims caught ({len({r.reply_id for r in release_list})} replies), "
             f"{len(release_list) - len(late_releases)} released within {max_wait_seconds:g} s; "
             f"longest {slowest_release.seconds:.1f} s (reply {slowest_release.reply_id}"
             f"{', still held at the end' if not slowest_release.released else ''}); "
             f"{sum(not r.released for r in release_list)} still held at the end")
            if slowest_release else "no reply was claimed when a process died",
        ),
        Check(
            f"(measured, not checked) no reply caught by a kill waited more than {max_wait_seconds:g} s "
            "after the restart to leave the outbox",
            not late,
            (f"{len(caught)} replies were claimed when their process died; longest wait {worst.seconds:.1f} s "
             f"(reply {worst.reply_id}{', still waiting at the end' if worst.still_waiting else ''}); "
             f"{len(late)} over {max_wait_seconds:g} s")
            if worst else "no reply was claimed when a process died",
            checked=False,
        ),
        Check(
            "(measured, not checked) longest wait of any due reply after a restart, backlog included",
            True,
            (f"{slowest.seconds:.1f} s (reply {slowest.reply_id}); "
             f"{sum(w.seconds > max_wait_seconds for w in wait_list)} of {len(wait_list)} replies over "
             f"{max_wait_seconds:g} s, {sum(w.after_restart for w in wait_list)} carried over a restart")
            if slowest else "no replies",
            checked=False,
        ),
    ]
