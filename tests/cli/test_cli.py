"""The command-line contract of DESIGN.md: exit codes, help text, and where credentials may not go.

Exit codes: 0 done (even with per-file errors, which are in the export), 1 failed, 2 bad usage.
Most tests call `himaya.cli.main.main` in this process (as the console script does), catching its
`SystemExit`; the tests that need the real standard error of a real process run it as a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from himaya.cli.main import main
from tests.builders.bombs import png_header_only
from tests.builders.evidence import aes_zip, zip_bytes
from tests.builders.images import photo_jpeg

PASSWORD = "TEST-pw-q7Xk2v9Z"  # unique enough that finding it anywhere means it leaked


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr with the console's line wrapping undone."""
        return " ".join((self.out + " " + self.err).split())


class Cli:
    """`himaya("scan", ...)` runs the command line in this process, as the console script does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str) -> Outcome:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "argv", ["himaya", *args])
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)


@pytest.fixture
def himaya(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    monkeypatch.setenv("COLUMNS", "200")  # fewer wrapped lines in Rich's output
    return Cli(monkeypatch, capsys)


# ---------------------------------------------------------------- help
HELP = {
    (): [
        "--home", "--key-file", "--version", "case", "hashset", "scan", "export", "report", "rematch",
        "evidence", "serve", "user", "audit", "online", "tips", "messages",
    ],
    ("messages",): ["parse", "summary"],
    ("messages", "summary"): ["CASE_NUMBER", "--json", "--limit"],
    ("messages", "parse"): ["CASE_NUMBER", "--again"],
    ("tips",): ["import", "summary"],
    ("tips", "import"): ["FILE...", "--format", "--timezone", "--service", "cybertip-xml", "access-log"],
    ("tips", "summary"): ["--format", "first_utc", "asn", "flags"],
    ("serve",): [
        "--host", "--port", "--certfile", "--keyfile", "--behind-proxy", "--national-set", "--recheck",
    ],
    ("online",): [
        "capture", "status", "stats", "confirm", "approve", "hold", "lift", "holds", "notify", "notices",
        "notice", "recheck", "contacts", "settings", "warc",
    ],
    ("online", "capture"): ["URL...", "--from-file", "--depth", "--allow-network", "--again", "--workers"],
    ("online", "status"): ["--format", "--by-hash", "detected", "removed_utc"],
    ("online", "recheck"): ["--all", "--limit", "--allow-network", "--no-follow-up"],
    ("user",): ["add", "list", "assign", "role", "password", "totp", "unlock"],
    ("user", "add"): ["--role", "--totp", "--password-file", "--language"],
    ("audit",): ["verify", "list"],
    ("case",): ["create", "list"],
    ("case", "create"): ["CASE_NUMBER", "--title"],
    ("hashset",): ["import", "list", "export", "show"],
    ("hashset", "export"): ["NAME", "--format", "--out", "--version", "vpdq"],
    ("hashset", "import"): [
        "--quiet",
        "--name", "--kind", "--format", "--type", "--pdq-threshold", "--pdq-min-quality", "--dihedral",
        "--no-dihedral", "--rematch", "vics", "icse", "ncmec", "nsrl", "plain", "auto", "vpdq",
        "--vpdq-query-percent", "--vpdq-compared-percent",
    ],
    ("rematch",): ["CASE", "--details"],
    ("scan",): [
        "CASE_NUMBER", "EVIDENCE", "--workers", "--password-file", "--password", "--max-depth",
        "--max-archive-ratio", "--max-archive-bytes", "--max-archive-members", "--max-pixels",
        "--no-thumbnails", "--quiet", "--recovery-key-file", "--startup-key-file", "--prompt", "--no-prompt",
        "--shadow-copies", "--carve", "--no-carve", "--verify", "--no-verify", "--video", "--no-video",
        "--video-seconds-per-hash", "--video-short-side", "--video-prune", "--video-budget",
        "--video-sampling", "--artifacts", "--no-artifacts", "--max-database-mb",
    ],
    ("evidence",): ["info"],
    ("evidence", "info"): [
        "FILE", "--password-file", "--password", "--recovery-key-file", "--startup-key-file", "--json",
    ],
    ("export",): [
        "CASE_NUMBER", "--format", "jsonl", "csv", "vics", "icse", "messages-jsonl", "--only-matches",
        "--out", "--contact-name", "--contact-email", "--agency",
    ],
    ("report",): ["CASE_NUMBER", "--out"],
}  # fmt: skip


@pytest.mark.parametrize("command", list(HELP), ids=lambda c: " ".join(c) or "himaya")
def test_help_mentions_every_option(himaya: Cli, command: tuple[str, ...]) -> None:
    outcome = himaya(*command, "--help")
    assert outcome.code == 0
    for word in HELP[command]:
        # Whole words: "--password" must be there in its own right, not as part of "--password-file".
        mentioned = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", outcome.text)
        assert mentioned, f"'himaya {' '.join(command)} --help' does not mention {word}"


def test_console_script_runs() -> None:
    script = Path(sys.executable).parent / "himaya"
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}; the package is not installed there")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("himaya ")


# ---------------------------------------------------------------- exit codes
def test_scan_with_per_file_errors_is_done_exit_0(himaya: Cli, tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    good = photo_jpeg(seed=1, width=96, height=72)
    (evidence / "good.jpg").write_bytes(good)
    (evidence / "broken.jpg").write_bytes(good[:200])
    assert himaya("case", "create", "C-1").code == 0

    scanned = himaya("scan", "C-1", str(evidence), "--workers", "0", "--no-thumbnails", "--quiet")
    exported = himaya("export", "C-1", "--format", "jsonl")

    assert scanned.code == 0, scanned.text
    assert "scan finished" in scanned.text
    assert "1 with errors" in scanned.text
    assert exported.code == 0
    records = {r["path"]: r for r in map(json.loads, exported.out.splitlines())}
    assert records["ev/broken.jpg"]["status"] == "error"
    assert "truncated or corrupt" in records["ev/broken.jpg"]["error"]
    assert records["ev/good.jpg"]["status"] == "ok"
    assert records["ev/good.jpg"]["md5"] == hashlib.md5(good).hexdigest()


def test_malformed_hash_list_fails_exit_1_naming_the_line(himaya: Cli, tmp_path: Path) -> None:
    hash_list = tmp_path / "TEST-list.txt"
    hash_list.write_text("d41d8cd98f00b204e9800998ecf8427e\n0cc175b9c0f1b6a831c399e269772661\nnot-a-hash\n")

    outcome = himaya("hashset", "import", str(hash_list), "--name", "TEST-set")

    assert outcome.code == 1
    assert "line 3" in outcome.text
    assert "not-a-hash" in outcome.text
    assert himaya("hashset", "list").text.count("TEST-set") == 0  # refused whole


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "NO-SUCH-CASE", "{evidence}"), "case 'NO-SUCH-CASE' does not exist"),
        (("export", "NO-SUCH-CASE"), "case 'NO-SUCH-CASE' does not exist"),
        (("scan", "C-1", "{tmp}/not-there"), "does not exist"),
        (("scan",), "Missing argument 'CASE_NUMBER'"),
        (("scan", "C-1"), "Missing argument 'EVIDENCE...'"),
        (("case", "create"), "Missing argument 'CASE_NUMBER'"),
        (("hashset", "import", "{evidence}/a.txt"), "Missing option '--name'"),
        (("export", "C-1", "--format", "xml"), "unknown export format 'xml'"),
        (("scan", "C-1", "{evidence}", "--workers", "many"), "Invalid value for '--workers'"),
        (("scan", "C-1", "{evidence}", "--video-sampling", "fast"), "use exact or keyframes"),
        (("no-such-command",), "No such command"),
    ],
    ids=[
        "scan-unknown-case", "export-unknown-case", "missing-evidence", "scan-no-arguments",
        "scan-no-evidence", "case-create-no-number", "import-no-name", "unknown-export-format",
        "workers-not-a-number", "unknown-video-sampling", "unknown-command",
    ],
)  # fmt: skip
def test_bad_usage_exits_2_with_a_message(
    himaya: Cli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "a.txt").write_text("benign\n")
    assert himaya("case", "create", "C-1").code == 0
    argv = [a.format(evidence=evidence, tmp=tmp_path) for a in args]

    outcome = himaya(*argv)

    assert outcome.code == 2, outcome.text
    assert message in outcome.text
    assert "Traceback" not in outcome.text


def test_creating_a_case_twice_is_bad_usage(himaya: Cli) -> None:
    assert himaya("case", "create", "C-7", "--title", "TEST").code == 0

    again = himaya("case", "create", "C-7")

    assert again.code == 2
    assert "case 'C-7' already exists" in again.text
    assert "himaya scan C-7" in again.text  # and what to do instead
    assert himaya("case", "list").text.count("C-7") == 1


def test_options_named_in_per_file_errors_exist(himaya: Cli, tmp_path: Path) -> None:
    """An error that says 'raise it with --x' or 'supply it with --y' must name an option that works."""
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "locked.zip").write_bytes(aes_zip([("inside.txt", b"benign\n")], PASSWORD))
    (evidence / "bomb.zip").write_bytes(
        zip_bytes([("zeros.bin", bytes(17 << 20))])  # over the default 16 MiB / 200:1 ratio limit
    )
    (evidence / "huge.png").write_bytes(png_header_only(50_000, 50_000))
    assert himaya("case", "create", "C-1").code == 0
    assert himaya("scan", "C-1", str(evidence), "--workers", "0", "--no-thumbnails", "--quiet").code == 0

    records = list(map(json.loads, himaya("export", "C-1").out.splitlines()))
    named = {option for r in records for option in re.findall(r"--[a-z][a-z-]+", r["error"] or "")}
    assert {"--max-pixels", "--max-archive-ratio"} <= named  # the three errors were met
    options = set(re.findall(r"--[a-z][a-z-]+", himaya("scan", "--help").text))
    assert named <= options, f"named in errors but not options of 'himaya scan': {named - options}"


# ---------------------------------------------------------------- credentials
def test_password_option_warns_and_the_password_is_never_stored(
    himaya: Cli, himaya_env: dict[str, Path], tmp_path: Path
) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    inside = photo_jpeg(seed=2, width=96, height=72)
    (evidence / "locked.zip").write_bytes(aes_zip([("inside.jpg", inside)], PASSWORD))
    assert himaya("case", "create", "C-1").code == 0

    # A real process, for its real standard error (in here, pytest owns the logging handlers).
    scanned = subprocess.run(
        [sys.executable, "-m", "himaya.cli.main", "scan", "C-1", str(evidence), "--workers", "0",
         "--password", PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    exported = himaya("export", "C-1", "--format", "jsonl")
    csv = himaya("export", "C-1", "--format", "csv")
    report = tmp_path / "report.html"
    assert himaya("report", "C-1", "--out", str(report)).code == 0

    warning = " ".join(scanned.stderr.split())
    assert scanned.returncode == 0, scanned.stderr
    assert "--password is visible in the process list" in warning
    assert PASSWORD not in scanned.stdout + scanned.stderr
    records = {r["path"]: r for r in map(json.loads, exported.out.splitlines())}
    assert records["ev/locked.zip!/inside.jpg"]["md5"] == hashlib.md5(inside).hexdigest()  # it was used
    stored = [path for path in himaya_env["home"].rglob("*") if path.is_file()]
    assert any(path.name == "himaya.db" for path in stored)
    secret = PASSWORD.encode()
    for path in stored:  # the database, its WAL and shared memory, the blob store
        assert secret not in path.read_bytes(), f"the password is in {path}"
    assert PASSWORD not in exported.out + csv.out + report.read_text()


# ---------------------------------------------------------------- known-material hash sets
def test_hashset_list_shows_format_scheme_and_what_the_version_changed(himaya: Cli, tmp_path: Path) -> None:
    md5s = [hashlib.md5(f"TEST {n}".encode()).hexdigest() for n in range(4)]
    listing = tmp_path / "TEST-ncmec.txt"
    listing.write_text(f"{md5s[0]} A1\n{md5s[1]} B2\n{md5s[2]} A2\n", encoding="utf-8")
    first = himaya("hashset", "import", str(listing), "--name", "TEST-NCMEC")
    assert first.code == 0, first.text
    assert "(ncmec, categories: ncmec)" in first.text
    assert "3 added, 0 changed, 0 removed" in first.text
    listing.write_text(f"{md5s[0]} A2\n{md5s[1]} B2\n{md5s[3]} A1\n", encoding="utf-8")
    second = himaya("hashset", "import", str(listing), "--name", "TEST-NCMEC", "--no-dihedral")
    assert "1 added, 1 changed, 1 removed" in second.text
    table = himaya("hashset", "list")
    assert table.code == 0
    row = next(line for line in (table.out + table.err).splitlines() if "TEST-NCMEC" in line)
    cells = [cell.strip() for cell in re.split(r"[│┃|]", row) if cell.strip()]
    assert cells[:6] == ["TEST-NCMEC", "alert", "ncmec (ncmec)", "2", "3", "1 / 1 / 1"]
    assert cells[-1] == "off"
    history = himaya("hashset", "show", "TEST-NCMEC")
    assert history.code == 0
    rows = [
        [cell.strip() for cell in re.split(r"[│┃|]", line) if cell.strip()]
        for line in (history.out + history.err).splitlines()
    ]
    versions = [cells for cells in rows if cells and cells[0] in ("1", "2")]
    assert [(cells[0], cells[4]) for cells in versions] == [("1", "3 / 0 / 0"), ("2", "1 / 1 / 1")]
    assert himaya("hashset", "show", "TEST-nope").code == 2


def test_export_vics_and_icse_through_the_command_line(himaya: Cli, tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    picture = photo_jpeg(seed=71, width=320, height=240)
    (evidence / "a.jpg").write_bytes(picture)
    listing = tmp_path / "TEST-list.txt"
    listing.write_text(f"md5,category\n{hashlib.md5(picture).hexdigest()},3\n", encoding="utf-8")
    assert himaya("case", "create", "TEST-9").code == 0
    assert himaya("hashset", "import", str(listing), "--name", "TEST-list").code == 0
    assert himaya("scan", "TEST-9", str(evidence), "--workers", "0", "-q").code == 0
    vics = tmp_path / "out.json"
    outcome = himaya("export", "TEST-9", "--format", "vics", "--out", str(vics), "--agency", "TEST unit")
    assert outcome.code == 0, outcome.text
    assert "1 media items written" in outcome.text
    case = json.loads(vics.read_text(encoding="utf-8"))["value"][0]
    assert (case["CaseNumber"], case["Agency"], case["Media"][0]["Category"]) == ("TEST-9", "TEST unit", 3)
    icse = himaya("export", "TEST-9", "--format", "icse")
    assert icse.out.splitlines()[0].startswith("MD5;SHA1;PhotoDNA;Image ID;")
    assert hashlib.md5(picture).hexdigest() in icse.out
    bad = himaya("export", "TEST-9", "--format", "xml")
    assert bad.code == 2 and "unknown export format 'xml'" in bad.text
