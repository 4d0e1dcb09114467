"""Crash harness: `datacall run` SIGKILLed again and again, against networks that keep every send.

    python -m benchmarks.crash [--seed 1] [--kills 100] [--messages 400] [--database sqlite|postgresql]

The X and Telegram HTTP fakes run in this process (benchmarks/crash_networks.py);
`datacall run` runs as a real child process aimed at them, with short
scheduler intervals. Citizens write in waves, one wave per life of the process.
Each life ends with a SIGKILL at a seeded moment: either at a random time, or
while a reply is held on its way (the network answers late, or takes it only
if the caller is still there), so that kills land between the claim and the
answer. After the last kill a final run drains everything (until nothing
waits, or nothing moved for the wait limit), then stops on SIGTERM, and the
harness checks (benchmarks/crash_checks.py):

- every message stored once (by network and id), and classified and routed;
- no request answered twice on the networks (counted on the fakes, per message);
- every request answered once where the network lists what the bot sent
  (X: each acknowledgement reached it); on Telegram, where a bot cannot,
  at most once; and none lost silently: those that did not reach their
  network wait for an officer as `unknown` (what Telegram replies caught
  mid-send become, since sending them again could answer twice);
- every claim a kill caught (a reply `sending` when its process died) is
  released within `--max-wait` seconds (default 60) of the first restart
  after that kill: the reply is no longer `sending`, or claimed otherwise.
  How long those replies, and any due reply, waited after the restart until
  they left the outbox is measured and printed, not checked: after many short
  lives it mostly measures the backlog.

It prints a short report and exits 1 if an invariant broke. `--seed` fixes the
citizens' messages, the kill plan and the held sends; when the kills land
still depends on the machine's timing.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from benchmarks.crash_checks import WAITING, Check, OutboxWatch, check, releases, waits
from benchmarks.crash_networks import LATE_ANSWER, SLOW_ACCEPT, Networks
from storage.database import make_engine, make_session_factory
from storage.models import Message, Reply

ROOT = Path(__file__).resolve().parents[1]
NETWORK_EVENTS = {
    LATE_ANSWER: "sends held after delivery (late answer)",
    SLOW_ACCEPT: "sends held before delivery",
    "dropped": "of them dropped (the caller had died)",
    "cut": "requests cut mid-upload by a kill",
}


@dataclass(frozen=True)
class Settings:
    seed: int = 1
    kills: int = 100
    messages: int = 400
    database_url: str = ""  # empty: a fresh SQLite file in the work folder
    max_wait_seconds: float = 60.0
    mid_send_share: float = 0.5  # of the kills, aimed at a held send
    life_seconds: tuple[float, float] = (1.0, 8.0)  # a random kill lands this long after a start
    hold_seconds: tuple[float, float] = (1.5, 3.0)  # how long a held send is held
    drain_grace_seconds: float = 10.0  # the final run stops when nothing moved for max_wait + this
    interval_seconds: float = 0.5  # scheduler intervals of `datacall run`


@dataclass
class Result:
    checks: list[Check]
    kills: Counter = field(default_factory=Counter)
    held: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    early_exits: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.checks if item.checked) and not self.early_exits


def write_config(folder: Path, networks: Networks, settings: Settings, database_url: str) -> Path:
    """A config aimed at the fakes, with one worker name (each life takes back its own claims) and a short lease."""
    interval = settings.interval_seconds
    scheduler = (
        f"poll_interval_seconds = {interval}\nclassify_interval_seconds = {interval}\n"
        f"send_interval_seconds = {interval}\npost_interval_seconds = 5\nstop_timeout_seconds = 10\n"
        'worker_name = "crash-harness"\n'
        f"claim_lease_seconds = {min(30.0, settings.max_wait_seconds / 2):g}\n"
    )
    path = folder / "datacall.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n{networks.config()}\n'
        f"[replies]\nretry_base_seconds = 0.5\n\n[scheduler]\n{scheduler}",
        encoding="utf-8",
    )
    return path


class Worker:
    """`datacall run` as a child process, one life at a time, its output appended to one log file."""

    def __init__(self, config: Path, environment: dict[str, str], log: Path):
        self.config, self.environment, self.log = config, environment, log
        self.process: subprocess.Popen | None = None
        self.starts: list[float] = []  # when each life began, as time.time()

    def command(self, *args: str, stdin: str | None = None) -> None:
        """A one-off command (init, classify) that must succeed."""
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args, "--config", str(self.config)],
            input=stdin, capture_output=True, text=True, env=self.environment, cwd=ROOT, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"datacall {' '.join(args)} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> subprocess.Popen:
        self.starts.append(time.time())
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"--- start at {self.starts[-1]:.3f}\n")
            out.flush()
            self.process = subprocess.Popen(  # the child writes to its own copy of the file descriptor
                [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, env=self.environment, cwd=ROOT,
            )
        return self.process

    def end(self, how: signal.Signals) -> int:
        """Send `how` (SIGKILL, or SIGTERM for a clean stop) and wait; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(how)
        return self.process.wait(timeout=60)

    def kill_if_alive(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def outbox_empty(sessions, networks: Networks) -> bool:
    """Every message citizens sent is stored and routed, and no reply waits."""
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Message).where(Message.routed_at.is_not(None)))
        waiting = session.scalar(select(func.count()).select_from(Reply).where(Reply.state.in_(WAITING)))
    return stored >= len(networks.fed) and waiting == 0


