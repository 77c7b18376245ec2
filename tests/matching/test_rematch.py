"""Re-matching a scanned case against new hash-set versions, from the facts in the store alone.

Each test scans a generated seized folder of benign pictures once (as tests/pipeline does), then changes
the hash sets and re-matches: new matches are recorded, lost ones retired (kept on record, left out of
exports), and every run is written down. Every hash set's name says TEST.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from himaya.cases import create_case, list_cases
from himaya.cli.main import main
from himaya.config import ScanSettings
from himaya.errors import CaseNotFoundError
from himaya.hashsets.importer import import_hash_set
from himaya.matching.rematch import MatchChange, RematchResult, rematch
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store.db import Store, open_store
from himaya.store.models import File, HashEntry, Match, RematchRun
from tests.builders.evidence import full_pdq
from tests.builders.images import encode, mirrored, photo_jpeg, photo_like

CASE = "C-1"
# Export paths of the seized pictures: A is on version 1 of the MD5 list, B and C are not (yet), and D is
# a mirrored copy of a picture that is not itself on the device.
A, B, C, D = "ev/DCIM/a.jpg", "ev/DCIM/b.jpg", "ev/DCIM/c.jpg", "ev/DCIM/d_mirrored.jpg"
NOTES = "ev/Documents/notes.txt"
D_SEED = 44


@dataclass
class Scanned:
    store: Store
    home: Path
    evidence: Path
    lists: Path
    data: dict[str, bytes]  # export path -> bytes

    def md5(self, path: str) -> str:
        return hashlib.md5(self.data[path]).hexdigest()

    def write_list(self, name: str, lines: list[str]) -> Path:
        path = self.lists / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def md5_list(self, name: str, rows: list[tuple[str, str]]) -> Path:
        """A `md5,category` list of the given pictures with their labels."""
        return self.write_list(name, ["md5,category", *(f"{self.md5(path)},{label}" for path, label in rows)])

    def export(self, only_matches: bool = False) -> dict[str, dict[str, Any]]:
        out = io.StringIO()
        export_case(self.store, CASE, "jsonl", out, only_matches)
        return {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}

    def rematch(self) -> RematchResult:
        (result,) = rematch(self.store, [CASE])
        return result


@pytest.fixture
def scanned(himaya_env: dict[str, Path], tmp_path: Path) -> Iterator[Scanned]:
    """Case C-1, scanned with version 1 of TEST-md5 (picture A, VICS category "2") as the only set."""
    home = himaya_env["home"]
    store = open_store(home)
    create_case(store, CASE, "TEST case")
    evidence = tmp_path / "ev"
    (evidence / "DCIM").mkdir(parents=True)
    (evidence / "Documents").mkdir()
    data = {
        A: photo_jpeg(seed=41),
        B: photo_jpeg(seed=42),
        C: photo_jpeg(seed=43),
        D: encode(mirrored(photo_like(D_SEED), "horizontal"), "JPEG", quality=90),
        NOTES: b"TEST meeting on tuesday\n",
    }
    for path, content in data.items():
        (tmp_path / path).write_bytes(content)
    lists = tmp_path / "lists"
    lists.mkdir()
    scanned = Scanned(store, home, evidence, lists, data)
    import_hash_set(store, scanned.md5_list("TEST-md5.csv", [(A, "2")]), name="TEST-md5")
    summary = run_scan(
        store, CASE, [evidence], settings=ScanSettings(workers=0, thumbnails=False), blobs=None, quiet=True
    )
    assert (summary.status, summary.matched_files) == ("finished", 1)
    yield scanned
    store.close()


def changes(found: list[MatchChange]) -> list[tuple[str, str, int, str, str | None]]:
    return sorted((c.path, c.hashset, c.hashset_version, c.method, c.category) for c in found)


def methods(record: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((m["hashset"], m["hashset_version"], m["method"]) for m in record["matches"])


def matches_of(session: Any, path: str) -> list[Match]:
    return list(
        session.scalars(
            select(Match).join(File, File.id == Match.file_id).where(File.path == path).order_by(Match.id)
        )
    )


# ---------------------------------------------------------------- new, lost, retired, recorded


def test_a_new_version_finds_new_matches_and_retires_lost_ones(scanned: Scanned) -> None:
    assert methods(scanned.export()[A]) == [("TEST-md5", 1, "md5")]
    v2 = import_hash_set(scanned.store, scanned.md5_list("TEST-md5.csv", [(B, "2")]), name="TEST-md5")
    assert (v2.version, v2.added, v2.removed) == (2, 1, 1)

    result = scanned.rematch()

    assert changes(result.new) == [(B, "TEST-md5", 2, "md5", "2")]
    assert changes(result.lost) == [(A, "TEST-md5", 1, "md5", "2")]
    assert (result.case, result.kept, result.files_checked) == (CASE, 0, len(scanned.data))
    records = scanned.export()
    assert records[A]["matches"] == []
    assert records[A]["file_category"] is None
    assert methods(records[B]) == [("TEST-md5", 2, "md5")]
    assert list(scanned.export(only_matches=True)) == [B]
    assert [row.matched_files for row in list_cases(scanned.store)] == [1]
    with scanned.store.session() as session:
        (retired,) = matches_of(session, A)  # kept on record, not deleted
        assert retired.retired_at is not None
        assert retired.retired_run_id == result.run_id
        assert retired.rematch_run_id is None  # made by the scan
        (made,) = matches_of(session, B)
        assert (made.rematch_run_id, made.retired_at, made.method, made.distance) == (
            result.run_id,
            None,
            "md5",
            0,
        )
        assert made.hash_set_version_id == v2.version_id
        run = session.get(RematchRun, result.run_id)
        assert run is not None
        assert (run.files_checked, run.new_matches, run.lost_matches, run.kept_matches) == (5, 1, 1, 0)
        assert json.loads(run.versions_json) == {"TEST-md5": 2}
        assert run.finished_at is not None and run.finished_at >= run.started_at


def test_rematch_is_idempotent(scanned: Scanned) -> None:
    # Straight after the scan, nothing changes: the scan's match is kept.
    first = scanned.rematch()
    assert (len(first.new), len(first.lost), first.kept) == (0, 0, 1)
    import_hash_set(scanned.store, scanned.md5_list("TEST-md5.csv", [(B, "2")]), name="TEST-md5")
    changed = scanned.rematch()
    assert (len(changed.new), len(changed.lost), changed.kept) == (1, 1, 0)
    before = scanned.export()

    again = scanned.rematch()

    assert (len(again.new), len(again.lost), again.kept) == (0, 0, 1)
    assert scanned.export() == before
    with scanned.store.session() as session:
        runs = session.scalars(select(RematchRun).order_by(RematchRun.id)).all()
        assert [(r.new_matches, r.lost_matches, r.kept_matches) for r in runs] == [
            (0, 0, 1),
            (1, 1, 0),
            (0, 0, 1),
        ]
        assert len(session.scalars(select(Match)).all()) == 2  # no duplicate rows


def test_an_entry_withdrawn_and_listed_again_matches_again(scanned: Scanned) -> None:
    import_hash_set(scanned.store, scanned.md5_list("TEST-md5.csv", [(B, "2")]), name="TEST-md5")
    scanned.rematch()
    import_hash_set(scanned.store, scanned.md5_list("TEST-md5.csv", [(A, "2"), (B, "2")]), name="TEST-md5")

    result = scanned.rematch()

    assert changes(result.new) == [(A, "TEST-md5", 3, "md5", "2")]
    assert (result.lost, result.kept) == ([], 1)
    assert methods(scanned.export()[A]) == [("TEST-md5", 3, "md5")]
    with scanned.store.session() as session:
        history = matches_of(session, A)
        assert [m.retired_at is None for m in history] == [False, True]  # the withdrawn match stays on record
        assert history[0].entry_id != history[1].entry_id


# ---------------------------------------------------------------- PDQ and dihedral


def test_a_pdq_entry_in_a_new_version_is_found_by_rematch(scanned: Scanned) -> None:
    pdq_list = scanned.write_list("TEST-pdq.txt", [full_pdq(scanned.data[C])])
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq")

    result = scanned.rematch()

    assert changes(result.new) == [(C, "TEST-pdq", 1, "pdq", None)]
    (found,) = result.new
    assert 0 <= found.distance <= 31
    assert (result.lost, result.kept) == ([], 1)
    (match,) = scanned.export()[C]["matches"]
    assert (match["hashset"], match["method"], match["distance"]) == ("TEST-pdq", "pdq", found.distance)
    with scanned.store.session() as session:
        (row,) = matches_of(session, C)
        assert row.pdq_pipeline is not None and row.pdq_pipeline.startswith("pdq-")


def original_of_d() -> bytes:
    return encode(photo_like(D_SEED), "JPEG", quality=90)


def test_a_mirrored_copy_matches_by_pdq_dihedral_on_rematch(scanned: Scanned) -> None:
    pdq_list = scanned.write_list("TEST-pdq.txt", [full_pdq(original_of_d())])
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq")  # new alert sets: dihedral on

    result = scanned.rematch()

    assert changes(result.new) == [(D, "TEST-pdq", 1, "pdq-dihedral", None)]
    assert 0 <= result.new[0].distance <= 31
    assert methods(scanned.export()[D]) == [("TEST-pdq", 1, "pdq-dihedral")]


def test_turning_dihedral_on_for_a_set_finds_the_mirrored_copy(scanned: Scanned) -> None:
    pdq_list = scanned.write_list("TEST-pdq.txt", [full_pdq(original_of_d())])
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq", dihedral=False)
    off = scanned.rematch()
    assert (off.new, off.lost) == ([], [])

    again = import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq", dihedral=True)
    assert again.unchanged  # the same file: only the setting changed
    on = scanned.rematch()

    assert changes(on.new) == [(D, "TEST-pdq", 1, "pdq-dihedral", None)]
    assert on.lost == []


def test_a_match_retired_by_a_setting_comes_back_when_the_setting_is_restored(scanned: Scanned) -> None:
    """Dihedral on -> off retires the mirrored copy's match; back on must match it again (the entry, and
    so the (file, entry) pair, is the same as the retired match's)."""
    pdq_list = scanned.write_list("TEST-pdq.txt", [full_pdq(original_of_d())])
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq")
    assert len(scanned.rematch().new) == 1
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq", dihedral=False)
    off = scanned.rematch()
    assert changes(off.lost) == [(D, "TEST-pdq", 1, "pdq-dihedral", None)]
    assert scanned.export()[D]["matches"] == []
    import_hash_set(scanned.store, pdq_list, name="TEST-pdq", hash_type="pdq", dihedral=True)

    on = scanned.rematch()

    assert changes(on.new) == [(D, "TEST-pdq", 1, "pdq-dihedral", None)]
    assert methods(scanned.export()[D]) == [("TEST-pdq", 1, "pdq-dihedral")]


