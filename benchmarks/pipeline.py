"""End to end: a sandbox backlog until every message is classified, routed and acknowledged.

    python -m benchmarks.pipeline [--sizes 2000 20000] [--databases sqlite postgresql] [--workers 1 3]
                                  [--no-once] [--memory-messages 0] [--out FILE]

For each database and backlog size N (N citizen messages waiting in the sandbox
network, distinct texts built from the corpus), in the same run:

- **ceiling**: bare `nlp.pipe` over the N texts plus one bulk INSERT of N
  message rows: what classifying and merely storing them costs;
- **plain script**: what a hand-written batched script does for the same
  outcome: classify (with language detection), then write messages, requests,
  `received` events and acknowledgement replies, 1,000 at a time;
- **in one process**: datacall's own jobs (those of `datacall run`) in a loop,
  model loaded, until the last acknowledgement is sent through the sandbox;
- **`datacall run --once`**: the real command, one process, start-up and model
  loading included;
- **`datacall run` × W**: W long-running worker processes on the same database,
  until the last acknowledgement is sent; their logs are searched for jobs the
  scheduler skipped and for `database is locked`.

Every figure is also a ratio to the ceiling's rate (1.0 = as fast as bare
classification + storage). `--memory-messages M` adds a memory run: one
`datacall run` worker on SQLite fed M messages in slices, its resident memory
sampled every second.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

import classifiers
from benchmarks.classify import _datacall_command, make_texts
from bot.config import ClassifierConfig, Config, DatabaseConfig, SchedulerConfig
from bot.jobs import build_jobs
from bot.pipeline.route import SYSTEM_ACTOR
from bot.pipeline.suggest import MARK_KEY as SUGGEST_MARK
from bot.redact import title_from
from bot.runtime import Runtime
from storage.database import make_engine, make_session_factory, reading
from storage.migrate import upgrade
from storage.models import AppSetting, Message, Reply, Request, Requester, SandboxEntry, StatusEvent, utcnow
from storage.queries import WAITING_REPLY_STATES

PLAIN_BATCH = 1000
# `datacall run` workers: short intervals, so that the measure is the work and not the waiting.
WORKER_INTERVAL = 1.0
SKIPPED = "skipped: maximum number of running instances reached"
LOCKED = "database is locked"

Say = Callable[[str], None]


class Databases:
    """Fresh, empty, migrated databases of one kind, one per measurement."""

    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder, self.server = kind, folder, None
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "postgresql":
            import pgserver

            self.server = pgserver.get_server(folder / "pg", cleanup_mode="stop")

    def fresh(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        if self.server is None:
            url = f"sqlite:///{self.folder / name}.db"
        else:
            uri = self.server.get_uri().replace("postgresql://", "postgresql+psycopg://")
            admin = sa.create_engine(uri, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = sa.engine.make_url(uri).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def seed(url: str, texts: Sequence[str], *, start: int = 0) -> None:
    """The backlog: one sandbox entry per text; each author writes two messages."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            for first in range(0, len(texts), 10_000):
                session.execute(sa.insert(SandboxEntry), [
                    {"author_id": f"u{(start + n) // 2}", "handle": f"@citizen{(start + n) // 2}", "text": text,
                     "is_private": False, "from_bot": False}
                    for n, text in enumerate(texts[first:first + 10_000], start=start + first)
                ])
    finally:
        engine.dispose()


def progress(sessions) -> tuple[int, int, int]:
    """(messages routed, replies still waiting, replies sent), read without any write lock."""
    with reading(sessions) as session:
        routed = session.scalar(sa.select(sa.func.count()).where(Message.routed_at.is_not(None)))
        waiting = session.scalar(sa.select(sa.func.count()).where(Reply.state.in_(WAITING_REPLY_STATES)))
        sent = session.scalar(sa.select(sa.func.count()).where(Reply.state == "sent"))
    return routed, waiting, sent


def done(sessions, total: int) -> bool:
    routed, waiting, _ = progress(sessions)
    return routed == total and waiting == 0


# --- the ceiling and the plain script ------------------------------------------------------------------


