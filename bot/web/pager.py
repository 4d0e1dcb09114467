"""Paging a list made of parts shown one after another, each part in message id order.

Each part is one index walk by message id (the queue's parts: a stored part number and
the id). `read_page` takes a page across the parts: from the top and a page number (a
typed URL: the rows above it are passed as ids, in the index), or from a cursor (the
pager's links), which costs a few short index walks however deep the page is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from bot.web.views import parse_id
from storage.models import Message, Request

Row = tuple[Message, Request | None]


class Cursor(NamedTuple):
    """A row's place in the list: the index of its part and its message id; `after=`/`before=` say `part.id`."""

    part: int
    message_id: int

    def __str__(self) -> str:
        return f"{self.part}.{self.message_id}"

    @classmethod
    def parse(cls, value: str | None, parts: int) -> Cursor | None:
        """The cursor `value` names in a list of `parts` parts, or None (missing, malformed or out of range)."""
        part, _, message_id = (value or "").partition(".")
        part_number, message_number = parse_id(part), parse_id(message_id)
        if part_number is not None and message_number is not None and part_number < parts:
            return cls(part_number, message_number)
        return None


@dataclass(frozen=True)
class Window:
    """The page asked for: its number, and where the link that led to it says it starts or ends."""

    page: int = 1
    after: Cursor | None = None  # the page starts right after this row (the "next" link)
    before: Cursor | None = None  # the page ends right before this row (the "previous" link)


@dataclass(frozen=True)
class Part:
    """One stretch of the list: the rows matching `where`, in message id order."""

    where: tuple[ColumnElement[bool], ...]


@dataclass(frozen=True)
class Page:
    """The rows of one page, and the cursors the links to the pages around it carry."""

    rows: list[Row]
    next: Cursor | None  # the last row, when more rows follow
    previous: Cursor | None  # the first row, from page 3 on (page 1 is the top: its link needs no cursor)


def read_page(db: Session, parts: Sequence[Part], window: Window, size: int, *,
              rows: Select[Message, Request], ids: Select[int]) -> Page:
    """The page `window` asks for, `size` rows at most, across `parts` in their order.

    `rows` selects (Message, Request) and `ids` selects Message.id, both with the list's
    filters and no order; each part adds its own conditions.
    """
    read: list[tuple[Cursor, Row]] = []  # the page's rows so far, each with its place in the list
    start = window.after  # read forward from right after this row (None: from the top)...
    skip = 0 if window.after is not None else (window.page - 1) * size  # ...passing this many rows first

    # 1. Backwards from `before`: the `size` rows right above it, nearest first, part by part.
    if window.before is not None:
        above: list[tuple[Cursor, Row]] = []
        for index in range(window.before.part, -1, -1):
            where = parts[index].where
            if index == window.before.part:
                where = (*where, Message.id < window.before.message_id)
            query = rows.where(*where).order_by(Message.id.desc()).limit(size - len(above))
            above += [(Cursor(index, message.id), (message, request)) for message, request in db.execute(query)]
            if len(above) == size:
                break
        if len(above) == size:  # the page; the forward read below only looks one row past its end
            read = above[::-1]
            start, skip = read[-1][0], 0
        # else fewer than a page lies above it (rows were decided since): the page number counts from the top.

    # 2. Forwards from `start`: pass `skip` rows, then read until the page is full and one row more
    # (that row only tells whether a next page exists).
    for index, part in enumerate(parts):
        wanted = size + 1 - len(read)
        if wanted <= 0:
            break
        if start is not None and index < start.part:
            continue
        where = part.where
        if start is not None and index == start.part:
            where = (*where, Message.id > start.message_id)
        if not skip:
            query = rows.where(*where).order_by(Message.id).limit(wanted)
            read += [(Cursor(index, message.id), (message, request)) for message, request in db.execute(query)]
            continue
        # A typed deep page: pass the skipped rows as ids only, then read the rows of the ids kept.
        kept = list(db.scalars(ids.where(*where).order_by(Message.id).limit(wanted).offset(skip)))
        if kept:
            skip = 0
            read += [(Cursor(index, message.id), (message, request)) for message, request in rows_by_id(db, rows, kept)]
        else:  # the whole part lies above the page: pass its rows
            skip -= db.scalar(select(func.count()).select_from(ids.where(*where).limit(skip).subquery())) or 0

    return page_of(read[:size], more=len(read) > size, number=window.page)


def page_of(placed: list[tuple[Cursor, Row]], *, more: bool, number: int) -> Page:
    """Page `number` of these rows (each with its place in the list); `more` if rows follow it."""
    return Page(
        rows=[row for _, row in placed],
        next=placed[-1][0] if more and placed else None,
        previous=placed[0][0] if number > 2 and placed else None,
    )


def rows_by_id(db: Session, rows: Select[Message, Request], message_ids: list[int]) -> list[Row]:
    """The rows of these message ids, in that order."""
    found = {message.id: (message, request) for message, request in db.execute(rows.where(Message.id.in_(message_ids)))}
    return [found[message_id] for message_id in message_ids if message_id in found]
