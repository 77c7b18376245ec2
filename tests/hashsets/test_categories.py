"""Partners' category labels on Himaya's one internal scale: the built-in map, the unit's override, the docs.

Every label here is a category *name* (VICS "1", CAID "A", ...); no hash or picture is involved, except in
the end-to-end override test, which flags a harmless generated text file listed in a TEST set.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.errors import UsageError
from himaya.hashsets.categories import OVERRIDE_FILE, UNCATEGORIZED, CategoryMap, normalise_label
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store.db import open_store

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "categories.md"
ORDER = ("illegal", "harmful-abusive", "age-difficult", "cgi", "comparison", "non-pertinent", UNCATEGORIZED)


@pytest.fixture(scope="module")
def builtin() -> CategoryMap:
    return CategoryMap.default()


def builtin_toml() -> dict[str, dict[str, str]]:
    text = resources.files("himaya.hashsets").joinpath("data/categories.toml").read_text("utf-8")
    schemes: dict[str, dict[str, str]] = tomllib.loads(text)["schemes"]
    return schemes


# ---------------------------------------------------------------- the built-in map

VICS = [
    ("0", "non-pertinent"), ("1", "illegal"), ("2", "harmful-abusive"), ("3", "cgi"), ("4", "comparison"),
    ("5", "age-difficult"), ("VICS 1", "illegal"), (" 4 ", "comparison"),
]  # fmt: skip
CAID = [
    ("A", "illegal"), ("B", "illegal"), ("C", "illegal"), ("CAID A", "illegal"), ("Category A", "illegal"),
    ("cat a", "illegal"), ("Cat. B", "illegal"), ("caid-c", "illegal"), ("CAID: B", "illegal"),
    ("category  c", "illegal"), ("Not indecent", "non-pertinent"),
]  # fmt: skip
NCMEC = [
    ("A1", "illegal"), ("A2", "illegal"), ("B1", "illegal"), ("B2", "illegal"), ("a1", "illegal"),
    ("NCMEC B2", "illegal"),
]  # fmt: skip
ICSE = [
    ("baseline", "illegal"), ("Baseline", "illegal"), ("ICSE baseline", "illegal"),
    ("non-baseline", UNCATEGORIZED), ("Non Baseline", UNCATEGORIZED), ("non_baseline", UNCATEGORIZED),
]  # fmt: skip
WORDS = [
    ("illegal", "illegal"), ("CSAM", "illegal"), ("cam", "illegal"), ("harmful-abusive", "harmful-abusive"),
    ("Harmful abusive", "harmful-abusive"), ("harmful", "harmful-abusive"),
    ("age difficult", "age-difficult"), ("CGI", "cgi"), ("comparison", "comparison"),
    ("exemplar", "comparison"),
    ("non-pertinent", "non-pertinent"), ("non pertinent", "non-pertinent"), ("ignorable", "non-pertinent"),
    ("uncategorized", UNCATEGORIZED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scheme", "label", "internal"),
    [("vics", *row) for row in VICS]
    + [("caid", *row) for row in CAID]
    + [("ncmec", *row) for row in NCMEC]
    + [("icse", *row) for row in ICSE]
    + [("custom", *row) for row in WORDS],
)
def test_every_builtin_label_maps_as_documented(
    builtin: CategoryMap, scheme: str, label: str, internal: str
) -> None:
    assert builtin.internal(label, scheme) == internal
    # The built-in schemes use disjoint labels, so the label alone names its meaning (a "plain" list).
    assert builtin.internal(label) == internal


@pytest.mark.parametrize("label", [None, "", "   ", "9", "TEST-unknown", "A3", "C1", "category", "VICS 7"])
def test_unknown_and_missing_labels_are_uncategorized(builtin: CategoryMap, label: str | None) -> None:
    assert builtin.internal(label) == UNCATEGORIZED
    assert builtin.internal(label, "vics") == UNCATEGORIZED


def test_a_scheme_without_the_label_falls_back_to_the_label_meaning(builtin: CategoryMap) -> None:
    """A set whose scheme was detected as VICS may still hold a CAID letter: it keeps its meaning."""
    assert builtin.internal("A", "vics") == "illegal"
    assert builtin.internal("1", "no-such-scheme") == "illegal"


@pytest.mark.parametrize(
    ("label", "normalised"),
    [("CAID A", "A"), ("Category A", "A"), ("cat a", "A"), ("Cat. A", "A"), ("VICS 1", "1"),
     ("NCMEC-a1", "A1"), ("ICSE baseline", "BASELINE"), ("non_baseline", "NON-BASELINE"),
     ("  harmful   abusive ", "HARMFUL-ABUSIVE"), ("", "")],
)  # fmt: skip
def test_labels_are_normalised_before_lookup(label: str, normalised: str) -> None:
    assert normalise_label(label) == normalised


def test_severity_follows_the_internal_scale(builtin: CategoryMap) -> None:
    assert builtin.order == ORDER
    assert [builtin.severity(name) for name in ORDER] == list(range(len(ORDER)))
    assert builtin.severity("TEST-not-a-category") == builtin.severity(UNCATEGORIZED)


@pytest.mark.parametrize(
    ("internals", "expected"),
    [
        (["comparison", "illegal", "cgi"], "illegal"),
        (["non-pertinent", "age-difficult"], "age-difficult"),
        (["uncategorized", "non-pertinent"], "non-pertinent"),
        (["cgi", "cgi"], "cgi"),
        (["harmful-abusive", "TEST-not-a-category"], "harmful-abusive"),
        ([], UNCATEGORIZED),
    ],
)
def test_most_severe_wins(builtin: CategoryMap, internals: list[str], expected: str) -> None:
    assert builtin.most_severe(internals) == expected
    assert builtin.most_severe(reversed(internals)) == expected


@pytest.mark.parametrize(
    ("labels", "fmt", "scheme"),
    [
        (["1", "2", "0", "5"], "vics", "vics"),
        (["A", "Category B", "cat c"], "ncmec", "caid"),
        (["A1", "B2", "a2"], "ncmec", "ncmec"),
        (["baseline", "non-baseline"], "icse", "icse"),
        ([None, None], "icse", "icse"),  # ICSE lists without a Baseline column
        ([None], "plain", None),
        ([], "plain", None),
        (["TEST-x", "TEST-y"], "plain", "custom"),
        (["illegal", "CGI"], "plain", "custom"),
        (["1", "2", "A", None], "plain", "vics"),  # the scheme holding most labels
    ],
)
def test_scheme_of_a_versions_labels(
    builtin: CategoryMap, labels: list[str | None], fmt: str, scheme: str | None
) -> None:
    assert builtin.scheme_of(labels, fmt) == scheme


# ---------------------------------------------------------------- the unit's override


def test_an_override_in_home_changes_a_mapping_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / OVERRIDE_FILE).write_text(
        '[schemes.vics]\n"4" = "illegal"\n\n[schemes.custom]\n"TEST-local" = "cgi"\n', encoding="utf-8"
    )
    unit = CategoryMap.load(tmp_path)
    assert unit.internal("4", "vics") == "illegal"
    assert unit.internal("TEST-LOCAL") == "cgi"
    assert unit.internal("test local") == "cgi"  # override labels are normalised like built-in ones
    assert unit.internal("2", "vics") == "harmful-abusive"
    assert unit.internal("CSAM") == "illegal"
    assert unit.order == ORDER
    assert CategoryMap.default().internal("4", "vics") == "comparison"  # the built-in map is untouched


def test_no_override_file_is_the_builtin_map(tmp_path: Path, builtin: CategoryMap) -> None:
    assert CategoryMap.load(tmp_path) == builtin
    assert CategoryMap.load(None) == builtin
    assert CategoryMap.load(tmp_path / "not-there") == builtin


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('[schemes.vics\n"1" = "illegal"\n', "cannot be read"),
        ('[schemes.vics]\n"1" = "very-bad"\n', "'very-bad', which is not one of illegal"),
        (b"\xff\xfe[schemes]", "cannot be read"),
    ],
    ids=["not-toml", "unknown-internal-category", "not-utf8"],
)
def test_a_broken_override_is_a_clear_usage_error(tmp_path: Path, content: str | bytes, words: str) -> None:
    override = tmp_path / OVERRIDE_FILE
    if isinstance(content, bytes):
        override.write_bytes(content)
    else:
        override.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        CategoryMap.load(tmp_path)
    message = str(caught.value)
    assert str(override) in message  # which file to fix
    assert words in message
    assert "Traceback" not in message


def test_the_override_in_home_reaches_the_export(
    himaya_env: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The unit's override must change what the jsonl export says, not only what the library returns."""
    home = himaya_env["home"]
    store = open_store(home)
    try:
        create_case(store, "C-1", "TEST case")
        evidence = tmp_path / "ev"
        evidence.mkdir()
        data = b"TEST benign note\n"
        (evidence / "note.txt").write_bytes(data)
        hash_list = tmp_path / "TEST-vics.csv"
        hash_list.write_text(f"md5,category\n{hashlib.md5(data).hexdigest()},4\n")
        import_hash_set(store, hash_list, name="TEST-set")
        run_scan(
            store,
            "C-1",
            [evidence],
            settings=ScanSettings(workers=0, thumbnails=False),
            blobs=None,
            quiet=True,
        )
        out = io.StringIO()
        export_case(store, "C-1", "jsonl", out)
        before = json.loads(out.getvalue())
        assert before["file_category"] == "comparison"
    finally:
        store.close()
    (home / OVERRIDE_FILE).write_text('[schemes.vics]\n"4" = "age-difficult"\n', encoding="utf-8")

    from himaya.cli.main import main

    monkeypatch.setattr("sys.argv", ["himaya", "export", "C-1", "--format", "jsonl"])
    capsys.readouterr()
    try:
        main()
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    record = json.loads(capsys.readouterr().out)
    assert [m["internal_category"] for m in record["matches"]] == ["age-difficult"]
    assert record["file_category"] == "age-difficult"


