"""Engine, sessions and migrations.

Alembic owns the schema: ``upgrade()`` runs at every start so a new release
migrates the database before touching it, on SQLite and PostgreSQL alike.
Importing Alembic costs more than everything else ``tdc-bot status`` does, so
the start first compares the database's ``alembic_version`` with the head
revision read from the migration files' text (``workflow.db.schema_head``), and
only loads Alembic when they differ.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.orm import Session, sessionmaker

from intake.store import LOCK_MODE, PRIVATE_DIR_MODE, make_dirs
from workflow.db.schema_head import MIGRATIONS, database_is_current

if TYPE_CHECKING:
    from alembic.config import Config


def as_cursor(result: Result[Any]) -> CursorResult[Any]:
    """The result of an INSERT, UPDATE or DELETE as what it is at run time.

    ``Session.execute`` is typed to return a plain Result whatever the statement;
    for these it returns a CursorResult, which has ``rowcount`` and
    ``inserted_primary_key``.
    """
    return cast("CursorResult[Any]", result)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched."""
    return as_cursor(result).rowcount


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs for a long-running daemon."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            make_dirs(Path(parsed.database).parent, PRIVATE_DIR_MODE)
            private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does (it would use the umask, often 0644).

    It holds every report and address; SQLite gives its -wal/-shm files the
    database file's mode. An existing file loses its "other" permissions only:
    a group an operator chose keeps its access.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            mode = path.stat().st_mode
            if mode & 0o007 and path.is_file() and path.stat().st_uid == os.getuid():
                os.chmod(path, mode & 0o770)
        except OSError:
            pass
        return
    except OSError:
        return  # SQLite reports the real problem (read-only folder, ...) with its own words
    os.close(fd)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# Any constant will do: it names the lock, on this database only.
_STARTUP_LOCK_KEY = 0x7DC1322


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Serialise start-up work (migrations, reference data) between daemons sharing a database.

    Two daemons started together on a fresh database would otherwise both
    create the tables or insert the same rows, and one would die. PostgreSQL:
    a session advisory lock; SQLite: a lock file beside the database file.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_STARTUP_LOCK_KEY})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_STARTUP_LOCK_KEY})")
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    from filelock import FileLock

    with FileLock(f"{database}.startup.lock", timeout=300, mode=LOCK_MODE):
        yield


def upgrade(engine: Engine) -> None:
    """Migrate to the head revision; a database already there costs one SELECT, not an Alembic import."""
    if database_is_current(engine):
        return
    from alembic import command

    with startup_lock(engine):
        if engine.dialect.name != "sqlite":
            command.upgrade(alembic_config(engine), "head")  # PostgreSQL: DDL is transactional already
            return
        migration_engine = sqlite_migration_engine(engine)
        try:
            repair_half_made_schema(migration_engine)
            command.upgrade(alembic_config(migration_engine), "head")
        finally:
            migration_engine.dispose()


def sqlite_migration_engine(engine: Engine) -> Engine:
    """An engine on the same SQLite file whose migrations are all-or-nothing.

    Why: Python's sqlite3 module opens a transaction only before INSERT,
    UPDATE and DELETE, so each CREATE TABLE of a migration committed on its
    own. A kill -9 during the very first start left tables without an
    ``alembic_version`` row, and every later start failed with "table
    agencies already exists". Here the driver's own transaction handling is
    off and SQLAlchemy's begin emits ``BEGIN IMMEDIATE`` (SQLAlchemy's
    documented recipe), so the whole upgrade, DDL included, commits once.
    """
    from sqlalchemy.pool import NullPool

    migration_engine = create_engine(engine.url, connect_args={"timeout": 30}, poolclass=NullPool)

    @event.listens_for(migration_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(migration_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return migration_engine


def repair_half_made_schema(engine: Engine) -> list[str]:
    """Drop the tables of a first start that died before it recorded any migration; return their names.

    Only a database with no ``alembic_version`` row and no row in any of
    its tables is touched: that is a first start interrupted by an older
    release (non-atomic DDL), and nothing in it can be lost. Anything else
    is left for Alembic to judge.
    """
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if not t.startswith("sqlite_")]
        if not tables:
            return []
        if "alembic_version" in tables and conn.execute(text("SELECT count(*) FROM alembic_version")).scalar():
            return []
        for table in tables:
            if table != "alembic_version" and conn.execute(
                    text(f'SELECT 1 FROM "{table}" LIMIT 1')  # noqa: S608 - a name from the database's own catalogue
            ).first():
                return []
        for table in tables:  # foreign keys are off on this engine: any order drops
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')
        conn.commit()
    import logging

    logging.getLogger(__name__).warning("first start had been interrupted: dropped half-made empty tables %s", tables)
    return tables


def pending_migrations(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when the database is current)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    pending = []
    for rev in script.walk_revisions():
        if rev.revision in current:
            break
        pending.append(rev.revision)
    return pending


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, migrate: bool = True):
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