def wait_for_the_moment(rng: random.Random, networks: Networks, settings: Settings) -> str:
    """Wait until the planned moment of the next kill; returns what kind of moment it was."""
    if rng.random() < settings.mid_send_share:
        mode = rng.choice([LATE_ANSWER, SLOW_ACCEPT])
        hold = rng.uniform(*settings.hold_seconds)
        into = rng.uniform(0.1, hold - 0.2)
        networks.gate.arm(mode, hold)
        reached = networks.gate.held.wait(timeout=60)
        networks.gate.disarm()
        if reached:
            time.sleep(into)
        return f"mid-send ({mode})" if reached else "mid-send planned, no send came"
    time.sleep(rng.uniform(*settings.life_seconds))
    return "random moment"


def kill_again_and_again(worker: Worker, networks: Networks, watch: OutboxWatch, settings: Settings,
                         result: Result, say: Callable[[str], None]) -> None:
    """One wave of citizens per life; each life ends with a SIGKILL at a seeded moment."""
    rng = random.Random(settings.seed)
    per_wave = max(settings.messages // (settings.kills + 1), 1)
    for life in range(1, settings.kills + 1):
        worker.start()
        networks.wave(min(per_wave, settings.messages - len(networks.fed)))
        result.kills[wait_for_the_moment(rng, networks, settings)] += 1
        code = worker.end(signal.SIGKILL)
        watch.sample(killed_at=time.time())  # the claims this process left
        if code != -signal.SIGKILL:
            result.early_exits.append(code)
        if life % 10 == 0:
            say(f"{life} kills, {len(networks.fed)} messages so far")


def drain(worker: Worker, sessions, networks: Networks, settings: Settings, result: Result) -> None:
    """The last wave, then a final run until nothing waits, or nothing moved for the wait limit; SIGTERM."""
    networks.wave(settings.messages - len(networks.fed))
    worker.start()
    patience = settings.max_wait_seconds + settings.drain_grace_seconds
    last_move, progress = time.time(), None
    while time.time() - last_move < patience:
        if outbox_empty(sessions, networks):
            break
        now_progress = outbox_progress(sessions)
        if now_progress != progress:
            last_move, progress = time.time(), now_progress
        time.sleep(0.5)
    time.sleep(1.0)  # one more sample of the outbox while the last run still lives
    code = worker.end(signal.SIGTERM)
    if code != 0:
        result.early_exits.append(code)


def outbox_progress(sessions) -> tuple[int, int]:
    """Messages routed and replies out of the outbox: the final run is still draining while these grow."""
    with sessions() as session:
        routed = session.scalar(select(func.count()).select_from(Message).where(Message.routed_at.is_not(None)))
        done = session.scalar(select(func.count()).select_from(Reply).where(Reply.state.not_in(WAITING)))
    return routed, done


def run(settings: Settings, *, work: Path, say: Callable[[str], None] = print) -> Result:
    database_url = settings.database_url or f"sqlite:///{work / 'datacall.db'}"
    started = time.time()
    result = Result(checks=[])
    with Networks(random.Random(settings.seed + 1)) as networks:
        worker = Worker(write_config(work, networks, settings, database_url),
                        {**os.environ, **networks.environment()}, work / "datacall.log")
        worker.command("init")
        worker.command("classify", stdin="warm up the model\n")  # a first use trains it: not under the kills
        engine = make_engine(database_url)
        sessions = make_session_factory(engine)
        try:
            with OutboxWatch(sessions) as watch:
                kill_again_and_again(worker, networks, watch, settings, result, say)
                drain(worker, sessions, networks, settings, result)
            result.held = networks.gate.counts
            end = time.time()
            result.checks = check(
                sessions, networks.fed, networks.replies_per_target(),
                waits(watch, worker.starts, end), releases(watch, worker.starts, end),
                max_wait_seconds=settings.max_wait_seconds,
            )
        finally:
            worker.kill_if_alive()  # the harness itself was interrupted
            engine.dispose()
    result.seconds = time.time() - started
    return result


def report(result: Result, settings: Settings) -> str:
    lines = [
        f"crash harness: seed {settings.seed}, {sum(result.kills.values())} SIGKILLs, "
        f"{settings.messages} messages, {result.seconds:.0f} s",
        "kills: " + ", ".join(f"{n} {kind}" for kind, n in sorted(result.kills.items())),
        "at the networks: " + (", ".join(f"{result.held[kind]} {what}" for kind, what in NETWORK_EVENTS.items()
                                         if result.held[kind]) or "nothing held or cut"),
    ]
    if result.early_exits:
        lines.append(f"FAIL  datacall run exited on its own with codes {result.early_exits}")
    lines += [f"{mark(item)}  {item.name}: {item.detail}" for item in result.checks]
    return "\n".join(lines)


def mark(item: Check) -> str:
    if not item.checked:
        return "info"
    return "ok  " if item.ok else "FAIL"


def new_database(server_uri: str) -> str:
    """A fresh, empty database on a PostgreSQL server (given by a postgresql:// URI); its URL."""
    admin_url = server_uri.replace("postgresql://", "postgresql+psycopg://")
    name = f"crash_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def postgres_database(folder: Path) -> tuple[str, Callable[[], None]]:
    """A fresh database on a PostgreSQL started with pgserver (test extra); and how to stop it."""
    import pgserver

    server = pgserver.get_server(folder / "pgdata", cleanup_mode="stop")
    return new_database(server.get_uri()), server.cleanup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default="", help="an existing empty database instead of a new one")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="seconds within which a claim a kill caught must be released after the restart")
    parser.add_argument("--mid-send-share", type=float, default=0.5,
                        help="share of the kills aimed at a reply held on its way (0 to 1)")
    parser.add_argument("--work-dir", type=Path, help="keep the database, config and log here")
    args = parser.parse_args(argv)
    if args.kills < 0 or args.messages < 1 or not 0 <= args.mid_send_share <= 1 or args.max_wait <= 0:
        parser.error("--kills must be 0 or more, --messages 1 or more, --mid-send-share within 0..1, "
                     "--max-wait above 0")
    with tempfile.TemporaryDirectory(prefix="datacall-crash-") as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        stop_database = None
        url = args.database_url
        if args.database == "postgresql" and not url:
            url, stop_database = postgres_database(Path(scratch))
        settings = Settings(seed=args.seed, kills=args.kills, messages=args.messages, database_url=url,
                            max_wait_seconds=args.max_wait, mid_send_share=args.mid_send_share)
        try:
            result = run(settings, work=work)
        finally:
            if stop_database is not None:
                stop_database()
    print(report(result, settings))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
