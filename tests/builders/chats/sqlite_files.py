"""Write a SQLite database the way a phone leaves it: optionally with its newest rows only in `-wal`.

SQLite checkpoints the log into the database and deletes it when the last connection closes, so the
database is built in a staging folder and both files are copied out while the connection is still open.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

Fill = Callable[[sqlite3.Connection], None]


def write_database(path: Path, schema_sql: str, fill: Fill, *, newest: Fill | None = None) -> Path:
    """Create `path` from `schema_sql` and `fill`; rows `newest` adds are left in `path`-wal only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        work = Path(staging) / "staging.db"
        db = sqlite3.connect(work, isolation_level=None)
        try:
            if newest is not None:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA wal_autocheckpoint = 0")
            db.executescript(schema_sql)
            db.execute("BEGIN")
            fill(db)
            db.execute("COMMIT")
            if newest is not None:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.execute("BEGIN")
                newest(db)
                db.execute("COMMIT")
                shutil.copyfile(work, path)
                shutil.copyfile(Path(f"{work}-wal"), Path(f"{path}-wal"))
            else:
                db.close()
                shutil.copyfile(work, path)
        finally:
            db.close()
    return path
