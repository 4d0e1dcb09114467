"""Alembic, driven from code: `datacall init` creates or upgrades the schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.database import DatabaseError, one_line

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py takes this engine rather than building its own from a URL string.
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration in {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
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
