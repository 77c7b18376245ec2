"""A hash set's version exported as VICS, ICSE and plain CSV, and imported again as the same entries.

Every hash is the digest of generated text; every set's name says TEST.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.errors import UsageError
from himaya.hashsets.export import export_hash_set
from himaya.hashsets.importer import import_hash_set
from himaya.store.db import Store, open_store
from tests.builders.hashlists import StoredEntry, stored_entries


def md5(n: int) -> str:
    return hashlib.md5(f"TEST export {n}".encode()).hexdigest()


def sha1(n: int) -> str:
    return hashlib.sha1(f"TEST export {n}".encode()).hexdigest()


def sha256(n: int) -> str:
    return hashlib.sha256(f"TEST export {n}".encode()).hexdigest()


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


def entries(store: Store, name: str, version: int | None = None) -> set[StoredEntry]:
    return stored_entries(store, name, version)


@pytest.fixture
def vics_set(store: Store, tmp_path: Path) -> str:
    """A VICS list: media with MD5 + SHA1, one with SHA256 and PDQ only, flags as strings, PhotoDNA."""
    media = [
        {"MediaID": 1, "Category": 1, "MD5": md5(1).upper(), "SHA1": sha1(1), "Series": "TEST-series",
         "VictimIdentified": "True ", "OffenderIdentified": "false", "PhotoDNA": "VEVTVA==",
         "MediaFiles": [{"FileName": "a.jpg", "FilePath": "C:\\\\TEST\\\\a.jpg"}]},
        {"MediaID": 2, "Category": 4, "MD5": md5(2)},
        {"MediaID": 3, "Category": 2, "AlternativeHashes": [
            {"HashName": "SHA256", "HashValue": sha256(3)}, {"HashName": "PDQ", "HashValue": "0f" * 32}]},
    ]  # fmt: skip
    path = tmp_path / "TEST-vics.json"
    path.write_text(json.dumps({"odata.metadata": "x/1.3.xml#Media", "value": media}), encoding="utf-8")
    import_hash_set(store, path, name="TEST-VICS")
    return "TEST-VICS"


def test_vics_export_of_a_set_reimports_to_the_same_entries(
    store: Store, vics_set: str, tmp_path: Path
) -> None:
    out = tmp_path / "TEST-out.json"
    with out.open("wb") as handle:
        summary = export_hash_set(store, vics_set, "vics", handle)
    assert (summary.written, summary.left_out) == (3, 0)
    media = json.loads(out.read_text(encoding="utf-8"))["value"][0]["Media"]
    first = next(item for item in media if item["MediaID"] == 1)
    assert first["PhotoDNA"] == "VEVTVA=="  # kept opaque from the import, given back
    assert first["MediaFiles"][0]["FileName"] == "a.jpg"
    import_hash_set(store, out, name="TEST-VICS-again")
    assert entries(store, "TEST-VICS-again") == entries(store, vics_set)


def test_icse_export_of_a_set_keeps_md5_and_sha1_and_counts_what_it_cannot_hold(
    store: Store, vics_set: str, tmp_path: Path
) -> None:
    out = tmp_path / "TEST-out.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        summary = export_hash_set(store, vics_set, "icse", handle)
    assert (summary.written, summary.left_out) == (2, 2)  # media 3 has only SHA256 and PDQ
    import_hash_set(store, out, name="TEST-ICSE-again")
    again = {
        (t, v, s, victim, offender)
        for t, v, _category, s, victim, offender in entries(store, "TEST-ICSE-again")
    }
    original = {(t, v, s, victim, offender) for t, v, _c, s, victim, offender in entries(store, vics_set)}
    assert again == {row for row in original if row[0] in ("md5", "sha1")}


def test_plain_export_reimports_with_sha256_and_pdq_kept_apart(
    store: Store, vics_set: str, tmp_path: Path
) -> None:
    out = io.StringIO()
    summary = export_hash_set(store, vics_set, "plain", out)
    assert summary.written == 5  # MD5 + SHA1, MD5, SHA256 + PDQ
    path = tmp_path / "TEST-plain.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    import_hash_set(store, path, name="TEST-plain-again")
    again = {(t, v, c, s) for t, v, c, s, _victim, _offender in entries(store, "TEST-plain-again")}
    assert again == {(t, v, c, s) for t, v, c, s, _victim, _offender in entries(store, vics_set)}


def test_an_earlier_version_can_be_exported(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "TEST-list.txt"
    path.write_text(f"md5,category\n{md5(1)},1\n{md5(2)},2\n", encoding="utf-8")
    import_hash_set(store, path, name="TEST-list")
    path.write_text(f"md5,category\n{md5(2)},2\n{md5(3)},3\n", encoding="utf-8")
    import_hash_set(store, path, name="TEST-list")
    out = io.StringIO()
    export_hash_set(store, "TEST-list", "plain", out, version=1)
    assert md5(1) in out.getvalue() and md5(3) not in out.getvalue()
    with pytest.raises(UsageError, match="has no version 7"):
        export_hash_set(store, "TEST-list", "plain", io.StringIO(), version=7)
    with pytest.raises(UsageError, match="no hash set named 'TEST-nope'"):
        export_hash_set(store, "TEST-nope", "plain", io.StringIO())
    with pytest.raises(UsageError, match="cannot be exported"):
        export_hash_set(store, "TEST-list", "xml", io.StringIO())