# ---------------------------------------------------------------- docs/categories.md

_ROW = re.compile(r"^\s*\|(.+)\|\s*$")


def _cell(text: str) -> str:
    return text.strip().strip("`*").strip().strip("\"'").strip()


def docs_mapping_rows() -> list[tuple[str, str, str]]:
    """(scheme, label, internal category) of every row of the docs' mapping table.

    The table is the one whose header starts `| scheme | label | internal category |`; further columns
    (meaning, notes) are ignored.
    """
    if not DOCS.is_file():
        pytest.fail(f"{DOCS.relative_to(REPO)} is missing: it must document the category mapping table")
    rows: list[tuple[str, str, str]] = []
    in_table = False
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match is None:
            in_table = False
            continue
        cells = [_cell(c) for c in match.group(1).split("|")]
        if [c.lower() for c in cells[:3]] == ["scheme", "label", "internal category"]:
            in_table = True
            continue
        if not in_table or set("".join(cells)) <= set("-: "):
            continue
        rows.append((cells[0].lower(), cells[1], cells[2].lower()))
    assert rows, f"{DOCS.relative_to(REPO)} has no table headed '| scheme | label | internal category |'"
    return rows


def test_every_row_of_the_docs_table_agrees_with_the_data(builtin: CategoryMap) -> None:
    disagreeing = []
    for scheme, label, internal in docs_mapping_rows():
        data = builtin.labels.get(scheme, {}).get(normalise_label(label))
        if data != internal:
            disagreeing.append(f"{scheme} {label!r}: docs say {internal!r}, categories.toml says {data!r}")
    assert disagreeing == []


def test_the_docs_table_lists_every_row_of_the_data() -> None:
    documented = {(scheme, normalise_label(label)) for scheme, label, _ in docs_mapping_rows()}
    missing = [
        f"{scheme} {label!r}"
        for scheme, rows in builtin_toml().items()
        for label in rows
        if (scheme, normalise_label(label)) not in documented
    ]
    assert missing == []