# ---------------------------------------------------------------- categories


def test_a_relabelled_entry_is_lost_and_new_and_the_export_follows(scanned: Scanned) -> None:
    (before,) = scanned.export()[A]["matches"]
    assert (before["category"], before["internal_category"], before["category_scheme"]) == (
        "2",
        "harmful-abusive",
        "vics",
    )
    v2 = import_hash_set(scanned.store, scanned.md5_list("TEST-md5.csv", [(A, "1")]), name="TEST-md5")
    assert (v2.added, v2.removed, v2.changed) == (0, 0, 1)

    result = scanned.rematch()

    assert changes(result.lost) == [(A, "TEST-md5", 1, "md5", "2")]
    assert changes(result.new) == [(A, "TEST-md5", 2, "md5", "1")]
    record = scanned.export()[A]
    (after,) = record["matches"]
    assert (after["category"], after["internal_category"], after["hashset_version"]) == ("1", "illegal", 2)
    assert (record["file_category"], record["category_labels"]) == ("illegal", ["TEST-md5: 1"])
    with scanned.store.session() as session:
        old, new = matches_of(session, A)
        assert old.retired_at is not None and new.retired_at is None
        assert [session.get(HashEntry, m.entry_id).category for m in (old, new)] == ["2", "1"]  # type: ignore[union-attr]


