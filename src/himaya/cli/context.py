"""What every command needs: the home folder, the store, the blob store and a console."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from himaya.security.crypto import load_or_create_key
from himaya.store.blobs import BlobStore
from himaya.store.db import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    home: Path
    key_file: Path
    console: Console = field(default_factory=lambda: Console(stderr=True))
    _store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.home)
        return self._store

    def blobs(self) -> BlobStore:
        info = load_or_create_key(self.key_file, self.home)
        if info.created:
            self.console.print(
                f"[bold yellow]A new blob-store key was created at {self.key_file}.[/] "
                "Back it up now and keep it "
                "apart from this home folder: without it, thumbnails stored here cannot be read by anyone."
            )
        return BlobStore(self.home / "blobs", info.key)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
