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
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite cannot ALTER most things: batch mode copies the table instead.
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