def ceiling(url: str, texts: Sequence[str], classifier) -> dict:
    """Bare nlp.pipe over the texts, then one bulk INSERT of as many message rows."""
    nlp = classifier.nlp
    cpu = time.process_time()
    started = time.perf_counter()
    with nlp.memory_zone():
        for doc in nlp.pipe(texts, batch_size=256):
            doc.cats  # noqa: B018 - read the scores, as a caller would
    pipe_s = time.perf_counter() - started
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            requester = Requester(network="bench", external_user_id="ceiling", handle="@c")
            session.add(requester)
            session.flush()
            rows = [{"network": "bench", "external_id": str(n), "requester_id": requester.id, "text": text,
                     "is_private": False, "needs_review": False} for n, text in enumerate(texts)]
            started = time.perf_counter()
            session.execute(sa.insert(Message), rows)
        insert_s = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"nlp_pipe_s": pipe_s, "insert_s": insert_s, "seconds": pipe_s + insert_s,
            "cpu_seconds": time.process_time() - cpu}


def _returning_ids(model):
    return sa.insert(model).returning(model.id, sort_by_parameter_order=True)


def plain_script(url: str, texts: Sequence[str], classifier) -> dict:
    """Classify and write messages, requests, events and replies in batches of 1,000: no jobs, no outbox."""
    engine = make_engine(url)
    cpu = time.process_time()
    started = time.perf_counter()
    try:
        sessions = make_session_factory(engine)
        for first in range(0, len(texts), PLAIN_BATCH):
            chunk = texts[first:first + PLAIN_BATCH]
            predictions = classifier.predict(list(chunk), threshold=0.5)
            now = utcnow()
            with sessions() as session, session.begin():
                requester_ids = session.scalars(_returning_ids(Requester), [
                    {"network": "plain", "external_user_id": f"u{first + n}", "handle": f"@u{first + n}",
                     "opted_out": False} for n in range(len(chunk))
                ]).all()
                message_ids = session.scalars(_returning_ids(Message), [
                    {"network": "plain", "external_id": str(first + n), "requester_id": rid, "text": text,
                     "label": p.label, "score": p.score, "lang": p.lang, "needs_review": False,
                     "is_private": False, "classified_at": now, "routed_at": now}
                    for n, (rid, text, p) in enumerate(zip(requester_ids, chunk, predictions, strict=True))
                ]).all()
                wanted = [(mid, rid, text, p) for mid, rid, text, p
                          in zip(message_ids, requester_ids, chunk, predictions, strict=True)
                          if p.label == "data_request"]
                if not wanted:
                    continue
                request_ids = session.scalars(_returning_ids(Request), [
                    {"title": title_from(text), "status": "received", "title_message_id": mid, "not_a_request": False}
                    for mid, _, text, _ in wanted
                ]).all()
                session.execute(
                    sa.update(Message.__table__).where(Message.__table__.c.id == sa.bindparam("mid"))
                    .values(request_id=sa.bindparam("rid")),
                    [{"mid": mid, "rid": rid} for (mid, *_), rid in zip(wanted, request_ids, strict=True)],
                )
                event_ids = session.scalars(_returning_ids(StatusEvent), [
                    {"request_id": rid, "status": "received", "actor": SYSTEM_ACTOR} for rid in request_ids
                ]).all()
                session.execute(sa.insert(Reply), [
                    {"status_event_id": eid, "requester_id": requester, "message_id": mid, "network": "plain",
                     "idempotency_key": f"plain-{eid}", "lang": p.lang or "fr", "state": "sent", "attempts": 1,
                     "text": f"Thank you! Your data request is logged as #{rid}: \"{title_from(text)}\"."}
                    for (mid, requester, text, p), rid, eid in zip(wanted, request_ids, event_ids, strict=True)
                ])
    finally:
        engine.dispose()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}


# --- datacall ---------------------------------------------------------------------------------------------


def config_text(url: str, model: Path, *, pages: int) -> str:
    return (
        f'[database]\nurl = "{url}"\n\n[classifier]\nmodel_path = "{model.as_posix()}"\n\n'
        f"[scheduler]\nmax_pages_per_poll = {pages}\npoll_interval_seconds = {WORKER_INTERVAL}\n"
        f"classify_interval_seconds = {WORKER_INTERVAL}\nsend_interval_seconds = {WORKER_INTERVAL}\n"
    )


