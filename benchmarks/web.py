"""Latency of the web app's heavy pages on SQLite and PostgreSQL, as ratios to a trivial page of the same app.

    python -m benchmarks.web [--requests 100000 --messages 1000000] [--small] [--repeat 50] [--keep DIR]

Seeds a realistic database with bulk inserts (executemany on SQLite, COPY on
PostgreSQL): four campaigns, four networks, ~0.3 requester per message, ~10
messages per request, the oldest campaigns mostly decided, the current one
mostly waiting, a few percent of messages in the classifier's uncertain band.
Then times the real ASGI app in-process (Starlette's TestClient, no network):
the officers' queue (logged in; default filters, a text search, a network
filter; first page and a deep page; "mine", "unassigned" and each sort: newest,
most supported, highest and lowest score, least sure first) and the public dashboard (`/`, a deep
page, a request permalink), `--repeat` timed GETs per page after `--warmup`.

The counts that read every row (what waits in the queue, requests per status,
campaign and network, the filter choices) are kept a few seconds per process
(bot/web/cache.py); the "counts not cached" rows empty that cache before every
GET, which is what one visit per expiry pays.

The ceiling, measured in the same run on the same app: `GET /login`, a page
that goes through every middleware, the worker thread, a database session and
a template, but reads no data. A ratio of 0.5 means the page takes twice as
long as the app's fixed cost. For the queue the main SQL query alone (the page
of rows) is timed too.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from bot.config import Config, DatabaseConfig
from bot.runtime import Runtime
from storage.migrate import upgrade
from storage.models import Campaign

with warnings.catch_warnings():  # starlette asks for `httpx2`; the httpx it still supports is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NETWORKS = (("twitter", 0.45), ("mastodon", 0.25), ("telegram", 0.2), ("sandbox", 0.1))
LANGS = (("fr", 0.6), ("en", 0.35), ("de", 0.03), ("es", 0.02))
CAMPAIGNS = ("2026-q2", "2026-q3", "2026-q4", "2027-q1")
SUBJECTS = (
    "bike counters per hour", "school canteen menus", "bus punctuality per line", "tree inventory",
    "parking occupancy", "noise measurements", "public toilets", "building permits", "air quality",
    "playgrounds", "library opening hours", "street works", "waste collection days", "EV chargers",
    "council budget lines", "water quality", "public wifi hotspots", "cycle lanes", "grants to associations",
)
ASKS = (
    "Please publish the {s} as open data, CSV if possible",
    "Pourriez-vous publier les données {s} ? Merci",
    "Where can I find the {s} dataset?",
    "Où trouver {s} en format ouvert ?",
    "Could you release {s} with more detail and fresher updates",
)
CHATTER = (
    "The bus was late again this morning, third time this week",
    "Poubelles pas ramassées rue des Lilas depuis lundi",
    "Thanks for the great work on the new park!",
    "My neighbour's dog barks all night, who do I call?",
    "Bravo pour la fête de quartier",
)
# Request statuses: (status, weight) for the decided campaigns and for the current one.
OLD_STATUSES = (("received", 3), ("under_review", 5), ("accepted", 15), ("in_progress", 10), ("published", 25),
                ("already_available", 12), ("out_of_scope", 10), ("declined", 10), ("duplicate", 10))
NEW_STATUSES = (("received", 55), ("under_review", 20), ("accepted", 8), ("in_progress", 4), ("published", 2),
                ("already_available", 3), ("out_of_scope", 3), ("declined", 2), ("duplicate", 3))
START = datetime(2026, 1, 5, tzinfo=UTC)
SPAN = timedelta(days=320)
SEARCH = "canteen"
PASSWORD = "benchmark password"


def _pick(rng: random.Random, choices) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def generate(requests: int, messages: int, seed: int = 42) -> dict[str, list[tuple]]:
    """Rows as tuples in the column order of COLUMNS, ids from 1; deterministic."""
    rng = random.Random(seed)
    assigning = random.Random(seed + 1)  # its own sequence, so the other rows stay as they were
    n_requesters = max(1, int(messages * 0.3))
    requesters = []
    for i in range(1, n_requesters + 1):
        network = _pick(rng, NETWORKS)
        requesters.append((i, network, f"u{i}", f"@citizen{i}", _pick(rng, LANGS), False, rng.random() < 0.05,
                           START + SPAN * (i / n_requesters)))
    rows_requests, events = [], []
    campaign_of = []
    for r in range(1, requests + 1):
        campaign = min(len(CAMPAIGNS), 1 + (r - 1) * len(CAMPAIGNS) // requests)
        status = _pick(rng, NEW_STATUSES if campaign == len(CAMPAIGNS) else OLD_STATUSES)
        duplicate_of = rng.randint(max(1, r - 5000), r - 1) if status == "duplicate" and r > 1 else None
        if status == "duplicate" and duplicate_of is None:
            status = "received"
        created = START + SPAN * (r / requests)
        answer = None if status in ("received", "under_review", "accepted", "in_progress") else f"Answer {r}"
        url = f"https://data.example.org/d/{r}" if status in ("published", "already_available") else None
        subject = SUBJECTS[r % len(SUBJECTS)]
        # A fifth of the open requests of the current campaign are assigned to the benchmark's officer (user 1).
        assignee = 1 if campaign == len(CAMPAIGNS) and answer is None and assigning.random() < 0.2 else None
        rows_requests.append((r, f"{subject} #{r}", status, campaign, duplicate_of, answer, url, created, created,
                              assignee))
        campaign_of.append(campaign)
        events.append((r, "received", None, None, None, "datacall", created))
        if status != "received":
            events.append((r, status, answer, url, duplicate_of, "officer", created + timedelta(days=3)))
    rows_events = [(i, *event) for i, event in enumerate(events, start=1)]
    rows_messages = []
    for j in range(1, messages + 1):
        frac = j / messages
        requester = rng.randint(1, n_requesters)
        network = requesters[requester - 1][1]
        lang = requesters[requester - 1][4]
        received = START + SPAN * frac
        current = min(requests, 1 + int(frac * requests))
        roll = rng.random()
        request_id, needs_review = None, False
        if roll < 0.88:  # supports a request: usually the newest one, sometimes an older one
            request_id = current if rng.random() < 0.6 else rng.randint(max(1, current - requests // 10), current)
            label, score = "data_request", round(rng.uniform(0.75, 1.0), 3)
            text = ASKS[j % len(ASKS)].format(s=SUBJECTS[request_id % len(SUBJECTS)]) + f" ({j})"
        elif roll < 0.97 or frac < 0.75:  # chatter, or old uncertain messages already decided
            label, score = "off_topic", round(rng.uniform(0.0, 0.3), 3)
            text = CHATTER[j % len(CHATTER)] + f" ({j})"
        else:  # the uncertain band of the current campaign: waits for an officer
            label, score, needs_review = "data_request", round(rng.uniform(0.45, 0.6), 3), True
            text = ASKS[j % len(ASKS)].format(s=SUBJECTS[j % len(SUBJECTS)]) + f" ({j})"
        campaign = campaign_of[request_id - 1] if request_id else min(len(CAMPAIGNS), 1 + int(frac * len(CAMPAIGNS)))
        rows_messages.append((
            j, network, f"m{j}", requester, campaign, text, lang, f"https://social.example/{network}/{j}",
            None, None, False, "public", received, received, label, score, "bench-1", needs_review,
            received, None if needs_review else received, request_id,
        ))
    support, networks = _support(rows_requests, rows_messages)
    rows_requests = [(*row, support[row[0]], networks[row[0]]) for row in rows_requests]
    return {"requesters": requesters, "requests": rows_requests, "status_events": rows_events,
            "messages": rows_messages}


def _support(rows_requests: list[tuple], rows_messages: list[tuple]) -> tuple[dict[int, int], dict[int, str]]:
    """Each request's stored support and networks (storage.support): distinct requesters of it and of every
    request merged into it, at any depth (the generator leaves a duplicate's messages on it); the networks of
    its own messages."""
    people: dict[int, set[int]] = {row[0]: set() for row in rows_requests}
    networks: dict[int, set[str]] = {row[0]: set() for row in rows_requests}
    for message in rows_messages:
        if message[-1] is not None:
            people[message[-1]].add(message[3])
            networks[message[-1]].add(message[1])
    # A duplicate always points to an older request: from the newest down, each passes its people up the chain.
    for row in reversed(rows_requests):
        if row[4] is not None:
            people[row[4]] |= people[row[0]]
    return ({request_id: len(found) for request_id, found in people.items()},
            {request_id: ",".join(sorted(names)) for request_id, names in networks.items()})


COLUMNS = {
    "requesters": ("id", "network", "external_user_id", "handle", "lang", "opted_out", "consented_public",
                   "created_at"),
    "requests": ("id", "title", "status", "campaign_id", "duplicate_of_id", "answer", "url", "created_at",
                 "updated_at", "assignee_id", "support", "networks"),
    "status_events": ("id", "request_id", "status", "answer", "url", "duplicate_of_id", "actor", "created_at"),
    "messages": ("id", "network", "external_id", "requester_id", "campaign_id", "text", "lang", "url",
                 "in_reply_to_id", "conversation_id", "is_private", "visibility", "sent_at", "received_at",
                 "label", "score", "model_version", "needs_review", "classified_at", "routed_at", "request_id"),
}


def _sqlite_value(value):
    if isinstance(value, datetime):  # SQLAlchemy's SQLite storage format, in UTC
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def bulk_load(engine: sa.Engine, data: dict[str, list[tuple]]) -> None:
    """executemany on SQLite, COPY on PostgreSQL; then the sequences and the planner statistics."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        if engine.dialect.name == "sqlite":
            cursor = driver.cursor()
            cursor.execute("BEGIN")
            for table, rows in data.items():
                columns = COLUMNS[table]
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                cursor.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))
            cursor.execute("COMMIT")
        else:
            with driver.cursor() as cursor:
                for table, rows in data.items():
                    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT max(id) FROM {table}))")
            driver.commit()
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")  # what autovacuum does soon after a load this size
            driver.autocommit = False
    finally:
        raw.close()


