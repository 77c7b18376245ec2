"""The documentation's claims that name tests: each must name a test that exists.

docs/formats.md holds the format matrix, one row per format and quirk, each naming the test that proves
it; a row whose test was renamed or deleted would be a claim nobody checks any more.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def matrix_problems(text: str) -> tuple[int, list[str]]:
    """(rows checked, problems) for a markdown document whose tables have a first column "format"."""
    rows, problems = 0, []
    in_matrix = False  # only tables whose header starts with "format" are format matrices
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|"):
            in_matrix = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0].lower() == "format":
            in_matrix = True  # a matrix's header row
            continue
        if not in_matrix or len(cells) < 3 or set(cells[0]) <= {"-", ":", " "}:
            continue
        rows += 1
        references = _TEST_REFERENCE.findall(line)
        if not references:
            problems.append(f"line {number}: names no test")
        for path, name in references:
            source = ROOT / path
            text_of = source.read_text("utf-8") if source.is_file() else ""
            if not re.search(rf"^\s*(?:async\s+)?def {name}\(", text_of, re.MULTILINE):
                problems.append(f"line {number}: {path}::{name} does not exist")
    return rows, problems


def test_every_format_matrix_row_names_an_existing_test() -> None:
    rows, problems = matrix_problems((ROOT / "docs" / "formats.md").read_text(encoding="utf-8"))
    assert rows >= 40, "the format matrix lost its rows"
    assert not problems, "docs/formats.md:\n" + "\n".join(problems)


def test_every_evidence_matrix_row_names_an_existing_test() -> None:
    rows, problems = matrix_problems((ROOT / "docs" / "evidence.md").read_text(encoding="utf-8"))
    assert rows >= 40, "the evidence matrix lost its rows"
    assert not problems, "docs/evidence.md:\n" + "\n".join(problems)


def test_the_matrix_check_reports_missing_and_absent_tests() -> None:
    document = "\n".join(
        [
            "| format | quirk | test |",
            "|---|---|---|",
            "| VICS | TEST ok | `tests/test_docs.py::test_every_format_matrix_row_names_an_existing_test` |",
            "| VICS | TEST renamed | `tests/test_docs.py::test_TEST_no_such_test` |",
            "| ICSE | TEST unproven | nothing yet |",
            "",
            "| field | TEST other table | no test needed |",
            "|---|---|---|",
            "| hashes | MD5 | - |",
        ]
    )
    rows, problems = matrix_problems(document)
    assert rows == 3
    assert problems == [
        "line 4: tests/test_docs.py::test_TEST_no_such_test does not exist",
        "line 5: names no test",
    ]


def test_every_origin_label_is_documented() -> None:
    from himaya.sources.phone import origin_labels

    text = (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8")
    for label, description in origin_labels().items():
        assert f"| `{label}` | {description} |" in text, label