def pages_for(total: int) -> int:
    return min(1000, total // 200 + 2)  # sandbox pages hold 200 messages


def in_process(url: str, total: int, model: Path) -> dict:
    """The jobs of `datacall run`, in pipeline order, in a loop until the last acknowledgement is sent."""
    config = Config(
        database=DatabaseConfig(url=url), classifier=ClassifierConfig(model_path=str(model)),
        scheduler=SchedulerConfig(max_pages_per_poll=pages_for(total)),
    )
    runtime = Runtime.from_config(config, say=lambda _text: None)
    try:
        runtime.classifier  # noqa: B018 - loaded before timing, as in a worker already running
        jobs = build_jobs(runtime)
        per_job = {job.name: 0.0 for job in jobs}
        cpu = time.process_time()
        started = time.perf_counter()
        finished = False
        while not finished:
            for job in jobs:
                job_started = time.perf_counter()
                job.run()
                per_job[job.name] += time.perf_counter() - job_started
                if done(runtime.sessions, total):  # the last acknowledgement is out
                    finished = True
                    break
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        _, _, sent = progress(runtime.sessions)
        waiting = awaiting_suggestions(runtime.sessions)
        with reading(runtime.sessions) as session:
            requests = session.scalar(sa.select(sa.func.count()).select_from(Request))
    finally:
        runtime.close()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "requests": requests, "acknowledgements": sent,
            "awaiting_suggestions": waiting,
            "share": {name: round(spent / seconds, 3) for name, spent in per_job.items() if spent / seconds >= 0.01}}


def awaiting_suggestions(sessions) -> int:
    """Requests the suggestion job has not looked at yet (it runs after the acknowledgements)."""
    with reading(sessions) as session:
        mark = session.scalar(sa.select(AppSetting.value).where(AppSetting.key == SUGGEST_MARK))
        last = int(mark) if mark and mark.isdigit() else 0
        return session.scalar(sa.select(sa.func.count()).where(Request.id > last))


def run_once(url: str, total: int, model: Path, folder: Path) -> dict:
    """`datacall run --once`, start-up included; then its start-up alone, on an empty database."""
    config = folder / f"once-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(config_text(url, model, pages=pages_for(total)), encoding="utf-8")
    before = _children_cpu()
    started = time.perf_counter()
    subprocess.run([*_datacall_command(), "run", "--once", "--config", str(config)],
                   check=True, capture_output=True, cwd=folder)
    seconds = time.perf_counter() - started
    cpu_seconds = _children_cpu() - before
    engine = make_engine(url)
    try:
        complete = done(make_session_factory(engine), total)
        waiting = awaiting_suggestions(make_session_factory(engine))
    finally:
        engine.dispose()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "complete": complete, "awaiting_suggestions": waiting}


def _children_cpu() -> float:
    """User + system CPU seconds of the child processes that ended so far (not the database server's)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup(databases: Databases, model: Path, folder: Path) -> dict:
    """`datacall run --once` with nothing to do (no model loaded), and the model's loading time alone."""
    url = databases.fresh()
    config = folder / "startup.toml"
    config.write_text(config_text(url, model, pages=1), encoding="utf-8")
    before = _children_cpu()
    started = time.perf_counter()
    subprocess.run([*_datacall_command(), "run", "--once", "--config", str(config)],
                   check=True, capture_output=True, cwd=folder)
    empty = time.perf_counter() - started
    empty_cpu = _children_cpu() - before
    # In a fresh process: this one has the model loaded already. Classifying one text loads what is lazy.
    code = (f"import classifiers; classifiers.load({str(model)!r})"
            ".predict(['Please publish the bike counters'], threshold=0.5)")
    before = _children_cpu()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=folder)
    return {"run_once_empty_s": round(empty, 2), "run_once_empty_cpu_s": round(empty_cpu, 2),
            "model_load_s": round(time.perf_counter() - started, 2),
            "model_load_cpu_s": round(_children_cpu() - before, 2)}


def workers(url: str, total: int, model: Path, folder: Path, count: int, *, timeout: float) -> dict:
    """`count` long-running `datacall run` processes until the last acknowledgement is sent."""
    config = folder / f"run-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(config_text(url, model, pages=pages_for(total)), encoding="utf-8")
    logs = [folder / f"{config.stem}-{n}.log" for n in range(count)]
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    before = _children_cpu()
    started = time.perf_counter()
    processes = [
        # Each worker under its own name, as compose runs them: a name is whose claims a row holds.
        subprocess.Popen([*_datacall_command(), "run", "--config", str(config)], cwd=folder,
                         stdout=subprocess.DEVNULL, stderr=log.open("w"),
                         env={**os.environ, "DATACALL_WORKER_NAME": f"{config.stem}-{n}"})
        for n, log in enumerate(logs)
    ]
    try:
        while not done(sessions, total):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{count} worker(s) did not finish {total} messages in {timeout:.0f} s")
            if any(process.poll() is not None for process in processes):
                stopped = next(log for log, process in zip(logs, processes, strict=True) if process.poll() is not None)
                raise RuntimeError(f"a worker stopped: {stopped.read_text()[-2000:]}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        waiting = awaiting_suggestions(sessions)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        engine.dispose()
    # Includes the workers' last seconds after the last acknowledgement (stopping), so a little high.
    cpu_seconds = _children_cpu() - before
    text = "".join(log.read_text(encoding="utf-8", errors="replace") for log in logs)
    skipped: dict[str, int] = {}
    for line in text.splitlines():
        if SKIPPED in line:
            name = line.split('Execution of job "', 1)[-1].split(" (trigger", 1)[0]
            skipped[name] = skipped.get(name, 0) + 1
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "skipped": skipped, "locked": text.count(LOCKED),
            "awaiting_suggestions": waiting}


