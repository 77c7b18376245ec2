"""Opening the case store: SQLite (embedded default, WAL) or PostgreSQL (server mode), always migrated.

SQLite runs in WAL mode with a busy timeout so that the review app can read while a scan writes. WAL
keeps a shared-memory index beside the database, which does not work on network file systems; we warn
rather than refuse, because an examiner may knowingly work on a share with one writer.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from himaya.config import is_network_share

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(home: Path) -> str:
    """`$HIMAYA_DATABASE_URL` selects server mode (PostgreSQL); otherwise SQLite under `home`."""
    url = os.environ.get("HIMAYA_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{home / 'himaya.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url.removeprefix(scheme)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    # Imported here: Alembic is a quarter of a second of start-up that worker processes never need.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one, which foreign keys pointing
            # at it forbid. They are switched off for the upgrade (outside a transaction: SQLite ignores
            # the pragma inside one) and every row is checked against them afterwards.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if broken:
                    raise RuntimeError(f"the store upgrade left rows pointing nowhere: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


class Store:
    """A migrated database plus a session factory. One per process; workers never get one."""

    def __init__(self, engine: Engine, index_dir: Path | None = None) -> None:
        self.engine = engine
        # Hash-set PDQ indexes cached on disk (see himaya.matching.index_store); None: built in memory.
        self.index_dir = index_dir
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def sqlite_folder(url: str) -> Path | None:
    """The folder holding a SQLite URL's database file; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).parent


def open_store(home: Path) -> Store:
    home.mkdir(parents=True, exist_ok=True)
    url = database_url(home)
    # The database file's own folder decides, not `home`: $HIMAYA_DATABASE_URL may put it elsewhere.
    folder = sqlite_folder(url)
    if folder is not None and is_network_share(folder):
        log.warning(
            "%s is on a network share: SQLite's WAL mode needs a local disk. Use a local --home, "
            "or server mode ($HIMAYA_DATABASE_URL=postgresql://...) for shared work.",
            folder,
        )
    engine = make_engine(url)
    migrate(engine)
    # Per database, so that two stores sharing a home (SQLite and a PostgreSQL server) never mix indexes.
    tag = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Store(engine, index_dir=home / "indexes" / tag)
