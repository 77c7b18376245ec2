"""Folders and single files as evidence: order, links, special files, odd names, unreadable places."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from himaya.errors import EvidenceError
from himaya.sources.folder import walk
from himaya.sources.interface import FileEntry
from tests.builders.images import photo_jpeg

NOBODY = 65534
CANNOT_DROP = 3


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def by_locator(entries: list[FileEntry]) -> dict[str, FileEntry]:
    return {entry.locator: entry for entry in entries}


@pytest.fixture
def phone_dump(tmp_path: Path) -> Path:
    root = tmp_path / "dump"
    write(root / "z.txt")
    write(root / "a" / "readme.txt")
    write(root / "b" / "Pictures" / "x.jpg", photo_jpeg(1, 64, 48))
    write(root / "b" / "notes.txt")
    write(root / "DCIM" / "Camera" / "IMG_0001.jpg", photo_jpeg(2, 64, 48))
    write(root / "Downloads" / "d.bin")
    write(root / "deep" / "er" / "whatsapp" / "Media" / "w.jpg", photo_jpeg(3, 64, 48))
    write(root / "deep" / "other.bin")
    return root


def test_media_folders_come_first_then_the_rest_sorted(phone_dump: Path) -> None:
    locators = [entry.locator for entry in walk(phone_dump, "phone")]
    assert locators == [
        "phone/DCIM/Camera/IMG_0001.jpg",
        "phone/Downloads/d.bin",
        "phone/b/Pictures/x.jpg",
        "phone/deep/er/whatsapp/Media/w.jpg",  # matched case-insensitively, at any depth
        "phone/z.txt",
        "phone/a/readme.txt",
        "phone/b/notes.txt",
        "phone/deep/other.bin",
    ]
    assert [e.locator for e in walk(phone_dump, "phone")] == locators


def test_entries_carry_metadata_and_open_lazily(phone_dump: Path) -> None:
    entry = by_locator(list(walk(phone_dump, "phone")))["phone/DCIM/Camera/IMG_0001.jpg"]
    expected = photo_jpeg(2, 64, 48)
    assert entry.path == entry.locator
    assert entry.depth == 0
    assert entry.size == len(expected)
    assert entry.mtime is not None and entry.mtime.tzinfo == UTC
    assert entry.mtime.timestamp() == pytest.approx(os.stat(entry.disk_path or "").st_mtime)
    assert entry.disk_path == str(phone_dump / "DCIM" / "Camera" / "IMG_0001.jpg")
    assert entry.error is None and entry.open is not None
    with entry.open() as stream:
        assert stream.read() == expected


def test_a_single_file_is_its_own_evidence(tmp_path: Path) -> None:
    path = write(tmp_path / "seized.jpg", photo_jpeg(4, 64, 48))
    [entry] = walk(path, "seized.jpg")
    assert entry.locator == entry.path == "seized.jpg"
    assert entry.disk_path == str(path) and entry.size == path.stat().st_size
    assert entry.open is not None and entry.open().read() == path.read_bytes()


def test_missing_evidence_is_an_error_that_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="is the drive mounted"):
        list(walk(tmp_path / "nope", "nope"))


def test_a_file_that_vanishes_before_it_is_opened_fails_on_open(tmp_path: Path) -> None:
    write(tmp_path / "ev" / "gone.bin")
    [entry] = walk(tmp_path / "ev", "ev")
    (tmp_path / "ev" / "gone.bin").unlink()
    assert entry.open is not None
    with pytest.raises(FileNotFoundError):
        entry.open()


def test_symbolic_links_are_listed_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "secret.jpg", photo_jpeg(5, 64, 48))
    write(tmp_path / "outside" / "more.jpg")
    root = tmp_path / "ev"
    root.mkdir()
    (root / "to_file").symlink_to(outside)
    (root / "to_folder").symlink_to(outside.parent, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "missing")
    entries = by_locator(list(walk(root, "ev")))
    assert set(entries) == {"ev/dangling", "ev/to_file", "ev/to_folder"}  # nothing from inside the target
    for entry in entries.values():
        assert entry.open is None
    assert entries["ev/to_file"].error == f"symbolic link to '{outside}' not followed"
    assert entries["ev/to_folder"].error == f"symbolic link to '{outside.parent}' not followed"
    assert "does not exist" in (entries["ev/dangling"].error or "")


def test_symbolic_link_loops_are_named(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "one").symlink_to("two")
    (root / "two").symlink_to("one")
    (root / "self").symlink_to("self")
    entries = by_locator(list(walk(root, "ev")))
    for name in ("one", "two", "self"):
        assert entries[f"ev/{name}"].open is None
        assert (entries[f"ev/{name}"].error or "").startswith("symbolic link loop")


def test_a_linked_evidence_root_is_followed_but_nothing_below_it(tmp_path: Path) -> None:
    write(tmp_path / "real" / "a.bin")
    (tmp_path / "real" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "mounted").symlink_to(tmp_path / "real", target_is_directory=True)
    entries = by_locator(list(walk(tmp_path / "mounted", "usb")))
    assert set(entries) == {"usb/a.bin", "usb/up"}
    assert entries["usb/up"].open is None


def test_special_files_are_listed_never_opened(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    os.mkfifo(root / "pipe")  # opening it for reading would block the scan forever
    write(root / "plain.txt")
    entries = by_locator(list(walk(root, "ev")))
    assert entries["ev/pipe"].open is None
    assert entries["ev/pipe"].error == "named pipe (fifo); special files are listed but never opened"
    assert entries["ev/plain.txt"].open is not None


def test_a_fifo_as_evidence_root_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    [entry] = walk(tmp_path / "pipe", "pipe")
    assert entry.open is None and "fifo" in (entry.error or "")


def test_names_that_are_not_utf8_are_escaped_and_stay_readable(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    raw_folder = os.fsencode(root) + b"/caf\xe9"
    os.makedirs(raw_folder)
    with open(raw_folder + b"/\xff\xfe.jpg", "wb") as handle:
        handle.write(b"latin-1 folder, invalid file name")
    write(root / "ok-名前.jpg", b"fine")
    entries = by_locator(list(walk(root, "ev")))
    odd = entries["ev/caf\\xe9/\\xff\\xfe.jpg"]
    assert odd.path == "ev/caf\\xe9/\\xff\\xfe.jpg"
    assert odd.error == "file name is not valid UTF-8; shown with \\x escapes"
    assert odd.open is not None and odd.open().read() == b"latin-1 folder, invalid file name"
    assert entries["ev/ok-名前.jpg"].error is None


def test_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    write(tmp_path / "ev" / "photo\u202egpj.exe")
    write(tmp_path / "ev" / "two\nlines")
    entries = by_locator(list(walk(tmp_path / "ev", "ev")))
    assert set(entries) == {"ev/photo\\u202egpj.exe", "ev/two\\x0alines"}
    assert all("control or text-direction" in (e.error or "") for e in entries.values())
    assert all(e.open is not None for e in entries.values())


# -- permissions ------------------------------------------------------------------------------------
#
# These run for real: as an ordinary user directly, and as root (which reads everything) in a forked
# child that drops to `nobody` before walking, so the kernel refuses exactly as it would on a real case.


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree under /tmp that `nobody` can reach (pytest's own tmp folder is private to its user)."""
    base = Path(tempfile.mkdtemp(prefix="himaya-perm-"))
    base.chmod(0o755)
    root = base / "ev"
    write(root / "open" / "a.jpg", photo_jpeg(6, 64, 48))
    write(root / "locked" / "hidden.jpg")
    write(root / "sealed.jpg")
    for path in (root, root / "open", root / "open" / "a.jpg"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "locked").chmod(0)
    (root / "sealed.jpg").chmod(0)
    yield root
    (root / "locked").chmod(stat.S_IRWXU)
    shutil.rmtree(base)


