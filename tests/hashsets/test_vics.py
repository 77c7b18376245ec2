"""VICS JSON: every shape seen in the wild is read, every refusal names the media item or byte offset,
and what Himaya writes it reads back unchanged.

All hashes are digests of harmless generated strings (tests/builders/vics.py); none comes from a real list.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himaya.errors import HashSetFormatError
from himaya.hashsets.entries import ParsedEntry
from himaya.hashsets.vics import VicsCase, VicsMedia, read_vics, write_vics_cases
from tests.builders.vics import (
    ABSENT,
    SCHEMES,
    cases_document,
    md5,
    media,
    media_list,
    pdq,
    photodna,
    sha1,
    sha256,
    write_document,
)


def read(path: Path) -> list[ParsedEntry]:
    return list(read_vics(path))


def refused(path: Path) -> str:
    with pytest.raises(HashSetFormatError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def summary(entries: list[ParsedEntry]) -> list[tuple[str, str, str | None, int, str | None]]:
    return [(e.hash_type, e.value, e.category, e.line, e.media_id) for e in entries]


def details(entry: ParsedEntry) -> dict[str, Any]:
    assert entry.details is not None
    loaded: dict[str, Any] = json.loads(entry.details)
    return loaded


def one_media(tmp_path: Path, **fields: Any) -> Path:
    return media_list(tmp_path / "TEST-vics.json", [media(1001, **fields)])


# ------------------------------------------------------------------------------------------------ shapes


def test_vics_1_2_media_list(tmp_path: Path) -> None:
    path = media_list(
        tmp_path / "TEST-1.2.json",
        [
            media(1, Series="TEST series", VictimIdentified=True, OffenderIdentified=False),
            media(2, Category=2),
        ],
        version="1.2",
    )
    entries = read(path)
    assert entries[0] == ParsedEntry(
        "md5",
        md5(1),
        "1",
        "TEST series",
        1,
        victim_identified=True,
        offender_identified=False,
        media_id="1",
        details=None,
    )
    assert summary(entries) == [
        ("md5", md5(1), "1", 1, "1"),
        ("sha1", sha1(1), "1", 1, "1"),
        ("md5", md5(2), "2", 2, "2"),
        ("sha1", sha1(2), "2", 2, "2"),
    ]


def test_vics_1_3_media_list(tmp_path: Path) -> None:
    path = media_list(tmp_path / "TEST-1.3.json", [media(7, Category="A")], version="1.3")
    assert summary(read(path)) == [("md5", md5(7), "A", 1, "7"), ("sha1", sha1(7), "A", 1, "7")]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_vics_2_0_media_list_every_scheme(tmp_path: Path, scheme: str) -> None:
    path = media_list(
        tmp_path / f"TEST-2.0-{scheme}.json", [media(1), media(2)], version="2.0", scheme=scheme
    )
    assert json.loads(path.read_text())["@odata.context"].endswith(f"/2.0.xml/{scheme}/$metadata#Media")
    assert [(e.hash_type, e.line) for e in read(path)] == [("md5", 1), ("sha1", 1), ("md5", 2), ("sha1", 2)]


def test_vics_2_0_cases_shape(tmp_path: Path) -> None:
    path = cases_document(tmp_path / "TEST-cases.json", [[media(1), media(2)], [media(3, Category="B")]])
    entries = read(path)
    # Media of both cases, numbered on through the file; the case fields are not media.
    assert [(e.media_id, e.line, e.category) for e in entries if e.hash_type == "md5"] == [
        ("1", 1, "1"),
        ("2", 2, "1"),
        ("3", 3, "B"),
    ]


def test_vics_2_0_cases_without_media_are_skipped(tmp_path: Path) -> None:
    path = write_document(
        tmp_path / "TEST-cases.json",
        {"value": [{"CaseNumber": "TEST-1", "Media": None}, {"CaseNumber": "TEST-2", "Media": [media(5)]}]},
    )
    assert {e.media_id for e in read(path)} == {"5"}


def test_vics_metadata_key_after_value(tmp_path: Path) -> None:
    first = media_list(tmp_path / "TEST-first.json", [media(1), media(2)], version="1.3")
    last = media_list(tmp_path / "TEST-last.json", [media(1), media(2)], version="1.3", metadata_last=True)
    assert list(json.loads(last.read_text())) == ["value", "odata.metadata"]
    assert read(first) == read(last)


def test_vics_utf8_bom_accepted(tmp_path: Path) -> None:
    path = media_list(tmp_path / "TEST-bom.json", [media(1, Series="TEST série")], bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [e.series for e in read(path)] == ["TEST série", "TEST série"]


def test_vics_upper_case_md5_lowered(tmp_path: Path) -> None:
    path = one_media(tmp_path, MD5=md5(1).upper(), SHA1=sha1(1).upper())
    assert [(e.hash_type, e.value) for e in read(path)] == [("md5", md5(1)), ("sha1", sha1(1))]


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (1, "1"),
        (0, "0"),
        ("A", "A"),
        (" A1 ", "A1"),
        ("CAID A", "CAID A"),
        (1.0, "1"),
        (None, None),
        ("", None),
    ],
)
def test_vics_category_number_or_text_kept_as_label(tmp_path: Path, raw: Any, label: str | None) -> None:
    assert {e.category for e in read(one_media(tmp_path, Category=raw))} == {label}


def test_vics_category_absent_is_none(tmp_path: Path) -> None:
    assert {e.category for e in read(one_media(tmp_path, Category=ABSENT))} == {None}


def test_vics_category_longer_than_40_refused(tmp_path: Path) -> None:
    message = refused(one_media(tmp_path, Category="TEST " + "x" * 40))
    assert "media item 1 (MediaID 1001): Category 'TEST xxx" in message
    assert "longer than 40 characters" in message


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True ", True),
        (" FALSE", False),
        ("1", True),
        ("0", False),
        ("", None),
        ("  ", None),
        (None, None),
        (1, True),
    ],
)
def test_vics_boolean_strings_with_space(tmp_path: Path, raw: Any, flag: bool | None) -> None:
    path = one_media(tmp_path, VictimIdentified=raw, OffenderIdentified=raw, IsDistributed=raw)
    entry = read(path)[0]
    assert (entry.victim_identified, entry.offender_identified) == (flag, flag)
    assert (json.loads(entry.details).get("IsDistributed") if entry.details else None) == flag


@pytest.mark.parametrize("raw", ["yes", "TEST", "2", 2, [], {}])
def test_vics_bad_boolean_names_media_and_field(tmp_path: Path, raw: Any) -> None:
    message = refused(media_list(tmp_path / "TEST.json", [media(1), media(77, OffenderIdentified=raw)]))
    assert "media item 2 (MediaID 77): OffenderIdentified" in message
    assert ", not a boolean" in message
    assert "write true or false" in message


def test_vics_alternative_hashes_pdq_and_sha256(tmp_path: Path) -> None:
    alternatives = [
        {"HashName": "PDQ", "HashValue": pdq(1).upper()},
        {"HashName": "SHA-256", "HashValue": sha256(1)},
        {"HashName": "TEST-fuzzy", "HashValue": "3:TEST:abc"},
    ]
    entries = read(one_media(tmp_path, SHA1=ABSENT, AlternativeHashes=alternatives))
    assert [(e.hash_type, e.value) for e in entries] == [
        ("md5", md5(1001)),
        ("pdq", pdq(1)),
        ("sha256", sha256(1)),
    ]
    assert details(entries[0]) == {
        "AlternativeHashes": [{"HashName": "TEST-fuzzy", "HashValue": "3:TEST:abc"}]
    }


@pytest.mark.parametrize("name", ["pdq", "SHA256", "sha256", "Sha-256"])
def test_vics_alternative_hash_names_any_case(tmp_path: Path, name: str) -> None:
    entries = read(
        one_media(
            tmp_path, MD5=ABSENT, SHA1=ABSENT, AlternativeHashes=[{"HashName": name, "HashValue": pdq(2)}]
        )
    )
    assert [(e.hash_type, e.value) for e in entries] == [("pdq" if name == "pdq" else "sha256", pdq(2))]


def test_vics_media_files_paths_and_own_hashes(tmp_path: Path) -> None:
    files = [
        {
            "FileName": "TEST-a.jpg",
            "FilePath": "C:\\TEST\\DCIM\\TEST-a.jpg",
            "MD5": md5(1001),
            "Thumbnail": "AAAA",
        },
        {"FileName": "TEST-b.jpg", "FilePath": "/TEST/b/TEST-b.jpg", "MD5": md5(5).upper(), "SHA1": sha1(5)},
    ]
    entries = read(one_media(tmp_path, MediaFiles=files))
    # The first file's MD5 is the media's own: not repeated. The second file's hashes are extra entries.
    assert [(e.hash_type, e.value, e.line, e.media_id) for e in entries] == [
        ("md5", md5(1001), 1, "1001"),
        ("sha1", sha1(1001), 1, "1001"),
        ("md5", md5(5), 1, "1001"),
        ("sha1", sha1(5), 1, "1001"),
    ]
    assert details(entries[0]) == {
        "MediaFiles": [
            {"FileName": "TEST-a.jpg", "FilePath": "C:\\TEST\\DCIM\\TEST-a.jpg"},
            {"FileName": "TEST-b.jpg", "FilePath": "/TEST/b/TEST-b.jpg"},
        ]
    }


def test_vics_details_keep_photodna_and_extras_never_pictures(tmp_path: Path) -> None:
    path = one_media(
        tmp_path,
        PhotoDNA=photodna(1),
        MediaSize=2835,
        Comments="TEST comment é",
        Tags=["TEST", "tag"],
        DateUpdated="2024-01-02T03:04:05Z",
        IsPrecategorized="True ",
        Thumbnail="iVBORw0KGgoTEST",  # an exporter extra: never kept
        MediaData="TEST",
    )
    entries = read(path)
    assert {e.hash_type for e in entries} == {"md5", "sha1"}  # PhotoDNA is never matched on
    assert details(entries[0]) == {
        "PhotoDNA": photodna(1),
        "MediaSize": 2835,
        "Comments": "TEST comment é",
        "Tags": ["TEST", "tag"],
        "DateUpdated": "2024-01-02T03:04:05Z",
        "IsPrecategorized": True,
    }
    assert "é" in (entries[0].details or "")  # written as text, not \\u escapes
    assert entries[0].details == entries[1].details


def test_vics_decimal_numbers_become_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    # Written by hand: json.dumps would not write 2.0 and 1.5e3 as exporters do.
    numbers = '"Category": 2.0, "MediaSize": 1.5e3, "Tags": [0.25]'
    path.write_text(f'{{"value": [{{"MediaID": 5, "MD5": "{md5(5)}", {numbers}}}]}}')
    entry = read(path)[0]
    assert (entry.category, entry.media_id) == ("2", "5")
    assert details(entry) == {"MediaSize": 1500, "Tags": ["0.25"]}


def test_vics_duplicates_all_yielded(tmp_path: Path) -> None:
    path = media_list(tmp_path / "TEST.json", [media(1), media(1), media(2, MD5=md5(1))])
    assert [e.value for e in read(path) if e.hash_type == "md5"] == [md5(1)] * 3


# ------------------------------------------------------------------------------------------------ refusals


def test_vics_bad_hash_names_ordinal_and_media_id(tmp_path: Path) -> None:
    path = media_list(tmp_path / "TEST.json", [media(1), media(2), media(4412, MD5="XYZ")])
    message = refused(path)
    assert "media item 3 (MediaID 4412): MD5 'XYZ' is not 32 hex digits" in message
    assert "re-export the list from the source tool" in message


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"SHA1": sha1(1)[:-1]}, f"SHA1 '{sha1(1)[:-1]}' is not 40 hex digits"),
        ({"MD5": 12}, "MD5 is 12, not a hexadecimal string"),
        (
            {"AlternativeHashes": [{"HashName": "PDQ", "HashValue": "zz"}]},
            "AlternativeHashes PDQ 'zz' is not 64",
        ),
        ({"MediaFiles": [{"FileName": "TEST", "SHA1": "nothex"}]}, "MediaFiles entry 1 SHA1 'nothex'"),
        ({"MediaFiles": "TEST.jpg"}, "MediaFiles is 'TEST.jpg', not a list"),
        ({"AlternativeHashes": {"PDQ": "x"}}, "AlternativeHashes is an object, not a list"),
        ({"Category": ["A"]}, "Category is a list, not a label"),
        ({"Series": {"a": 1}}, "Series is an object, not a label"),
    ],
)
def test_vics_bad_field_names_media_and_field(tmp_path: Path, fields: dict[str, Any], problem: str) -> None:
    assert f"media item 1 (MediaID 1001): {problem}" in refused(one_media(tmp_path, **fields))


def test_vics_media_without_hash_refused(tmp_path: Path) -> None:
    path = media_list(
        tmp_path / "TEST.json", [media(1), {"MediaID": 9, "Category": 1, "MD5": "", "SHA1": None}]
    )
    assert "media item 2 (MediaID 9): no MD5, SHA1, SHA256 or PDQ hash" in refused(path)


def test_vics_photodna_only_refused(tmp_path: Path) -> None:
    message = refused(one_media(tmp_path, MD5=ABSENT, SHA1=ABSENT, PhotoDNA=photodna(3)))
    assert "(only PhotoDNA, which Himaya does not match on)" in message


def test_vics_media_without_media_id_named_by_ordinal(tmp_path: Path) -> None:
    path = write_document(tmp_path / "TEST.json", {"value": [{"MD5": "short"}]})
    assert f"{path}: media item 1: MD5 'short'" in refused(path)


@pytest.mark.parametrize(
    "document",
    [{"value": []}, {"value": [{"CaseNumber": "TEST", "Media": []}]}, {"value": [{"Media": None}]}],
)
def test_vics_no_media_refused(tmp_path: Path, document: dict[str, Any]) -> None:
    assert ": no media;" in refused(write_document(tmp_path / "TEST.json", document))


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([media(1)], "the file holds a list, not a VICS object"),
        ({"odata.metadata": "TEST"}, "no 'value' list"),
        ({"value": {"MediaID": 1}}, "'value' is an object, not a list of media or cases"),
        ({"value": [media(1), "TEST"]}, "entry 2 of 'value' is a string, not a media item or a case"),
        ({"value": [{"Media": "TEST"}]}, "case 1: 'Media' is a string, not a list"),
        ({"value": [{"Media": [media(1), 5]}]}, "media item 2 (in case 1) is a number, not an object"),
    ],
)
def test_vics_not_a_vics_document_refused(tmp_path: Path, document: Any, problem: str) -> None:
    message = refused(write_document(tmp_path / "TEST.json", document))
    assert problem in message
    assert "check the file is a VICS export" in message


def test_vics_truncated_file_names_byte_offset(tmp_path: Path) -> None:
    whole = media_list(tmp_path / "TEST-whole.json", [media(n) for n in range(1, 50)]).read_bytes()
    cut = len(whole) - 100
    path = tmp_path / "TEST-cut.json"
    path.write_bytes(whole[:cut])
    message = refused(path)
    assert f"broken JSON at byte {cut} (after media item 48): parse error: premature EOF" in message
    assert "compare its size or checksum with the source" in message


def test_vics_broken_json_mid_file_names_exact_offset(tmp_path: Path) -> None:
    # Far beyond the first 64 KiB read, so the offset is found within a chunk, not just at its start.
    whole = media_list(tmp_path / "TEST-whole.json", [media(n) for n in range(1, 3000)]).read_bytes()
    position = whole.index(b":", 300_000)
    path = tmp_path / "TEST-broken.json"
    path.write_bytes(whole[:position] + b";" + whole[position + 1 :])
    assert f"broken JSON at byte {position} (after media item " in refused(path)


def test_vics_broken_json_offset_counts_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    path.write_bytes(b'\xef\xbb\xbf{"value": [x]}')
    assert "broken JSON at byte 14: lexical error: invalid char in json text;" in refused(path)


def test_vics_trailing_garbage_refused(tmp_path: Path) -> None:
    path = media_list(tmp_path / "TEST.json", [media(1)])
    size = path.stat().st_size
    path.write_bytes(path.read_bytes() + b" TEST")
    assert f"broken JSON at byte {size + 1} (after media item 1): parse error: trailing garbage" in refused(
        path
    )


def test_vics_invalid_utf8_refused(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    path.write_bytes(b'{"value": [{"Series": "TEST \xff"}]}')
    assert "broken JSON at byte" in refused(path)


def test_vics_utf16_refused(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    path.write_bytes(json.dumps({"value": [media(1)]}).encode("utf-16"))
    assert "UTF-16 text, not UTF-8 JSON; re-export the list as UTF-8" in refused(path)


def test_vics_empty_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    path.write_bytes(b"")
    assert "broken JSON at byte 0: parse error: premature EOF" in refused(path)


@pytest.mark.parametrize("split", [0, 100, 65_530])
def test_vics_huge_integer_refused_without_crash(tmp_path: Path, split: int) -> None:
    # ijson's C backend crashes the interpreter on an integer past Python's 4300-digit limit; the reader
    # must stop before the parser sees one, even when the run spans two reads.
    head = b'{"value": [{"MD5": "' + md5(1).encode() + b'", "MediaSize": '
    padding = b" " * max(0, split - len(head))
    path = tmp_path / "TEST.json"
    path.write_bytes(head + padding + b"7" * 5000 + b"}]}")
    assert f"a number of 4000 digits or more at byte {len(head) + len(padding)}" in refused(path)


def test_vics_deep_nesting_refused(tmp_path: Path) -> None:
    path = tmp_path / "TEST.json"
    path.write_text('{"value": [{"Tags": ' + "[" * 5000 + "]" * 5000 + "}]}")
    assert "values nested more than 32 levels deep" in refused(path)


def test_vics_yields_entries_before_a_later_error(tmp_path: Path) -> None:
    # Streaming: what precedes the bad item comes out first (the importer rolls the whole list back).
    path = media_list(tmp_path / "TEST.json", [media(1), media(2, MD5="bad")])
    entries = read_vics(path)
    assert next(entries).media_id == "1"
    assert next(entries).media_id == "1"
    with pytest.raises(HashSetFormatError, match="media item 2"):
        next(entries)


# ------------------------------------------------------------------------------------------------ streaming

# The high-water mark from /proc, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a
# child forked from a large pytest worker would start at the worker's size and never seem to grow.
_MEASURE = """
import re, sys
from pathlib import Path
from himaya.hashsets.vics import read_vics
def peak_kib():
    return int(re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
before = peak_kib()
count = sum(1 for _ in read_vics(Path(sys.argv[1])))
grown = (peak_kib() - before) * 1024
print(count, grown)
"""


def _many_media(count: int) -> Iterator[VicsMedia]:
    for n in range(count):
        yield VicsMedia(
            media_id=str(n + 1),
            category=str(n % 3),
            md5=md5(n),
            sha1=sha1(n),
            sha256=None,
            pdq=None,
            series="TEST series",
            victim_identified=n % 2 == 0,
            offender_identified=None,
            is_distributed=True,
            file_paths=(f"C:\\TEST\\{n}.jpg",),
        )


@pytest.mark.slow
def test_vics_streams_200k_media_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "TEST-200k.json"
    with path.open("wb") as out:
        written = write_vics_cases(out, _case(_many_media(200_000)))
    size = path.stat().st_size
    assert written == 200_000 and size > 40_000_000
    # A fresh interpreter, so the peak RSS measures the reader alone (tracemalloc would take minutes).
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True, timeout=300
    )
    count, grown = map(int, result.stdout.split())
    assert count == 400_000  # MD5 and SHA1 of each item, all in one case's Media list
    assert grown < size // 10, f"reading a {size}-byte list grew the process by {grown} bytes"


# ------------------------------------------------------------------------------------------------ writer


def _case(media_items: Any, **fields: Any) -> VicsCase:
    values: dict[str, Any] = {
        "case_number": "TEST-2024-001",
        "contact_name": "TEST Examiner",
        "contact_email": "examiner@example.test",
        "agency": "TEST Unit",
        "source_application": "Himaya 0.1",
        "media": media_items,
    }
    values.update(fields)
    return VicsCase(**values)


def _vics_media(**fields: Any) -> VicsMedia:
    values: dict[str, Any] = {
        "media_id": "1",
        "category": "1",
        "md5": md5(1),
        "sha1": sha1(1),
        "sha256": None,
        "pdq": None,
        "series": None,
        "victim_identified": None,
        "offender_identified": None,
        "is_distributed": None,
        "file_paths": (),
    }
    values.update(fields)
    return VicsMedia(**values)


def test_write_vics_cases_document_shape() -> None:
    out = io.BytesIO()
    items = [
        _vics_media(
            media_id="42",
            category="2",
            sha256=sha256(1),
            pdq=pdq(1),
            series="TEST series",
            victim_identified=True,
            offender_identified=False,
            is_distributed=True,
            file_paths=("C:\\TEST\\DCIM\\TEST-a.jpg", "/TEST/b.jpg"),
            photodna=photodna(1),
            comments="TEST comment",
        ),
        _vics_media(media_id="TEST-007", category="A1", sha1=None),
        _vics_media(media_id="007", category="01"),
        _vics_media(media_id="1" * 19, category="0"),
    ]
    assert write_vics_cases(out, _case(items)) == 4
    document = json.loads(out.getvalue())
    assert document["@odata.context"] == (
        "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
    )
    [case] = document["value"]
    assert {key: value for key, value in case.items() if key != "Media"} == {
        "CaseNumber": "TEST-2024-001",
        "ContactName": "TEST Examiner",
        "ContactEmail": "examiner@example.test",
        "Agency": "TEST Unit",
        "SourceApplicationName": "Himaya 0.1",
    }
    first, second, third, fourth = case["Media"]
    assert first == {
        "MediaID": 42,
        "Category": 2,
        "MD5": md5(1).upper(),
        "SHA1": sha1(1).upper(),
        "Series": "TEST series",
        "VictimIdentified": True,
        "OffenderIdentified": False,
        "IsDistributed": True,
        "AlternativeHashes": [
            {"HashName": "SHA256", "HashValue": sha256(1)},
            {"HashName": "PDQ", "HashValue": pdq(1)},
        ],
        "PhotoDNA": photodna(1),
        "Comments": "TEST comment",
        "MediaFiles": [
            {"FileName": "TEST-a.jpg", "FilePath": "C:\\TEST\\DCIM\\TEST-a.jpg"},
            {"FileName": "b.jpg", "FilePath": "/TEST/b.jpg"},
        ],
    }
    assert (second["MediaID"], second["Category"], second["SHA1"]) == ("TEST-007", "A1", None)
    # A leading zero would be lost in a JSON number: such labels stay text.
    assert (third["MediaID"], third["Category"]) == ("007", "01")
    assert (fourth["MediaID"], fourth["Category"]) == ("1" * 19, 0)  # too long for a 64-bit integer


@pytest.mark.parametrize("scheme", SCHEMES)
def test_write_vics_cases_scheme_choice(scheme: str) -> None:
    out = io.BytesIO()
    write_vics_cases(out, _case([_vics_media()]), scheme=scheme)
    assert json.loads(out.getvalue())["@odata.context"].endswith(f"/2.0.xml/{scheme}/$metadata#Cases")


def test_write_vics_cases_unknown_scheme_refused() -> None:
    with pytest.raises(ValueError, match="VICS scheme 'EU' is not one of Default, US, UK, CUSTOM"):
        write_vics_cases(io.BytesIO(), _case([_vics_media()]), scheme="EU")


def test_write_vics_cases_streams_media_lazily() -> None:
    class Recorder(io.BytesIO):
        largest = 0

        def write(self, data: Any) -> int:
            self.largest = max(self.largest, len(data))
            return super().write(data)

    out = Recorder()
    assert write_vics_cases(out, _case(_many_media(5_000))) == 5_000
    assert out.largest < 2_000  # one media item per write, never the whole document at once
    assert len(json.loads(out.getvalue())["value"][0]["Media"]) == 5_000


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"md5": None, "sha1": None}, "media 1: no hash to export"),
        ({"md5": "xyz"}, "media 1: md5 'xyz' is not 32 hex digits"),
        ({"pdq": "ab" * 31}, "media 1: pdq '" + "ab" * 31 + "' is not 64 hex digits"),
        ({"category": "x" * 41}, "media 1: category longer than 40 characters"),
    ],
)
def test_write_vics_cases_refuses_what_the_reader_would(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        write_vics_cases(io.BytesIO(), _case([_vics_media(**fields)]))


def test_write_vics_cases_empty_case_is_valid_json() -> None:
    out = io.BytesIO()
    assert write_vics_cases(out, _case([])) == 0
    assert json.loads(out.getvalue())["value"][0]["Media"] == []


# ------------------------------------------------------------------------------------------------ properties

_LABEL_CHARS = "ABCabcz0179 -_.éß"
_labels = st.text(_LABEL_CHARS, min_size=1, max_size=40).filter(lambda text: text == text.strip())


def _hex(digits: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdefABCDEF", min_size=digits, max_size=digits)


_vics_media_strategy = st.builds(
    VicsMedia,
    media_id=st.one_of(st.integers(0, 10**12).map(str), _labels),
    category=st.none() | _labels,
    md5=st.none() | _hex(32),
    sha1=st.none() | _hex(40),
    sha256=st.none() | _hex(64),
    pdq=st.none() | _hex(64),
    series=st.none() | _labels,
    victim_identified=st.none() | st.booleans(),
    offender_identified=st.none() | st.booleans(),
    is_distributed=st.none() | st.booleans(),
    file_paths=st.lists(st.text("abcXYZ019/\\ .é", min_size=1, max_size=30), max_size=3).map(tuple),
    photodna=st.none() | st.text("ABCxyz019+/=", min_size=1, max_size=40),
    comments=st.none() | st.text(max_size=30),
).filter(lambda item: any((item.md5, item.sha1, item.sha256, item.pdq)))


@settings(max_examples=40)
@given(items=st.lists(_vics_media_strategy, min_size=1, max_size=8), scheme=st.sampled_from(SCHEMES))
def test_vics_write_then_read_round_trip(
    tmp_path_factory: pytest.TempPathFactory, items: list[VicsMedia], scheme: str
) -> None:
    path = tmp_path_factory.mktemp("round-trip") / "TEST-export.json"
    with path.open("wb") as out:
        assert write_vics_cases(out, _case(items), scheme=scheme) == len(items)
    entries = read(path)
    for ordinal, item in enumerate(items, start=1):
        mine = [entry for entry in entries if entry.line == ordinal]
        expected = {
            (hash_type, value.lower())
            for hash_type, value in (
                ("md5", item.md5),
                ("sha1", item.sha1),
                ("sha256", item.sha256),
                ("pdq", item.pdq),
            )
            if value is not None
        }
        assert {(entry.hash_type, entry.value) for entry in mine} == expected
        assert {
            (e.category, e.series, e.victim_identified, e.offender_identified, e.media_id) for e in mine
        } == {(item.category, item.series, item.victim_identified, item.offender_identified, item.media_id)}
        given_back = json.loads(mine[0].details) if mine[0].details else {}
        assert given_back.get("IsDistributed") == item.is_distributed
        assert given_back.get("PhotoDNA") == item.photodna
        assert given_back.get("Comments") == (item.comments or None)
        assert tuple(f["FilePath"] for f in given_back.get("MediaFiles", [])) == item.file_paths


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_json_values = st.recursive(
    _json_scalars | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
_field_values = st.one_of(
    _json_values,
    _hex(32),
    _hex(40),
    _hex(64),
    st.sampled_from(["true", "True ", "", "0", "1", "yes", "A", "x" * 41]),
)
_alternative = st.fixed_dictionaries(
    {
        "HashName": st.sampled_from(["PDQ", "SHA256", "SHA-256", "sha256", "MD5", "TEST"]),
        "HashValue": _field_values,
    }
)
_fields = st.sampled_from(
    [
        "MediaID", "Category", "MD5", "SHA1", "PhotoDNA", "MediaSize", "Series", "Comments", "Tags",
        "VictimIdentified", "OffenderIdentified", "IsDistributed", "IsPrecategorized", "DateUpdated",
    ]
)  # fmt: skip
_media_dicts = st.one_of(
    st.dictionaries(_fields, _field_values, max_size=8),
    st.builds(
        lambda base, alternatives, files: {**base, "AlternativeHashes": alternatives, "MediaFiles": files},
        st.dictionaries(_fields, _field_values, max_size=5),
        st.lists(_alternative, max_size=3) | _json_values,
        st.lists(st.dictionaries(st.sampled_from(["FileName", "FilePath", "MD5", "SHA1"]), _field_values))
        | _json_values,
    ),
)
_documents = st.one_of(
    _json_values,
    st.fixed_dictionaries({"value": st.lists(_media_dicts | _json_values, max_size=4)}),
    st.fixed_dictionaries(
        {
            "value": st.lists(
                st.fixed_dictionaries({"Media": st.lists(_media_dicts, max_size=3) | _json_values}),
                max_size=3,
            )
        }
    ),
)


def _only_format_errors(path: Path) -> None:
    try:
        for _ in read_vics(path):
            pass
    except HashSetFormatError:
        pass


@given(document=_documents, cut=st.none() | st.integers(0, 400), bom=st.booleans())
def test_vics_fuzz_json_documents_only_format_errors(
    tmp_path_factory: pytest.TempPathFactory, document: Any, cut: int | None, bom: bool
) -> None:
    data = json.dumps(document).encode("utf-8")
    path = tmp_path_factory.mktemp("fuzz") / "TEST-fuzz.json"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (data if cut is None else data[:cut]))
    _only_format_errors(path)


@given(data=st.binary(max_size=600))
def test_vics_fuzz_arbitrary_bytes_only_format_errors(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "TEST-fuzz.json"
    path.write_bytes(data)
    _only_format_errors(path)