def test_the_export_gives_the_most_severe_category_and_shows_disagreement(scanned: Scanned) -> None:
    store = scanned.store
    import_hash_set(store, scanned.md5_list("TEST-second.csv", [(A, "4"), (C, "1")]), name="TEST-second")
    import_hash_set(store, scanned.md5_list("TEST-third.csv", [(A, "1")]), name="TEST-third")
    import_hash_set(store, scanned.md5_list("TEST-caid.csv", [(C, "Category A")]), name="TEST-caid")
    ignore = scanned.write_list("TEST-known-good.txt", [scanned.md5(NOTES)])
    import_hash_set(store, ignore, name="TEST-known-good", kind="ignore")

    result = scanned.rematch()

    assert len(result.new) == 5
    records = scanned.export()
    a = records[A]
    assert sorted((m["hashset"], m["category"], m["internal_category"]) for m in a["matches"]) == [
        ("TEST-md5", "2", "harmful-abusive"),
        ("TEST-second", "4", "comparison"),
        ("TEST-third", "1", "illegal"),
    ]
    assert a["file_category"] == "illegal"  # the most severe label decides
    assert a["category_labels"] == ["TEST-md5: 2", "TEST-second: 4", "TEST-third: 1"]
    assert a["categories_disagree"] is True
    c = records[C]  # VICS "1" and CAID "Category A" are both illegal: two labels, no disagreement
    assert (c["file_category"], c["category_labels"], c["categories_disagree"]) == (
        "illegal",
        ["TEST-caid: Category A", "TEST-second: 1"],
        False,
    )
    assert {m["category_scheme"] for m in c["matches"]} == {"caid", "vics"}
    notes = records[NOTES]  # an ignore-set match says nothing about the category
    assert [m["kind"] for m in notes["matches"]] == ["ignore"]
    assert (notes["file_category"], notes["category_labels"], notes["categories_disagree"]) == (
        None,
        [],
        False,
    )
    assert (records[B]["file_category"], records[B]["categories_disagree"]) == (None, False)