def memory_run(databases: Databases, model: Path, folder: Path, total: int, *, slice_size: int = 20_000,
               say: Say) -> dict:
    """One `datacall run` worker on SQLite fed `total` messages in slices; RSS sampled every second."""
    slice_size = max(1, min(slice_size, total // 4))  # at least four slices: one per quarter
    url = databases.fresh()
    config = folder / "memory.toml"
    config.write_text(config_text(url, model, pages=pages_for(slice_size)), encoding="utf-8")
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    log = folder / "memory.log"
    process = subprocess.Popen([*_datacall_command(), "run", "--config", str(config)], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=log.open("w"))
    samples: list[tuple[int, float]] = []  # (messages fed so far, RSS MB)
    started = time.perf_counter()
    try:
        fed = 0
        while fed < total:
            size = min(slice_size, total - fed)
            seed(url, make_texts(size + fed)[fed:], start=fed)
            fed += size
            while not done(sessions, fed):
                if process.poll() is not None:
                    raise RuntimeError(f"the worker stopped: see {log}")
                samples.append((fed, _rss_mb(process.pid)))
                time.sleep(1.0)
            samples.append((fed, _rss_mb(process.pid)))
            say(f"  memory run: {fed:,} messages, RSS {samples[-1][1]:.0f} MB")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        engine.dispose()
    # The highest RSS while each quarter of the messages was being fed and worked through.
    quarters = [max((rss for n, rss in samples if total * (q - 1) // 4 < n <= total * q // 4), default=0.0)
                for q in (1, 2, 3, 4)]
    return {"messages": total, "seconds": round(time.perf_counter() - started), "rss_max_mb": max(quarters),
            "rss_max_per_quarter_mb": [round(q, 1) for q in quarters], "samples": len(samples)}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the whole run ----------------------------------------------------------------------------------------


def run(
    *, sizes: Sequence[int] = (2000, 20_000), databases: Sequence[str] = ("sqlite", "postgresql"),
    worker_counts: Sequence[int] = (1, 3), once: bool = True, memory_messages: int = 0, model: Path | None = None,
    say: Say = lambda text: print(text, file=sys.stderr), timeout: float = 3600,
) -> dict:
    model = Path(model) if model else classifiers.ensure_model(None, on_train=say)
    classifier = classifiers.load(model)
    report: dict = {"cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()],
                    "model_version": classifier.version, "results": []}
    with tempfile.TemporaryDirectory(prefix="datacall-pipeline-") as tmp:
        folder = Path(tmp)
        for kind in databases:
            dbs = Databases(kind, folder / kind)
            try:
                if kind == databases[0]:
                    report["startup"] = startup(dbs, model, folder)
                for size in sizes:
                    texts = make_texts(size)
                    row: dict = {"database": kind, "messages": size}
                    say(f"{kind}, {size:,} messages: ceiling, plain script …")
                    row["ceiling"] = ceiling(dbs.fresh(), texts, classifier)
                    row["plain"] = plain_script(dbs.fresh(), texts, classifier)
                    say(f"{kind}, {size:,} messages: in one process …")
                    url = dbs.fresh()
                    seed(url, texts)
                    row["in_process"] = in_process(url, size, model)
                    if once:
                        say(f"{kind}, {size:,} messages: datacall run --once …")
                        url = dbs.fresh()
                        seed(url, texts)
                        row["once"] = run_once(url, size, model, folder)
                    for count in worker_counts:
                        say(f"{kind}, {size:,} messages: {count} datacall run worker(s) …")
                        url = dbs.fresh()
                        seed(url, texts)
                        row[f"workers_{count}"] = workers(url, size, model, folder, count, timeout=timeout)
                    row["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                    report["results"].append(_with_ratios(row))
                    say(json.dumps(row))  # each result as soon as it is measured
                if memory_messages and kind == "sqlite":
                    say(f"memory run over {memory_messages:,} messages …")
                    report["memory"] = memory_run(dbs, model, folder, memory_messages, say=say)
            finally:
                dbs.close()
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def _with_ratios(row: dict) -> dict:
    """Rates and ratios to the ceiling, by wall clock and by CPU second (on a shared machine, the CPU
    figures are the steadier ones; they leave out the PostgreSQL server's own CPU)."""
    size, ceiling = row["messages"], row["ceiling"]
    for value in row.values():
        if isinstance(value, dict) and "seconds" in value:
            value["messages_per_second"] = round(size / value["seconds"], 1)
            value["ratio_to_ceiling"] = round(ceiling["seconds"] / value["seconds"], 3)
            value["ratio_to_ceiling_cpu"] = round(ceiling["cpu_seconds"] / max(value["cpu_seconds"], 1e-9), 3)
            value["seconds"] = round(value["seconds"], 2)
            value["cpu_seconds"] = round(value["cpu_seconds"], 2)
    return row


LABELS = {
    "ceiling": "ceiling: bare `nlp.pipe` + bulk INSERT",
    "plain": "plain batched script (1,000 per batch)",
    "in_process": "datacall jobs, one process, model loaded",
    "once": "`datacall run --once` (start-up included)",
}


def markdown(report: dict) -> str:
    lines = [
        "| database | messages | path | seconds (wall / CPU) | messages/s (wall) | ratio to ceiling (wall / CPU) "
        "| notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        for key, value in row.items():
            if not isinstance(value, dict) or "seconds" not in value:
                continue
            label = LABELS.get(key) or f"`datacall run` × {key.split('_')[1]} (long-running)"
            notes = ""
            if key == "ceiling":
                notes = f"nlp.pipe {value['nlp_pipe_s']:.2f} s + INSERT {value['insert_s']:.2f} s"
            elif key == "in_process":
                notes = "time share: " + ", ".join(f"{k} {v:.0%}" for k, v in value["share"].items())
            elif key.startswith("workers_"):
                skipped = sum(value["skipped"].values())
                notes = (f"skipped runs: {skipped}" + (f" ({value['skipped']})" if skipped else "")
                         + f"; `{LOCKED}`: {value['locked']}")
            elif key == "once":
                notes = "all acknowledged" if value["complete"] else "NOT complete"
            if "awaiting_suggestions" in value:
                notes += f"; requests not yet through suggestions: {value['awaiting_suggestions']:,}"
            lines.append(f"| {row['database']} | {row['messages']:,} | {label} | "
                         f"{value['seconds']:.2f} / {value['cpu_seconds']:.2f} | {value['messages_per_second']:,.0f} | "
                         f"{value['ratio_to_ceiling']:.3f} / {value['ratio_to_ceiling_cpu']:.3f} | {notes} |")
    if "startup" in report:
        lines.append("")
        up = report["startup"]
        lines.append(f"Start-up: `datacall run --once` with nothing to do {up['run_once_empty_s']} s wall, "
                     f"{up['run_once_empty_cpu_s']} CPU-s (model not loaded); a Python process importing "
                     f"`classifiers`, loading the model and classifying one text {up['model_load_s']} s wall, "
                     f"{up['model_load_cpu_s']} CPU-s.")
    if "memory" in report:
        memory = report["memory"]
        lines.append(f"Memory: one `datacall run` worker, {memory['messages']:,} messages in {memory['seconds']} s, "
                     f"highest RSS per quarter {memory['rss_max_per_quarter_mb']} MB (max {memory['rss_max_mb']} MB).")
    lines.append(f"Load average before / after: {report['load_average_before']} / {report['load_average_after']} "
                 f"({report['cpu_count']} CPUs).")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20_000])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 3], help="worker counts; none: no worker run")
    parser.add_argument("--no-once", action="store_true", help="leave out the `datacall run --once` runs")
    parser.add_argument("--memory-messages", type=int, default=0)
    parser.add_argument("--model", type=Path, default=None, help="a trained model folder (default: the packaged one)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run(sizes=args.sizes, databases=args.databases, worker_counts=args.workers, once=not args.no_once,
                 memory_messages=args.memory_messages, model=args.model)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