def walk_unprivileged(root: Path) -> list[tuple[str, str | None, bool, str | None]]:
    """(locator, error, has open, what open() raised) for each entry, walked without root's powers."""

    def run() -> list[tuple[str, str | None, bool, str | None]]:
        rows = []
        for entry in walk(root, "ev"):
            raised = None
            if entry.open is not None:
                try:
                    entry.open().close()
                except OSError as exc:
                    raised = type(exc).__name__
            rows.append((entry.locator, entry.error, entry.open is not None, raised))
        return rows

    if os.geteuid() != 0:
        return run()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError:
                code = CANNOT_DROP
                raise
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(run(), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as received:
        data = received.read()
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == CANNOT_DROP:
        pytest.skip("running as root without the right to switch to the 'nobody' user (CAP_SETUID)")
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged walk failed"
    rows: list[tuple[str, str | None, bool, str | None]] = pickle.loads(data)
    return rows


def test_unreadable_folders_and_files_are_reported(shared_tree: Path) -> None:
    if os.geteuid() != 0 and os.access(shared_tree / "locked", os.R_OK):
        pytest.skip("this user can read a mode-000 folder (a capability such as CAP_DAC_READ_SEARCH)")
    rows = {locator: rest for locator, *rest in walk_unprivileged(shared_tree)}
    assert set(rows) == {"ev/open/a.jpg", "ev/locked", "ev/sealed.jpg"}
    error, has_open, _ = rows["ev/locked"]
    assert not has_open
    assert error is not None and error.startswith("permission denied listing this folder")
    assert "run himaya as a user who can read it" in error
    assert rows["ev/sealed.jpg"] == [None, True, "PermissionError"]  # the pipeline records it on open
    assert rows["ev/open/a.jpg"] == [None, True, None]
