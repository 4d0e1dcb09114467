"""Alembic, driven from code: `datacall init` creates or upgrades the schema.

Every other command only checks that the schema is current (`require_current`), which
reads the revisions without importing Alembic: a quarter of a second of start-up saved
on each `datacall run --once` from cron.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from storage.database import DatabaseError, one_line

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # where Alembic records the schema's revision


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py takes this engine rather than building its own from a URL string.
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest revision: the one no migration file names as its `down_revision` (tested against Alembic's)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision = ['\"]([^'\"]+)['\"]", source, re.MULTILINE)
        parent = re.search(r"^down_revision = ['\"]([^'\"]+)['\"]", source, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one newest migration in {MIGRATIONS}, found {sorted(heads) or 'none'}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The schema's revision as Alembic recorded it; None before `datacall init`."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


def require_current(engine: Engine) -> None:
    """Refuse to work on a schema that `datacall init` has not brought up to date."""
    try:
        current = current_revision(engine)
    except Exception as exc:  # connection refused, bad credentials, missing file...
        raise DatabaseError(f"cannot open the database: {one_line(exc)}") from exc
    if current is None:
        raise DatabaseError("the database is not initialised: run `datacall init`")
    if current != head_revision():
        raise DatabaseError(
            f"the database schema is at revision {current}, this datacall needs "
            f"{head_revision()}: run `datacall init` to upgrade it"
        )