def seed(rt: Runtime, requests: int, messages: int) -> dict[str, float]:
    from bot.web.accounts import create_user

    started = time.perf_counter()
    with rt.sessions() as session, session.begin():
        for n, slug in enumerate(CAMPAIGNS):
            session.add(Campaign(slug=slug, title=f"Call {slug}", call_text="Which data do you need?",
                                 created_at=START + SPAN * (n / len(CAMPAIGNS))))
        create_user(session, "officer", PASSWORD, "officer")
    data = generate(requests, messages)
    generated = time.perf_counter()
    bulk_load(rt.engine, data)
    return {"generate_s": generated - started, "load_s": time.perf_counter() - generated}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(call, repeat: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": statistics.median(samples), "p95_ms": percentile(samples, 0.95), "max_ms": max(samples)}


def pages(rt: Runtime) -> tuple[list[tuple[str, str, dict | None]], dict[str, int]]:
    """(name, URL, queue filters or None) for every timed page; the deep pages sit half-way down the lists."""
    from bot.web import public, queue

    with rt.sessions() as session:
        todo = session.scalar(
            sa.select(sa.func.count()).select_from(queue.Message)
            .outerjoin(queue.Request, queue.Message.request_id == queue.Request.id).where(*queue.Filters().where())
        )
        listed = session.scalar(sa.select(sa.func.count()).select_from(public.Request).where(public.LISTED))
        permalink = session.scalar(
            sa.select(queue.Message.request_id).where(queue.Message.request_id.is_not(None))
            .group_by(queue.Message.request_id).order_by(sa.func.count().desc(), queue.Message.request_id).limit(1)
        )
    deep = max(2, todo // queue.PAGE_SIZE // 2)
    deep_public = max(2, listed // public.PAGE_SIZE // 2)
    network = "mastodon"
    # "next from" / "prev from": the page reached by the "next" link of the page before it, or the
    # "previous" link of the page after it, as an officer browses.
    return [
        ("queue", "/queue", {}),
        ("queue, counts not cached", "/queue", None),
        ("queue, deep page, next from", f"/queue?page={deep - 1}", {"page": deep}),
        ("queue, deep page, prev from", f"/queue?page={deep + 1}", {"page": deep}),
        ("queue, deep page, typed URL", f"/queue?page={deep}", {"page": deep}),
        ("queue, search", f"/queue?q={SEARCH}", {"q": SEARCH}),
        ("queue, search, deep page, next from", f"/queue?q={SEARCH}&page={max(1, deep // 10 - 1)}",
         {"q": SEARCH, "page": max(2, deep // 10)}),
        ("queue, network", f"/queue?network={network}", {"network": network}),
        ("queue, network, deep page, next from", f"/queue?network={network}&page={max(1, deep // 4 - 1)}",
         {"network": network, "page": max(2, deep // 4)}),
        # The officers' own views: their requests, the unassigned ones, and each sort (pages counted from the top).
        ("queue, mine", "/queue?assignee=me", {"assignee": "me", "me": 1}),
        ("queue, unassigned", "/queue?assignee=none", {"assignee": "none"}),
        ("queue, newest first", "/queue?sort=newest", {"sort": "newest"}),
        ("queue, most supported", "/queue?sort=support", {"sort": "support"}),
        ("queue, highest score", "/queue?sort=score", {"sort": "score"}),
        ("queue, lowest score", "/queue?sort=lowest", {"sort": "lowest"}),
        ("queue, least sure first", "/queue?sort=unsure", {"sort": "unsure"}),
        ("queue, newest, page 3", "/queue?sort=newest&page=3", {"sort": "newest", "page": 3}),
        ("dashboard", "/", None),
        ("dashboard, counts not cached", "/", None),
        ("dashboard, deep page", f"/?page={deep_public}", None),
        ("dashboard, network filter", f"/?network={network}", None),
        ("permalink", f"/requests/{permalink}", None),
    ], {"todo": todo, "listed": listed}


def measure(url: str, requests: int, messages: int, repeat: int, warmup: int, say=print) -> dict:
    from bot.web import accounts, create_app, queue
    from bot.web.pager import Window
    from bot.web.views import MAX_PAGE

    config = Config(database=DatabaseConfig(url=url))
    rt = Runtime.from_config(config, say=lambda _text: None)
    try:
        upgrade(rt.engine)  # on a kept database: only the migrations added since it was seeded
        if _seeded(rt):
            say("  reusing the seeded database")
            load = {"generate_s": 0.0, "load_s": 0.0}
        else:
            say(f"  seeding {requests:,} requests, {messages:,} messages")
            load = seed(rt, requests, messages)
            say(f"  seeded in {load['generate_s'] + load['load_s']:.1f} s")
        plan, sizes = pages(rt)
        app = create_app(rt, login_limiter=accounts.LoginLimiter())
        results = {"seed": load, "sizes": sizes, "pages": {}}
        with TestClient(app, headers={"Accept-Language": "en"}) as anonymous:
            results["ceiling"] = timed(lambda: _get(anonymous, "/login"), repeat, warmup)
        with TestClient(app, headers={"Accept-Language": "en"}) as officer, \
                TestClient(app, headers={"Accept-Language": "en"}) as public_client:
            _login(officer)
            for name, path, filters in plan:
                client = officer if path.startswith("/queue") else public_client
                after = before = None
                if name.endswith(("next from", "prev from")):
                    rel = name[-9:-5]
                    path = _link(client, path, rel)
                    if path is None:  # a list too short for this page (a --small run)
                        continue
                    name = name.replace(f"{rel} from", f"via the {'previous' if rel == 'prev' else 'next'} link")
                    query_string = parse_qs(urlsplit(path).query)
                    after = queue.parse_cursor(query_string.get("after", [""])[0], "todo")
                    before = queue.parse_cursor(query_string.get("before", [""])[0], "todo")
                if name.endswith("counts not cached"):  # what the first visit after the cache expires pays
                    def call(client=client, path=path):
                        app.state.cache.clear()
                        _get(client, path)
                else:
                    def call(client=client, path=path):
                        _get(client, path)
                row = {"url": path, **timed(call, repeat, warmup)}
                if filters is not None:
                    page = min(filters.pop("page", 1), MAX_PAGE)
                    chosen = queue.Filters(**filters)

                    def query(chosen=chosen, page=page, after=after, before=before):
                        with rt.sessions() as session:
                            if chosen.sort:
                                queue.sorted_page_rows(session, chosen, page)
                            else:
                                queue.queue_page_rows(session, chosen, Window(page, after, before))

                    row["query"] = timed(query, max(5, repeat // 2), min(warmup, 2))
                results["pages"][name] = row
                say(f"  {name:28} p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms")
        return results
    finally:
        rt.close()


def _seeded(rt: Runtime) -> bool:
    with rt.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Campaign)) > 0


def _get(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 200, (path, response.status_code)


def _link(client: TestClient, path: str, rel: str) -> str | None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', response.text)
    return html.unescape(found.group(1)) if found else None


def _login(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"name": "officer", "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.status_code


def postgres_url(folder: Path) -> tuple[str, object]:
    """The database `bench` on a pgserver in `folder`: new in a new folder, reused in a kept one."""
    import pgserver

    server = pgserver.get_server(folder, cleanup_mode="stop")
    uri = server.get_uri().replace("postgresql://", "postgresql+psycopg://")
    admin = sa.create_engine(uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = 'bench'")):
            connection.execute(sa.text('CREATE DATABASE "bench"'))
    admin.dispose()
    return sa.engine.make_url(uri).set(database="bench").render_as_string(hide_password=False), server


def run(requests: int, messages: int, repeat: int = 50, warmup: int = 5, databases=("SQLite", "PostgreSQL"),
        say=print, keep: Path | None = None) -> dict:
    """`keep`: seed the databases in that folder once and reuse them in later runs (same sizes expected)."""
    results = {"requests": requests, "messages": messages, "repeat": repeat, "warmup": warmup, "databases": {}}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) if keep is None else keep / f"{requests}-{messages}"
        folder.mkdir(parents=True, exist_ok=True)
        if "SQLite" in databases:
            say("SQLite")
            results["databases"]["SQLite"] = measure(f"sqlite:///{folder}/bench.db", requests, messages,
                                                     repeat, warmup, say)
        if "PostgreSQL" in databases:
            say("PostgreSQL")
            url, server = postgres_url(folder / "pg")
            try:
                results["databases"]["PostgreSQL"] = measure(url, requests, messages, repeat, warmup, say)
            finally:
                server.cleanup()
    return results


def markdown(results: dict) -> str:
    lines = [
        f"{results['requests']:,} requests, {results['messages']:,} messages; "
        f"{results['repeat']} timed GETs per page after {results['warmup']} warm-ups.",
        "",
        "| database | page | p50 ms | p95 ms | ratio to ceiling (p50) | main query p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    for database, result in results["databases"].items():
        ceiling = result["ceiling"]
        lines.append(f"| {database} | ceiling: `GET /login` (no data) | {ceiling['p50_ms']:.1f} | "
                     f"{ceiling['p95_ms']:.1f} | 1.00 | |")
        for name, row in result["pages"].items():
            query = f"{row['query']['p50_ms']:.1f}" if "query" in row else ""
            lines.append(f"| {database} | {name} (`{row['url']}`) | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                         f"{ceiling['p50_ms'] / row['p50_ms']:.3f} | {query} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="2,000 requests, 20,000 messages, 10 GETs per page")
    parser.add_argument("--database", choices=("SQLite", "PostgreSQL"), action="append",
                        help="only this database (repeatable); both by default")
    parser.add_argument("--keep", type=Path, help="seed the databases in this folder once, reuse them next time")
    args = parser.parse_args()
    if args.small:
        args.requests, args.messages, args.repeat, args.warmup = 2_000, 20_000, 10, 2
    results = run(args.requests, args.messages, args.repeat, args.warmup,
                  tuple(args.database or ("SQLite", "PostgreSQL")), keep=args.keep)
    print(markdown(results))


if __name__ == "__main__":
    main()
