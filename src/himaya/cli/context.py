"""What every command needs: the home folder, the store, the blob store and a console."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from himaya.errors import UsageError

if TYPE_CHECKING:
    from himaya.security.audit import AuditTrail
    from himaya.store.blobs import BlobStore
    from himaya.store.db import Store

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    home: Path
    key_file: Path
    console: Console = field(default_factory=lambda: Console(stderr=True))
    _store: Store | None = None

    # The store and the crypto are imported when first used: scan workers are spawned processes that
    # re-import the command-line module, and should not pay for SQLAlchemy and Alembic.
    def store(self) -> Store:
        from himaya.store.db import open_store

        if self._store is None:
            self._store = open_store(self.home)
        return self._store

    def blobs(self) -> BlobStore:
        from himaya.security.crypto import load_or_create_key
        from himaya.store.blobs import BlobStore

        info = load_or_create_key(self.key_file, self.home)
        if info.created:
            self.console.print(info.backup_warning(), style="bold yellow", highlight=False)
        return BlobStore(self.home / "blobs", info.key)

    def blob_key(self) -> bytes:
        from himaya.security.crypto import load_or_create_key

        return load_or_create_key(self.key_file, self.home).key

    def audit(self) -> AuditTrail:
        """The audit trail, keyed by the blob key, its chain head checkpointed beside the key file."""
        from himaya.security.audit import AuditTrail, checkpoint_path_for

        return AuditTrail(self.blob_key(), checkpoint_path_for(self.key_file))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def app_context(ctx: typer.Context, group: str) -> AppContext:
    """The invocation's AppContext, for a command of `himaya GROUP ...` (made by the root callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        raise UsageError(f"run this as 'himaya {group} ...' so that --home and --key-file are known")
    return obj
