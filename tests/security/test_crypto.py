from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from himaya.errors import BlobKeyError
from himaya.security.crypto import KEY_SIZE, KeyInfo, key_id, load_or_create_key

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_creates_private_key_file_outside_home(himaya_env: dict[str, Path]) -> None:
    key_file, home = himaya_env["key_file"], himaya_env["home"]

    info = load_or_create_key(key_file, home)

    assert info.created
    assert info.source == str(key_file)
    assert len(info.key) == KEY_SIZE
    assert _mode(key_file) == 0o600
    assert _mode(key_file.parent) == 0o700
    lines = key_file.read_text().splitlines()
    assert len(lines) == 1
    assert base64.b64decode(lines[0]) == info.key
    assert "back up this key file" in info.backup_warning()
    assert not home.exists(), "creating the key must not touch the home"


def test_second_load_reads_the_same_key(himaya_env: dict[str, Path]) -> None:
    first = load_or_create_key(himaya_env["key_file"], himaya_env["home"])
    second = load_or_create_key(himaya_env["key_file"], himaya_env["home"])
    assert not second.created
    assert second.key == first.key
    assert list(himaya_env["key_file"].parent.iterdir()) == [himaya_env["key_file"]], "no temp files left"


def test_keys_are_random(tmp_path: Path, himaya_env: dict[str, Path]) -> None:
    a = load_or_create_key(tmp_path / "a" / "blob.key", himaya_env["home"])
    b = load_or_create_key(tmp_path / "b" / "blob.key", himaya_env["home"])
    assert a.key != b.key


def test_missing_key_file_without_create_says_restore(himaya_env: dict[str, Path]) -> None:
    with pytest.raises(BlobKeyError, match="restore it from your backup"):
        load_or_create_key(himaya_env["key_file"], himaya_env["home"], create=False)
    assert not himaya_env["key_file"].exists()


@pytest.mark.parametrize("inside", ["blob.key", "keys/blob.key"])
def test_key_file_inside_home_is_refused(himaya_env: dict[str, Path], inside: str) -> None:
    home = himaya_env["home"]
    with pytest.raises(BlobKeyError, match="apart from the data it protects") as caught:
        load_or_create_key(home / inside, home)
    assert "--key-file" in str(caught.value)
    assert not (home / inside).exists()


@posix_only
def test_symlink_into_home_is_refused(tmp_path: Path, himaya_env: dict[str, Path]) -> None:
    home = himaya_env["home"]
    home.mkdir()
    link = tmp_path / "elsewhere"
    link.symlink_to(home, target_is_directory=True)
    with pytest.raises(BlobKeyError, match="inside the home"):
        load_or_create_key(link / "blob.key", home)


def test_env_key_wins_and_creates_nothing(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bytes(range(KEY_SIZE))
    monkeypatch.setenv("HIMAYA_BLOB_KEY", base64.b64encode(key).decode())

    info = load_or_create_key(himaya_env["key_file"], himaya_env["home"])

    assert info == KeyInfo(key=key, created=False, source="$HIMAYA_BLOB_KEY")
    assert not himaya_env["key_file"].exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not base64 at all!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "holds 5 bytes, not 32"),
        ("", "holds 0 bytes"),
    ],
)
def test_invalid_env_key_says_how_to_fix(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("HIMAYA_BLOB_KEY", value)
    with pytest.raises(BlobKeyError) as caught:
        load_or_create_key(himaya_env["key_file"], himaya_env["home"])
    message = str(caught.value)
    assert "$HIMAYA_BLOB_KEY" in message
    assert problem in message
    assert "os.urandom(32)" in message, "the message shows how to make a valid key"
    if value:
        assert value not in message, "the (secret) value is never echoed"


def test_corrupt_key_file_is_an_error(himaya_env: dict[str, Path]) -> None:
    key_file = himaya_env["key_file"]
    key_file.parent.mkdir(parents=True)
    key_file.write_text("garbage\n")
    with pytest.raises(BlobKeyError, match=r"blob key file .* not valid base64"):
        load_or_create_key(key_file, himaya_env["home"])


@posix_only
def test_readable_key_file_warns_but_is_used(
    himaya_env: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    created = load_or_create_key(himaya_env["key_file"], himaya_env["home"])
    himaya_env["key_file"].chmod(0o644)

    with caplog.at_level(logging.DEBUG, logger="himaya"):
        loaded = load_or_create_key(himaya_env["key_file"], himaya_env["home"])

    assert loaded.key == created.key
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "chmod 600" in warnings[0].getMessage()


def test_key_never_logged_or_repr(himaya_env: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        info = load_or_create_key(himaya_env["key_file"], himaya_env["home"])
        load_or_create_key(himaya_env["key_file"], himaya_env["home"])
    encoded = base64.b64encode(info.key).decode()
    assert encoded not in caplog.text
    assert encoded not in repr(info)
    assert repr(info.key) not in repr(info)


def test_key_id_is_stable_short_and_not_the_key() -> None:
    key = bytes(range(KEY_SIZE))
    assert key_id(key) == key_id(bytes(range(KEY_SIZE)))
    assert key_id(key) != key_id(bytes(KEY_SIZE))
    assert len(key_id(key)) == 16
    assert key_id(key) not in (key.hex(), base64.b64encode(key).decode())
