"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class Denier:
    """Makes files and folders unreadable to the scan, and readable again with `restore`.

    As an ordinary user this is a real `chmod 000`. As root (the usual container), file modes do not stop
    reads and `os.setuid` to 'nobody' cannot work here (the interpreter lives under /root, mode 0700), so
    the operating system's answer is *injected*: `open()` of a denied file and `os.scandir()` of a denied
    folder raise the same `PermissionError` the kernel gives an ordinary user. Everything above those two
    calls (walker, task, worker, writer, export) runs for real. Injection only reaches code in this
    process, so tests that use it scan with workers=0.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.as_root = os.geteuid() == 0
        self.denied: set[str] = set()
        self.modes: dict[Path, int] = {}
        if self.as_root:
            real_open, real_scandir = builtins.open, os.scandir

            def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
                self._check(file)
                return real_open(file, *args, **kwargs)

            def fake_scandir(path: Any = ".") -> Any:
                self._check(path)
                return real_scandir(path)

            monkeypatch.setattr(builtins, "open", fake_open)
            monkeypatch.setattr(os, "scandir", fake_scandir)

    def _check(self, path: Any) -> None:
        if isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path) in self.denied:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))

    def __call__(self, path: Path) -> None:
        if self.as_root:
            self.denied.add(str(path))
        else:
            self.modes[path] = path.stat().st_mode
            path.chmod(0)

    def restore(self) -> None:
        self.denied.clear()
        for path, mode in self.modes.items():
            path.chmod(mode)
        self.modes.clear()


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Denier]:
    """`deny(path)` makes `path` unreadable for the rest of the test (see `Denier`)."""
    denier = Denier(monkeypatch)
    yield denier
    denier.restore()  # so that pytest can clean tmp_path up


from tests.builders.disk_fixtures import *  # noqa: E402, F403
