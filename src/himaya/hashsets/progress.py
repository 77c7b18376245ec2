"""How far an import has read its list: readers say which file handle they read; the importer asks the
operating system where that handle stands, so readers need no progress code of their own.

`os.lseek(fd, 0, SEEK_CUR)` reads the position without moving it, so it is safe between the reader's
own reads; it runs ahead of the reader by at most one buffer, which is fine for a progress bar.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any


@dataclass
class ReadPosition:
    fd: int | None = None

    def bytes_read(self) -> int | None:
        if self.fd is None:
            return None
        try:
            return os.lseek(self.fd, 0, os.SEEK_CUR)
        except OSError:  # closed already: the reader is done with it
            return None


_current: ContextVar[ReadPosition | None] = ContextVar("himaya_list_position", default=None)


def track(handle: IO[Any]) -> None:
    """Called by a reader right after it opens the list."""
    position = _current.get()
    if position is not None:
        position.fd = handle.fileno()


def watching() -> tuple[ReadPosition, Any]:
    """A fresh position that `track` fills in this context, and the token to reset it with."""
    position = ReadPosition()
    return position, _current.set(position)


def stop_watching(token: Any) -> None:
    _current.reset(token)
