"""benchmarks/web.py runs end to end on a couple of hundred rows; timings are not checked, only the report.

And the queue read in parts (with or without a cursor) gives the same pages as the single ORDER BY it replaces.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload

from benchmarks import web as bench
from bot.config import Config, DatabaseConfig
from bot.runtime import Runtime
from bot.web import queue
from bot.web.pager import Page, Window
from storage.migrate import upgrade
from storage.models import Message, Request
from storage.support import support_count
from tests.test_web_queue import message_ids
from tests.web_support import add_message, login


def test_generated_rows_are_consistent():
    data = bench.generate(20, 200)
    assert {table: len(rows) for table, rows in data.items() if table != "status_events"} == {
        "requesters": 60, "requests": 20, "messages": 200}
    for table, rows in data.items():
        assert all(len(row) == len(bench.COLUMNS[table]) for row in rows), table
    networks = {row[0]: row[1] for row in data["requesters"]}
    assert all(message[1] == networks[message[3]] for message in data["messages"])  # a requester's network
    supported = {message[-1] for message in data["messages"] if message[-1]}
    assert supported == set(range(1, 21))  # every request has messages


def test_benchmark_report_structure():
    report = bench.run(requests=20, messages=200, repeat=2, warmup=1, databases=("SQLite",), say=lambda _: None)
    result = report["databases"]["SQLite"]
    assert set(result) == {"seed", "sizes", "pages", "ceiling"}
    assert result["sizes"]["todo"] > 0 and result["sizes"]["listed"] > 0
    assert set(result["ceiling"]) == {"p50_ms", "p95_ms", "max_ms"}
    pages = result["pages"]
    assert {"queue", "queue, deep page, typed URL", "queue, search", "queue, network", "dashboard",
            "dashboard, deep page", "dashboard, network filter", "permalink"} <= set(pages) <= {
        *bench_page_names()}
    for name, row in pages.items():
        assert row["url"].startswith("/") and row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"], name
        assert ("query" in row) == (name.startswith("queue") and "not cached" not in name), name
    assert all("after=" in row["url"] for name, row in pages.items() if "next link" in name)
    assert all("before=" in row["url"] for name, row in pages.items() if "previous link" in name)
    table = bench.markdown(report)
    assert "ceiling: `GET /login`" in table and table.count("| SQLite |") == len(pages) + 1


def bench_page_names() -> list[str]:
    names = ["queue", "queue, counts not cached", "dashboard, counts not cached", "queue, deep page, typed URL",
             "queue, search", "queue, network", "dashboard", "dashboard, deep page", "dashboard, network filter",
             "permalink"]
    names += ["queue, mine", "queue, unassigned", "queue, newest first", "queue, most supported",
              "queue, highest score", "queue, lowest score", "queue, least sure first", "queue, newest, page 3"]
    return names + ["queue, deep page, via the previous link"] + [
        f"queue{part}, deep page, via the next link" for part in ("", ", search", ", network")]


def reference_rows(db, filters: queue.Filters, page: int):
    """The queue page as one ORDER BY over the three keys (what queue_page_rows did before)."""
    query = (
        select(Message, Request).outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester)).where(*filters.where())
        .order_by(case((Message.needs_review.is_(True), 0), else_=1),
                  case((Request.status == "received", 0), else_=1), Message.id)
        .limit(queue.PAGE_SIZE + 1).offset((page - 1) * queue.PAGE_SIZE)
    )
    rows = [(message.id, request.id if request else None) for message, request in db.execute(query)]
    return rows[:queue.PAGE_SIZE], len(rows) > queue.PAGE_SIZE


def ids_of(shown: Page) -> list[tuple[int, int | None]]:
    return [(message.id, request.id if request else None) for message, request in shown.rows]


def cursor_of(row) -> str:
    """A row's cursor worked out from its fields, as the links say it: part.id (parts: see queue._parts)."""
    message, request = row
    new = request is not None and request.status == "received"
    return f"{(0 if message.needs_review else 2) + (0 if new else 1)}.{message.id}"


@pytest.mark.parametrize("filters", [
    queue.Filters(), queue.Filters(scope="all"), queue.Filters(network="mastodon"),
    queue.Filters(scope="all", q="canteen"), queue.Filters(scope="all", status="none"),
])
def test_queue_parts_give_the_same_pages(tmp_path, filters):
    rt = Runtime.from_config(Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'b.db'}")),
                             say=lambda _: None)
    try:
        upgrade(rt.engine)
        bench.seed(rt, 20, 200)
        with rt.sessions() as db:
            # A few messages to review, some of them on new requests: every part of the order is there.
            for message in db.scalars(select(Message).order_by(Message.id.desc()).limit(40)).all()[::3]:
                message.needs_review = True
            db.commit()
            page, after, seen = 1, None, {}
            while True:
                expected = reference_rows(db, filters, page)
                by_offset = queue.queue_page_rows(db, filters, Window(page))
                by_cursor = queue.queue_page_rows(db, filters, Window(page, after=after))
                for shown in (by_offset, by_cursor):
                    assert (ids_of(shown), shown.next is not None) == expected, page
                    assert shown.previous == (queue.parse_cursor(cursor_of(shown.rows[0]), filters.scope)
                                              if page > 2 else None)
                seen[page] = (expected, by_cursor)
                if not expected[1]:
                    break
                assert by_cursor.next == by_offset.next == queue.parse_cursor(cursor_of(by_cursor.rows[-1]),
                                                                              filters.scope)
                after = queue.parse_cursor(str(by_cursor.next), filters.scope)
                page += 1
            if filters in (queue.Filters(), queue.Filters(scope="all")):
                assert page > 1  # the cursor was followed across pages and parts
            for number in range(2, page + 1):  # back from each page to the one before it
                before = queue.parse_cursor(cursor_of(seen[number][1].rows[0]), filters.scope)
                shown = queue.queue_page_rows(db, filters, Window(number - 1, before=before))
                assert (ids_of(shown), shown.next is not None) == seen[number - 1][0]
    finally:
        rt.close()


