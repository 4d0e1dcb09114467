"""Alembic environment: runs on the engine handed over by storage.migrate."""

from alembic import context

from storage.models import Base

config = context.config
engine = config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if sqlite:
        # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on,
        # dropping a table that other rows point to fails. SQLite ignores this pragma
        # inside a transaction, so it goes straight to the driver, before SQLAlchemy's BEGIN.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=sqlite,
        compare_type=True,
    )
    if sqlite:
        # Alembic does not wrap SQLite's DDL in a transaction itself: one for the whole upgrade.
        with connection.begin(), context.begin_transaction():
            context.run_migrations()
    else:
        # Alembic owns PostgreSQL's transaction, so a migration can step out of it
        # (`autocommit_block`), e.g. to build an index after a large UPDATE is committed.
        with context.begin_transaction():
            context.run_migrations()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
