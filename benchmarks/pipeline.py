"""Throughput of the pipeline steps on SQLite and PostgreSQL, as ratios to a storage ceiling.

    python -m benchmarks.pipeline [--messages 5000]

Each step (ingest from the sandbox network, classify + route, send replies) is
timed on N citizen messages, and compared with the ceiling measured in the same
run on the same database: one bulk INSERT of N message rows with nothing else
around it. A ratio of 0.2 means the step handles messages at a fifth of the
speed the database can merely store them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from bot.config import Config, DatabaseConfig
from bot.jobs import build_jobs
from bot.runtime import Runtime
from storage.migrate import upgrade
from storage.models import Message, Requester, SandboxEntry

ASKS = [
    "Please publish the bike counter data per hour as CSV (#{n})",
    "Pourriez-vous publier les menus des cantines école par école ? #{n}",
    "The bus was late again this morning, third time this week #{n}",
    "Où trouver la liste des arbres avec leur essence ? {n}",
]


def seed(rt: Runtime, count: int) -> None:
    rows = [
        {"author_id": f"u{n}", "handle": f"@citizen{n}", "text": ASKS[n % len(ASKS)].format(n=n),
         "is_private": False, "from_bot": False}
        for n in range(count)
    ]
    with rt.sessions() as session, session.begin():
        session.execute(sa.insert(SandboxEntry), rows)


def ceiling(rt: Runtime, count: int) -> float:
    """Seconds to bulk-insert `count` message rows: the storage floor of any pipeline step."""
    with rt.sessions() as session, session.begin():
        requester = Requester(network="bench", external_user_id="ceiling", handle="@c")
        session.add(requester)
        session.flush()
        rows = [{"network": "bench", "external_id": str(n), "requester_id": requester.id,
                 "text": ASKS[n % len(ASKS)].format(n=n), "is_private": False, "needs_review": False}
                for n in range(count)]
        started = time.perf_counter()
        session.execute(sa.insert(Message), rows)
    elapsed = time.perf_counter() - started
    with rt.sessions() as session, session.begin():
        session.execute(sa.delete(Message).where(Message.network == "bench"))
    return elapsed


def measure(url: str, count: int) -> dict[str, float]:
    config = Config(database=DatabaseConfig(url=url))
    rt = Runtime.from_config(config, say=lambda _text: None)
    try:
        upgrade(rt.engine)
        _ = rt.classifier  # loaded before timing, as in a running worker
        seed(rt, count)
        floor = ceiling(rt, count)
        jobs = {job.name: job for job in build_jobs(rt)}
        timings = {}
        for name in ("poll:sandbox", "classify", "send"):
            started = time.perf_counter()
            while jobs[name].run():  # until the step has nothing left
                pass
            timings[name] = time.perf_counter() - started
        return {"ceiling_s": floor, **{f"{k}_s": v for k, v in timings.items()}}
    finally:
        rt.close()


def postgres_url(folder: Path) -> tuple[str, object]:
    import pgserver

    server = pgserver.get_server(folder, cleanup_mode="stop")
    admin = sa.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://"))
    return url.set(database=name).render_as_string(hide_password=False), server


def report(results: dict[str, dict[str, float]], count: int) -> str:
    lines = [
        "| database | step | messages/s | ratio to ceiling |",
        "|---|---|---|---|",
    ]
    for database, timing in results.items():
        ceiling_rate = count / timing["ceiling_s"]
        lines.append(f"| {database} | ceiling: bulk INSERT of the rows | {ceiling_rate:,.0f} | 1.00 |")
        for step in ("poll:sandbox", "classify", "send"):
            rate = count / timing[f"{step}_s"]
            label = {"poll:sandbox": "ingest (fetch + store + cursor)", "classify": "classify + route + queue ack",
                     "send": "send acknowledgements"}[step]
            lines.append(f"| {database} | {label} | {rate:,.0f} | {rate / ceiling_rate:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {"SQLite": measure(f"sqlite:///{folder}/bench.db", args.messages)}
        url, server = postgres_url(Path(folder) / "pg")
        try:
            results["PostgreSQL"] = measure(url, args.messages)
        finally:
            server.cleanup()
    print(report(results, args.messages))


if __name__ == "__main__":
    main()
