"""`datacall init`, `run` and `status`: the database and the main job."""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.table import Table
from sqlalchemy import func, select

from bot.cli.common import ConfigOption, console, errors, fail, runtime, spot_check_summary
from bot.jobs import run_once
from bot.logs import TEXT_FORMAT
from bot.scheduler import run_forever
from bot.worker import Heartbeat, worker_name
from storage import migrate, queries
from storage.database import describe
from storage.models import Message, NetworkCursor, Worker, utcnow


def init(config: ConfigOption = None) -> None:
    """Create the database, or upgrade it to this version's schema."""
    with runtime(config, migrated=False) as rt:
        try:
            before, after = migrate.upgrade(rt.engine)
        except Exception as exc:  # noqa: BLE001 - any driver error becomes one line
            fail(f"cannot initialise {describe(rt.engine)}: {exc}")
        if before == after:
            console.print(f"database {describe(rt.engine)} is up to date (revision {after})")
        elif before is None:
            console.print(f"created database {describe(rt.engine)} (revision {after})")
        else:
            console.print(f"upgraded database {describe(rt.engine)} from {before} to {after}")


def run(
    config: ConfigOption = None,
    once: bool = typer.Option(False, "--once", help="Run every job once and exit (for cron and tests)."),
) -> None:
    """Post due calls, poll every enabled network, classify, send due replies."""
    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)  # no-op under --log-format json
    with runtime(config) as rt:
        heartbeat = Heartbeat(rt.sessions, worker_name(rt.config), lease_seconds=rt.claims.lease_seconds)
        heartbeat.start()  # its own claims from a previous run are taken back at once
        try:
            if not once:
                if not run_forever(rt):
                    # A job is still at work: closing its connector or waiting for the interpreter to join
                    # its thread could cut a send in half or never end. Its claims are a crash's, recovered.
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(1)
                return
            results = run_once(rt)
        finally:
            heartbeat.stop()
        failed = False
        for name, (count, error) in results.items():
            if error is None:
                console.print(f"{name}: {count}")
            else:
                failed = True
                errors.print(f"{name}: failed: {error}", markup=False)
        if failed:
            raise typer.Exit(1)


def status(config: ConfigOption = None) -> None:
    """Queue depths, the last poll of each network, and the outbox."""
    with runtime(config) as rt, rt.sessions() as session:
        unclassified = session.scalar(select(func.count()).where(Message.classified_at.is_(None)))
        unrouted = session.scalar(
            select(func.count()).where(Message.classified_at.is_not(None), Message.routed_at.is_(None))
        )
        console.print(f"database: {describe(rt.engine)}")
        console.print(f"messages waiting: {unclassified} to classify, {unrouted} to route")
        console.print("requests: " + _counts(queries.request_counts(session)))
        console.print("outbox: " + _counts(queries.reply_counts(session)))
        decided, agreed = queries.decision_agreement(session, threshold=rt.config.classifier.threshold)
        # The quick pulse of the model on this deployment's messages; `evaluate --decisions` has the figures.
        console.print(f"officers' decisions: {decided} messages" + (
            f"; the classifier's score had put {agreed} ({agreed / decided:.0%}) on the same side" if decided else ""))
        checks = queries.spot_check_results(session, threshold=rt.config.classifier.threshold)
        console.print("spot checks of automatic decisions: " + spot_check_summary(checks))
        beats = [f"{w.name} ({(utcnow() - w.heartbeat_at).total_seconds():.0f} s ago)"
                 for w in session.scalars(select(Worker).order_by(Worker.heartbeat_at.desc()).limit(10))]
        console.print("worker heartbeats: " + (", ".join(beats) or "none yet"))
        table = Table("network", "last poll", "last success", "failures", "last error")
        paused = []
        for row in session.scalars(select(NetworkCursor).order_by(NetworkCursor.network)):
            table.add_row(
                row.network, _when(row.last_poll_at), _when(row.last_success_at),
                str(row.consecutive_failures), row.last_error or "",
            )
            if row.paused_until and row.paused_until > utcnow():
                paused.append(f"{row.network} is paused until {_when(row.paused_until)} after "
                              f"{row.consecutive_failures} failed polls")
        console.print(table)
        for line in paused:
            console.print(line, style="bold red")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"
