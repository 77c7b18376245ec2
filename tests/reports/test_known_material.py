"""A case's media exported as VICS 2.0 and ICSE CSV, and imported again as hash sets with the same entries.

Everything scanned is a generated, benign picture; every hash set's name says TEST.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.hashsets.vics import read_vics
from himaya.pipeline.scan import run_scan
from himaya.reports.known_material import export_case_icse, export_case_vics
from himaya.store.db import Store, open_store
from tests.builders.hashlists import StoredEntry, stored_entries
from tests.builders.images import photo_jpeg

CASE = "TEST-C-7"


@pytest.fixture(scope="module")
def case_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, bytes], Path]]:
    base = tmp_path_factory.mktemp("known")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HIMAYA_DATABASE_URL", raising=False)
        store = open_store(base / "home")
    create_case(store, CASE)
    pictures = {f"p{n}.jpg": photo_jpeg(seed=200 + n, width=320, height=240) for n in range(4)}
    evidence = base / "phone"
    (evidence / "DCIM").mkdir(parents=True)
    (evidence / "Backup").mkdir()
    for name, data in pictures.items():
        (evidence / "DCIM" / name).write_bytes(data)
    (evidence / "Backup" / "copy-of-p0.jpg").write_bytes(pictures["p0.jpg"])  # one content, two places
    (evidence / "notes.txt").write_bytes(b"TEST shopping list\n")  # not media: not exported
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in pictures.items()}
    vics_list = base / "TEST-vics.json"
    vics_list.write_text(
        json.dumps(
            {
                "odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.3.xml#Media",
                "value": [
                    {
                        "MediaID": 9,
                        "Category": 1,
                        "MD5": md5["p0.jpg"].upper(),
                        "Series": "TEST-series-A",
                        "VictimIdentified": "True ",
                        "OffenderIdentified": False,
                    },
                    {"MediaID": 10, "Category": "3", "MD5": md5["p1.jpg"]},
                ],
            }
        ),
        encoding="utf-8",
    )
    import_hash_set(store, vics_list, name="TEST-VICS")
    ncmec_list = base / "TEST-ncmec.txt"
    ncmec_list.write_text(f"{md5['p2.jpg']} A1\n", encoding="utf-8")
    import_hash_set(store, ncmec_list, name="TEST-NCMEC")
    run_scan(
        store, CASE, [evidence], settings=ScanSettings(workers=0, thumbnails=False), blobs=None, quiet=True
    )
    yield store, pictures, base
    store.close()


def _entries(store: Store, name: str) -> set[StoredEntry]:
    return stored_entries(store, name)


def test_vics_export_gives_each_content_once_with_its_matches_labels(
    case_store: tuple[Store, dict[str, bytes], Path], tmp_path: Path
) -> None:
    store, pictures, _ = case_store
    out = io.BytesIO()
    written = export_case_vics(store, CASE, out, contact_name="TEST officer", agency="TEST unit")
    document = json.loads(out.getvalue())
    assert written == 4  # four distinct pictures; the copy of p0 and the text file add no media item
    assert document["@odata.context"].endswith("/2.0.xml/US/$metadata#Cases")
    (case,) = document["value"]
    assert (case["CaseNumber"], case["ContactName"], case["Agency"]) == (CASE, "TEST officer", "TEST unit")
    by_md5 = {item["MD5"].lower(): item for item in case["Media"]}
    p0 = by_md5[hashlib.md5(pictures["p0.jpg"]).hexdigest()]
    assert (p0["Category"], p0["Series"], p0["VictimIdentified"], p0["OffenderIdentified"]) == (
        1,
        "TEST-series-A",
        True,
        False,
    )
    assert sorted(f["FilePath"] for f in p0["MediaFiles"]) == [
        "phone/Backup/copy-of-p0.jpg",
        "phone/DCIM/p0.jpg",
    ]
    assert by_md5[hashlib.md5(pictures["p1.jpg"]).hexdigest()]["Category"] == 3
    # NCMEC A1 goes out as the VICS number with the same meaning (illegal -> 1).
    assert by_md5[hashlib.md5(pictures["p2.jpg"]).hexdigest()]["Category"] == 1
    assert by_md5[hashlib.md5(pictures["p3.jpg"]).hexdigest()]["Category"] is None
    assert all(
        {h["HashName"] for h in item["AlternativeHashes"]} == {"SHA256", "PDQ"} for item in case["Media"]
    )
    assert b"Thumbnail" not in out.getvalue() and b"base64" not in out.getvalue()


def test_vics_export_reimports_to_the_same_entries(
    case_store: tuple[Store, dict[str, bytes], Path], tmp_path: Path
) -> None:
    store, _, _ = case_store
    path = tmp_path / "TEST-case.json"
    with path.open("wb") as handle:
        export_case_vics(store, CASE, handle)
    exported = {
        (
            entry.hash_type,
            entry.value,
            entry.category,
            entry.series,
            entry.victim_identified,
            entry.offender_identified,
        )
        for entry in read_vics(path)
    }
    import_hash_set(store, path, name="TEST-reimported-vics")
    assert _entries(store, "TEST-reimported-vics") == exported
    assert {hash_type for hash_type, *_ in exported} == {"md5", "sha1", "sha256", "pdq"}
    assert len(exported) == 16  # 4 media x 4 hashes


def test_icse_export_reimports_to_the_same_entries(
    case_store: tuple[Store, dict[str, bytes], Path], tmp_path: Path
) -> None:
    store, pictures, _ = case_store
    path = tmp_path / "TEST-case-icse.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        written = export_case_icse(store, CASE, handle, only_matches=True)
    assert written == 3  # the three pictures a list knows
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("MD5;SHA1;PhotoDNA;Image ID;")
    summary = import_hash_set(store, path, name="TEST-reimported-icse")
    assert summary.format == "icse"
    entries = _entries(store, "TEST-reimported-icse")
    md5s = {value for hash_type, value, *_ in entries if hash_type == "md5"}
    assert md5s == {hashlib.md5(pictures[f"p{n}.jpg"]).hexdigest() for n in range(3)}
    assert len(entries) == 6  # MD5 and SHA1 of each
    victims = {value: victim for hash_type, value, _c, _s, victim, _o in entries if hash_type == "md5"}
    assert victims[hashlib.md5(pictures["p0.jpg"]).hexdigest()] is True


def test_export_of_an_unknown_case_writes_nothing(case_store: tuple[Store, dict[str, bytes], Path]) -> None:
    from himaya.errors import CaseNotFoundError

    store, _, _ = case_store
    out = io.BytesIO()
    with pytest.raises(CaseNotFoundError):
        export_case_vics(store, "TEST-no-such-case", out)
    assert out.getvalue() == b""
