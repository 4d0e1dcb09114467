"""A working copy of the database in a new SQLite file, e.g. for a rehearsal that must not touch the real one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from storage.database import make_engine
from storage.migrate import upgrade
from storage.models import Base


class CopyError(Exception):
    """The source cannot be read or copied; the message says why in one line."""


def copy_to_sqlite(source_url: str, target: Path) -> None:
    """A SQLite file copy (online backup), or PostgreSQL rows copied into a new SQLite database."""
    url = make_url(source_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or url.database == ":memory:" or not path.exists():
            raise CopyError(f"no database at {path}; run: datacall init")
        try:
            source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            destination = sqlite3.connect(target)
            try:
                source.backup(destination)
            finally:
                source.close()
                destination.close()
        except sqlite3.Error as exc:
            raise CopyError(f"cannot copy {path}: {exc}") from exc
        engine = make_engine(f"sqlite:///{target}")
        upgrade(engine)
        engine.dispose()
        return
    source_engine = make_engine(source_url)
    engine = make_engine(f"sqlite:///{target}")
    try:
        upgrade(engine)
        with source_engine.connect() as reader, engine.begin() as writer:
            writer.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # rows may point at later rows
            for table in Base.metadata.sorted_tables:
                rows = [dict(row) for row in reader.execute(select(table)).mappings()]
                if rows:
                    writer.execute(insert(table), rows)
    except Exception as exc:
        raise CopyError(f"cannot copy the database: {exc}") from exc
    finally:
        source_engine.dispose()
        engine.dispose()