def test_disagreement_is_between_internal_categories_not_label_spellings(scanned: Scanned) -> None:
    """VICS "1" against VICS "4" disagrees; two sets giving a file the same label do not."""
    import_hash_set(scanned.store, scanned.md5_list("TEST-vics-1.csv", [(B, "1")]), name="TEST-vics-1")
    import_hash_set(scanned.store, scanned.md5_list("TEST-vics-4.csv", [(B, "4")]), name="TEST-vics-4")
    import_hash_set(scanned.store, scanned.md5_list("TEST-again.csv", [(A, "2")]), name="TEST-again")
    scanned.rematch()

    records = scanned.export()
    assert (records[B]["file_category"], records[B]["categories_disagree"]) == ("illegal", True)
    assert records[B]["category_labels"] == ["TEST-vics-1: 1", "TEST-vics-4: 4"]
    assert (records[A]["file_category"], records[A]["categories_disagree"]) == ("harmful-abusive", False)


# ---------------------------------------------------------------- the command line, without the evidence


@dataclass
class Outcome:
    code: int
    text: str  # stdout and stderr, the console's line wrapping undone


@pytest.fixture
def himaya(
    scanned: Scanned, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """`himaya("rematch", ...)` runs the command line in this process, on the scanned case's home.

    The evidence folder is moved away first: a re-match reads the store only.
    """
    scanned.evidence.rename(scanned.evidence.with_name("ev-returned-to-custody"))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["himaya", *args])
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        captured = capsys.readouterr()
        return Outcome(code, " ".join((captured.out + " " + captured.err).split()))

    yield run


def test_cli_rematch_prints_what_changed_without_the_evidence(scanned: Scanned, himaya: Any) -> None:
    assert not scanned.evidence.exists()
    unchanged = himaya("rematch", CASE)
    assert unchanged.code == 0, unchanged.text
    assert "case C-1: 5 files re-matched; 0 new, 0 lost, 1 kept matches" in unchanged.text

    v2 = scanned.md5_list("TEST-md5-v2.csv", [(B, "2")])
    imported = himaya("hashset", "import", str(v2), "--name", "TEST-md5", "--rematch")

    assert imported.code == 0, imported.text
    assert "hash set TEST-md5 version 2" in imported.text
    assert "1 added, 0 changed, 1 removed" in imported.text
    assert "case C-1: 5 files re-matched; 1 new, 1 lost, 0 kept matches" in imported.text
    # Each change names the file by its export path (which starts with the evidence item's name).
    assert f"+ {B}: TEST-md5 v2 md5 d=0 category 2" in imported.text
    assert f"- {A}: TEST-md5 v1 md5 d=0 category 2" in imported.text
    assert list(scanned.export(only_matches=True)) == [B]
    again = himaya("rematch", CASE)
    assert "0 new, 0 lost, 1 kept matches" in again.text
    with scanned.store.session() as session:
        assert {f.status for f in session.scalars(select(File))} == {"ok"}  # nothing was re-read


def test_cli_rematch_details_limits_the_listing(scanned: Scanned, himaya: Any) -> None:
    v2 = scanned.md5_list("TEST-md5-v2.csv", [(B, "2"), (C, "2")])
    import_hash_set(scanned.store, v2, name="TEST-md5")

    outcome = himaya("rematch", CASE, "--details", "1")

    assert outcome.code == 0, outcome.text
    assert "2 new, 1 lost" in outcome.text
    assert outcome.text.count(" + ") == 2  # one listed, then "+ ... and 1 more"
    assert "+ ... and 1 more (see the export)" in outcome.text
    assert "- ... and" not in outcome.text


def test_cli_rematch_without_a_case_rematches_every_case(scanned: Scanned, himaya: Any) -> None:
    create_case(scanned.store, "C-2", "TEST empty case")

    outcome = himaya("rematch")

    assert outcome.code == 0, outcome.text
    assert "case C-1: 5 files re-matched" in outcome.text
    assert "case C-2: 0 files re-matched; 0 new, 0 lost, 0 kept matches" in outcome.text


def test_cli_rematch_of_an_unknown_case_fails_clearly_and_changes_nothing(
    scanned: Scanned, himaya: Any
) -> None:
    outcome = himaya("rematch", CASE, "NO-SUCH-CASE")

    # An unknown case is bad usage everywhere in the command line (scan, export): exit code 2.
    assert outcome.code == 2, outcome.text
    assert "case 'NO-SUCH-CASE' does not exist" in outcome.text
    assert "himaya case create NO-SUCH-CASE" in outcome.text
    assert "Traceback" not in outcome.text
    with scanned.store.session() as session:
        assert session.scalars(select(RematchRun)).all() == []  # not even the case that exists
    with pytest.raises(CaseNotFoundError):
        rematch(scanned.store, ["NO-SUCH-CASE"])
