"""Both databases for every test: a fresh SQLite file and a fresh PostgreSQL 16 database (pgserver)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.database import make_engine, make_session_factory
from storage.migrate import upgrade


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL 16 from the pgserver wheel. Absent is a failure, never a skip."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'datacall.db'}"
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://"))
    return url.set(database=name).render_as_string(hide_password=False)


def _admin_engine(server) -> sa.Engine:
    return sa.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://"),
                            isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_at_head(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per test process: a test's database starts as its copy."""
    path = tmp_path_factory.mktemp("template") / "datacall.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closes the file, its write-ahead log folded in: the file alone is the database
    return path


@pytest.fixture(scope="session")
def postgres_at_head(postgres_server) -> str:
    """The name of a PostgreSQL database migrated to head once per test process, used as a template."""
    name = "datacall_at_head"
    admin = _admin_engine(postgres_server)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(postgres_server.get_uri().replace("postgresql://", "postgresql+psycopg://"))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()  # a template must have no open connection when it is copied
    return name


def bring_to_head(db_url: str, request) -> None:
    """Migrate the test's database to head, by copying the template when it is still empty.

    A migration from scratch takes about half a second and hundreds of tests need one; the copy is the
    same schema (tests/test_storage.py and the migration tests still run the migrations themselves).
    """
    url = sa.engine.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if not Path(url.database).exists():
            shutil.copyfile(request.getfixturevalue("sqlite_at_head"), url.database)
            return
    else:
        template = request.getfixturevalue("postgres_at_head")
        probe = make_engine(db_url)
        with probe.connect() as connection:
            empty = not sa.inspect(connection).get_table_names()
        probe.dispose()
        if empty:
            admin = _admin_engine(request.getfixturevalue("postgres_server"))
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{url.database}"'))
                connection.execute(sa.text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
            admin.dispose()
            return
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url, request):
    bring_to_head(db_url, request)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)
