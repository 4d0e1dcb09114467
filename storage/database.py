"""Engines and sessions: SQLite file by default (WAL, foreign keys on), PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from storage.support import keep_counts


class DatabaseError(RuntimeError):
    """The database cannot be used as configured; the message says what to do."""


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and route them to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")
EXAMPLES = "sqlite:///path/to/file.db or postgresql://user@host/database"


def check_url(url: str) -> None:
    """A URL datacall can use, else a one-line DatabaseError saying what to write instead."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(f"not a database URL ({_first_line(exc)}): expected {EXAMPLES}") from None
    if parsed.drivername not in DRIVERS:
        backend = parsed.drivername.partition("+")[0]
        what = f"{backend} is not supported" if backend not in ("sqlite", "postgresql", "postgres") \
            else f"driver {parsed.drivername} is not available"
        raise DatabaseError(f"{what}: use {EXAMPLES}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def one_line(exc: BaseException) -> str:
    """A database error as one line: the driver's first line, without SQL, parameters or help links."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {_first_line(original)}"


def make_engine(url: str) -> Engine:
    check_url(url)
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot use SQLite file {database}: its folder {folder} cannot be made "
                    f"({exc.strerror or exc}; is part of the path a file?)"
                ) from None
        # A generous busy timeout: several jobs (and processes) share one file.
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself: the driver's own would come only before the
    # first write, so a transaction's reads and writes would not be one unit.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    """Take SQLite's write lock at the start: workers queue (busy timeout) instead of racing.

    A reading session (`reading`) begins a plain deferred transaction instead: in WAL
    mode it reads a snapshot and never waits for, nor blocks, a writer.
    """
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "datacall_read_only"


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only: it takes no write lock; closing it ends its transaction.

    Rows read stay usable after the block (closing, unlike a rollback, does not expire them).
    """
    with sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: jobs read rows after committing their claim.
    sessions = sessionmaker(engine, expire_on_commit=False)
    keep_counts(sessions)  # each request's stored support follows its supporters
    return sessions


def describe(engine: Engine) -> str:
    """Where the data lives, for humans (no password)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database or ":memory:").resolve())
    return url.render_as_string(hide_password=True)


def dialect_insert(session: Session, model: type) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the session's database that can say what to do ON CONFLICT (both backends speak it)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
