"""`himaya messages summary|parse` and `himaya export --format messages-jsonl` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders.chats import android_telephony as telephony
from tests.builders.chats import whatsapp_android as wa
from tests.cli.test_cli import Cli, himaya  # noqa: F401  (the fixture)
from tests.pipeline.test_scan_messages import DATABASES, android_extraction


def test_scan_summary_parse_again_and_export(himaya: Cli, tmp_path: Path) -> None:  # noqa: F811
    root = android_extraction(tmp_path / "phone")
    telephony.build_mmssms(root / "data/user_de/0/com.android.providers.telephony/databases/mmssms.db")
    assert himaya("case", "create", "C-CLI").code == 0
    scanned = himaya("scan", "C-CLI", str(root), "--workers", "0", "--quiet")
    assert scanned.code == 0, scanned.text

    summary = himaya("messages", "summary", "C-CLI", "--json")
    assert summary.code == 0, summary.text
    record = json.loads(summary.out)
    parsed = {db["path"].rsplit("/", 1)[-1]: db for db in record["databases"]}
    assert parsed["msgstore.db"]["parsers"] == ["whatsapp-android"]
    assert parsed["msgstore.db"]["messages"] == len(wa.EXPECTED_SENDERS)
    assert parsed["mmssms.db"]["status"] == "parsed" and parsed["mmssms.db"]["parsers"] == ["sms-android"]
    rania = next(e for e in record["exchanges"] if wa.CONTACT_NAMES[wa.RANIA] in e["from"])
    assert rania["to"] == "phone owner" and rania["media"] == 3  # received, forwarded, deleted
    table = himaya("messages", "summary", "C-CLI")
    assert "Who exchanged media with whom" in table.text and f"{DATABASES}/msgstore.db" in table.text

    again = himaya("messages", "parse", "C-CLI", "--again", "--quiet")
    assert again.code == 0 and "3 databases read" in again.text, again.text
    out = tmp_path / "messages.jsonl"
    exported = himaya("export", "C-CLI", "--format", "messages-jsonl", "--out", str(out))
    total = len(wa.EXPECTED_SENDERS) + len(telephony.EXPECTED_MESSAGES)
    assert exported.code == 0 and f"{total} messages written" in exported.text, exported.text
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == total  # parsed again, not duplicated
    assert {line["app"] for line in lines} == {"whatsapp", "sms", "mms"}
    trail = himaya("audit", "list", "--case", "C-CLI", "--format", "jsonl")
    actions = [json.loads(line)["action"] for line in trail.out.splitlines()]
    assert {"messages_viewed", "messages_parsed", "export"} <= set(actions)
    assert list(lines[0])[:13] == [
        "app", "chat", "chat_type", "direction", "sender", "recipients", "time_utc", "text", "media_path",
        "media_sha256", "media_present", "forwarded", "file_path_in_case",
    ]  # fmt: skip


def test_unknown_case_and_format(himaya: Cli) -> None:  # noqa: F811
    missing = himaya("messages", "summary", "NOPE")
    assert missing.code == 2 and "himaya case create NOPE" in missing.text
    assert himaya("export", "NOPE", "--format", "chats").code == 2