def test_the_pager_links_carry_cursors_and_agree_with_page_numbers(client, users):
    with users.sessions() as session, session.begin():
        for n in range(queue.PAGE_SIZE * 3 + 4):
            add_message(session, f"@p{n}", f"Please publish dataset number {n}", needs_review=n % 2 == 0)
    login(client)
    typed = [message_ids(client.get(f"/queue?scope=all&page={n}").text) for n in (1, 2, 3, 4)]
    assert [len(ids) for ids in typed] == [queue.PAGE_SIZE] * 3 + [4]
    url, browsed = "/queue?scope=all", []
    for _ in range(4):
        page = client.get(url).text
        browsed.append(message_ids(page))
        found = re.search(r'<a href="([^"]+)" rel="next"', page)
        if not found:
            break
        url = html.unescape(found.group(1))
        assert "after=" in url
    assert browsed == typed
    back = html.unescape(re.search(r'<a href="([^"]+)" rel="prev"', client.get(url).text).group(1))
    assert "before=" in back and "page=3" in back and "after=" not in back
    assert message_ids(client.get(back).text) == typed[2]
    assert client.get("/queue?page=2&after=nonsense&before=9.x").status_code == 200


@pytest.mark.parametrize("filters", [
    queue.Filters(sort="support"), queue.Filters(sort="support", network="mastodon"),
    queue.Filters(sort="support", scope="all", q="canteen"), queue.Filters(sort="unsure"),
    queue.Filters(sort="unsure", scope="all", network="twitter"), queue.Filters(sort="score"),
    queue.Filters(sort="score", scope="all"), queue.Filters(sort="lowest"),
    queue.Filters(sort="lowest", scope="all", network="twitter"), queue.Filters(assignee="me", me=1),
    queue.Filters(assignee="me", me=1, scope="all"),
])
def test_sorts_and_mine_read_from_indexes_give_the_same_pages(tmp_path, filters):
    """Most supported (stored support), least sure (two walks from 0.5), highest and lowest score (a walk per
    queue part) and mine (ids first) against plain queries."""
    rt = Runtime.from_config(Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'b.db'}")),
                             say=lambda _: None)
    try:
        upgrade(rt.engine)
        bench.seed(rt, 60, 600)
        with rt.sessions() as db:
            for n, message in enumerate(db.scalars(select(Message).order_by(Message.id.desc()).limit(90)).all()):
                if n % 3 == 0:  # scores on both sides of 0.5, some equally far from it
                    message.needs_review, message.score = True, (0.45, 0.55, 0.5, 0.6, 0.4, 0.52)[n % 6]
            db.commit()
            expected = sorted_reference(db, filters)
            assert expected  # the filters keep something
            pages = []
            for page in range(1, len(expected) // queue.PAGE_SIZE + 3):
                if filters.sort:
                    rows, has_next = queue.sorted_page_rows(db, filters, page)
                else:
                    shown = queue.queue_page_rows(db, filters, Window(page))
                    rows, has_next = shown.rows, shown.next is not None
                assert has_next == (len(expected) > page * queue.PAGE_SIZE), page
                pages += [m.id for m, _ in rows]
            assert pages == expected
    finally:
        rt.close()


def sorted_reference(db, filters: queue.Filters) -> list[int]:
    """Message ids in the order the view promises, from plain queries and storage.support."""
    rows = db.execute(
        select(Message.id, Message.request_id, Message.score).outerjoin(Request, Message.request_id == Request.id)
        .where(*filters.where())
    ).all()
    if filters.sort == "unsure":
        return [row.id for row in sorted(rows, key=lambda row: (abs(row.score - 0.5), row.id))]
    if filters.sort in ("score", "lowest"):
        sign = -1 if filters.sort == "score" else 1
        return [row.id for row in sorted(rows, key=lambda row: (sign * row.score, row.id))]
    if filters.sort == "support":
        first: dict[int, int] = {}
        for row in rows:
            if row.request_id is not None:
                first[row.request_id] = min(first.get(row.request_id, row.id), row.id)
        support = support_count(db, first)
        return [first[request_id] for request_id in sorted(first, key=lambda i: (-support[i], i))]
    return [message_id for page in range(1, len(rows) // queue.PAGE_SIZE + 2)
            for message_id, _ in reference_rows(db, filters, page)[0]]
