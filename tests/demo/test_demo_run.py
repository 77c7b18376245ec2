"""`himaya demo` (what `make demo` runs): the whole demo, disk image included, passes its own checks."""

from __future__ import annotations

from pathlib import Path

from himaya.demo.disk import missing_tools
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the fixture


def test_demo_command_passes_every_expectation(himaya: Cli, tmp_path: Path) -> None:  # noqa: F811
    outcome = himaya("demo", "--out", str(tmp_path / "demo"), "--workers", "0")
    assert outcome.code == 0, outcome.text
    assert "✘" not in outcome.text and "demo finished" in outcome.text
    assert (tmp_path / "demo" / "report.html").is_file()
    # The phone's WhatsApp: the matched picture received, and the deleted one known by its SHA-256.
    assert "messages read from the phone's chat database: 4" in outcome.text
    assert "whatsapp from Nadia (TEST): " in outcome.text
    assert "IMG-20240504-WA0003.jpg (this copy is gone; the SHA-256 WhatsApp kept is" in outcome.text
    report = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "Messages that carried matched media (2)" in report
    if not missing_tools():
        assert "match, deleted" in outcome.text and "match, carved" in outcome.text
        assert "E01 verified" in outcome.text
