"""`himaya evidence info`: a disk image described before any scan, locked volumes explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import disks
from tests.builders.disk_fixtures import PASSWORD
from tests.builders.disks import MissingTool
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the fixture


def test_info_describes_an_e01_without_scanning_it(himaya: Cli, e01_disk: Path) -> None:  # noqa: F811
    outcome = himaya("evidence", "info", str(e01_disk))
    assert outcome.code == 0, outcome.text
    for expected in (
        "seized.E01",
        "EWF (E01/Ex01) forensic image",
        "case number: TEST-CASE-1",
        "examiner name: TEST examiner",
        "notes: TEST notes",
        "acquisition MD5:",
        "GPT partition table",
        "p1",
        "NTFS file system",
        "ext4 file system",
        "seized.E01/p2/ (ext4)",
    ):
        assert expected in outcome.text, expected
    as_json = himaya("evidence", "info", str(e01_disk), "--json")
    record = json.loads(as_json.out)
    assert record["format"] == "EWF" and record["ewf"]["header"]["case_number"] == "TEST-CASE-1"
    assert [fs["path"] for fs in record["filesystems"]] == ["seized.E01/p1", "seized.E01/p2"]


def test_info_explains_a_locked_volume_and_opens_it_with_the_password(
    himaya: Cli,  # noqa: F811
    tmp_path: Path,
    luks_payload: Path,
) -> None:
    try:
        image = disks.luks2_image(tmp_path / "usb.img", luks_payload, PASSWORD)
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    locked = himaya("evidence", "info", str(image))
    assert locked.code == 0
    assert "LUKS2 volume usb.img is encrypted, not opened" in locked.text and "--password-file" in locked.text
    password_file = tmp_path / "passwords.txt"
    password_file.write_text(PASSWORD + "\n")
    opened = himaya("evidence", "info", str(image), "--password-file", str(password_file))
    assert "encrypted (LUKS2) opened" in opened.text and "usb.img/ (ext4)" in opened.text
    assert PASSWORD not in opened.text


def test_info_on_a_plain_file_and_on_nothing(himaya: Cli, tmp_path: Path) -> None:  # noqa: F811
    note = tmp_path / "note.txt"
    note.write_text("TEST")
    assert "not a disk image" in himaya("evidence", "info", str(note)).text
    missing = himaya("evidence", "info", str(tmp_path / "nope.E01"))
    assert missing.code == 2 and "does not exist" in missing.text


def test_recovery_keys_and_startup_keys_are_tried_on_bitlocker(
    himaya: Cli,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        image = disks.bitlocker_lookalike(tmp_path / "bde.img")
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    recovery = tmp_path / "recovery.txt"
    recovery.write_text("111111-222222-333333-444444-555555-666666-777777-888888\n")
    startup = tmp_path / "KEY.BEK"
    startup.write_bytes(b"\x00" * 124)
    monkeypatch.setenv("HIMAYA_RECOVERY_KEYS", "000000-000000-000000-000000-000000-000000-000000-000000")
    outcome = himaya(
        "evidence",
        "info",
        str(image),
        "--recovery-key-file",
        str(recovery),
        "--startup-key-file",
        str(startup),
    )
    assert outcome.code == 0
    assert (
        "BitLocker volume bde.img is encrypted, not opened (none of the 3 credentials given" in outcome.text
    )
    assert "111111" not in outcome.text
    missing = himaya("evidence", "info", str(image), "--startup-key-file", str(tmp_path / "none.BEK"))
    assert missing.code == 2 and ".BEK" in missing.text
