"""The pager across a list's parts (bot/web/pager.py), on SQLite and PostgreSQL.

Small pages over parts of known sizes, so that pages end exactly at a part's end,
parts are empty, and a filter empties a part: every page is checked against the
list sorted in Python, reached by its number, by the "next" cursor of the page
before it and by the "previous" cursor of the page after it.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from bot.web.pager import Cursor, Page, Part, Window, read_page
from storage.models import Message, Request
from tests.web_support import add_message

NETWORKS = ("a", "b", "c", "d")  # one part per network, shown in this order
SIZE = 3


def store(sessions, sizes: tuple[int, ...], *, french: str = "") -> None:
    """`sizes[i]` messages on network i, their ids interleaved across networks; those on `french` in French."""
    left = dict(zip(NETWORKS, sizes, strict=True))
    with sessions() as session, session.begin():
        while any(left.values()):
            for network in NETWORKS:
                if left[network]:
                    left[network] -= 1
                    add_message(session, f"@{network}{left[network]}", "Please publish the budget",
                                network=network, lang="fr" if network == french else "en")


def parts() -> list[Part]:
    """One part per network."""
    return [Part((Message.network == network,)) for network in NETWORKS]


def expected(sessions) -> list[Cursor]:
    """The list in English only (the filter), by part then id, sorted here rather than by the pager."""
    with sessions() as session:
        rows = session.execute(select(Message.network, Message.id).where(Message.lang == "en")).all()
    return sorted(Cursor(NETWORKS.index(network), message_id) for network, message_id in rows)


def page(sessions, window: Window, *, statements: list[str] | None = None) -> Page:
    """The page `window` asks for; the SQL it ran (bound values written in) goes to `statements`."""
    with sessions() as session:
        if statements is not None:
            dialect = session.get_bind().dialect
            event.listen(session, "do_orm_execute", lambda state: statements.append(
                str(state.statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))))
        rows = (select(Message, Request).outerjoin(Request, Message.request_id == Request.id)
                .where(Message.lang == "en"))
        ids = select(Message.id).outerjoin(Request, Message.request_id == Request.id).where(Message.lang == "en")
        return read_page(session, parts(), window, SIZE, rows=rows, ids=ids)


def places(shown: Page) -> list[Cursor]:
    return [Cursor(NETWORKS.index(message.network), message.id) for message, _ in shown.rows]


@pytest.mark.parametrize(("sizes", "french"), [
    ((3, 0, 4, 2), ""),  # a page ends at the end of a part; an empty part between two
    ((2, 2, 2, 2), ""),  # pages straddle every boundary
    ((0, 0, 5, 0), ""),  # empty parts before and after the only one
    ((1, 6, 0, 3), "b"),  # a filter empties the longest part
    ((3, 3, 0, 0), ""),  # the last part with rows ends the last page exactly
])
def test_every_page_by_number_next_and_previous(sessions, sizes, french):
    store(sessions, sizes, french=french)
    listed = expected(sessions)
    pages = [listed[start:start + SIZE] for start in range(0, len(listed), SIZE)] or [[]]
    shown = {}
    for number, rows in enumerate(pages, start=1):
        statements: list[str] = []
        typed = page(sessions, Window(number), statements=statements)
        assert any(re.search(r"OFFSET [1-9]", sql) for sql in statements) == (number > 1)  # counted from the top
        assert places(typed) == rows, number
        assert typed.next == (rows[-1] if number < len(pages) else None)
        assert typed.previous == (rows[0] if number > 2 else None)  # page 1 is the top: no cursor
        shown[number] = typed
    assert page(sessions, Window(len(pages) + 1)).rows == []  # past the end: an empty page, no links
    for number in range(2, len(pages) + 1):  # forward through each "next" link
        statements = []
        followed = page(sessions, Window(number, after=shown[number - 1].next), statements=statements)
        assert (places(followed), followed.next, followed.previous) == (
            pages[number - 1], shown[number].next, shown[number].previous)
        assert statements and not any(re.search(r"OFFSET [1-9]", sql) for sql in statements)  # keyset reads
    for number in range(2, len(pages) + 1):  # back through each "previous" cursor (the first row of a page)
        statements = []
        back = page(sessions, Window(number - 1, before=pages[number - 1][0]), statements=statements)
        assert (places(back), back.next) == (pages[number - 2], pages[number - 2][-1])
        assert statements and not any(re.search(r"OFFSET [1-9]", sql) for sql in statements)


def test_going_back_from_near_the_top_counts_from_the_top(sessions):
    """Rows decided since the link was made: fewer than a page lies above `before`, so the number decides."""
    store(sessions, (2, 0, 4, 0))
    listed = expected(sessions)
    back = page(sessions, Window(2, before=listed[2]))  # only two rows above it
    assert places(back) == listed[SIZE:2 * SIZE] and back.next is None
    # Back from a row now gone with everything below it: the last rows, and no next page after them.
    last = page(sessions, Window(3, before=Cursor(len(NETWORKS) - 1, 10**6)))
    assert places(last) == listed[-SIZE:] and last.next is None and last.previous == listed[-SIZE]


def test_after_the_last_row_of_a_part_goes_on_with_the_next_part(sessions):
    store(sessions, (2, 0, 3, 1))
    listed = expected(sessions)
    last_of_a = listed[1]
    assert places(page(sessions, Window(2, after=last_of_a))) == listed[2:5]
    # A cursor past every row of its part (those rows were decided since) still starts at the next part.
    assert places(page(sessions, Window(2, after=Cursor(0, 10**6)))) == listed[2:5]


def test_cursors_say_part_and_id_and_refuse_anything_else():
    assert str(Cursor(2, 856555)) == "2.856555"
    assert Cursor.parse("2.856555", 4) == Cursor(2, 856555)
    for bad in ("", None, "2", "2.", ".5", "x.5", "2.5.1", "-1.5", "4.5", "2.99999999999", "².5"):
        assert Cursor.parse(bad, 4) is None, bad
