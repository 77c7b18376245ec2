"""`himaya export`: one record per file as JSON lines or CSV (fields as in DESIGN.md's contract)."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from himaya.errors import UsageError
from himaya.hashsets.categories import CategoryMap
from himaya.reports.records import contract_record, file_records, find_case
from himaya.store.db import Store

FORMATS = ("jsonl", "csv")
CSV_FIELDS = [
    "case", "evidence", "path", "size", "md5", "sha1", "sha256", "mime", "pdq", "pdq_quality",
    "deleted", "status", "error", "matches", "extension_mismatch", "locator",
    "file_category", "category_labels", "categories_disagree",
    "carved", "origin", "created", "modified", "accessed", "changed", "path_spec",
]  # fmt: skip

# A spreadsheet treats a cell starting with these as a formula; evidence file names are hostile input.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _matches_cell(matches: list[dict[str, Any]]) -> str:
    cells = []
    for m in matches:
        cell = f"{m['hashset']} v{m['hashset_version']} {m['method']} d={m['distance']}"
        cells.append(f"{cell} {m['category']}" if m["category"] else cell)
    return "; ".join(cells)


def export_case(
    store: Store,
    case_number: str,
    fmt: str,
    out: TextIO,
    only_matches: bool = False,
    categories: CategoryMap | None = None,
) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    count = 0
    with store.session() as session:
        # The case is looked up before anything is written: a header for a case that does not exist
        # would leave a plausible-looking empty export behind the error.
        case = find_case(session, case_number)
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for item, file, matches in file_records(session, case, only_matches, categories):
            record = contract_record(case, item, file, matches)
            if writer is not None:
                record["matches"] = _matches_cell(record["matches"])
                record["category_labels"] = "; ".join(record["category_labels"])
                if record["path_spec"] is not None:
                    record["path_spec"] = json.dumps(record["path_spec"], sort_keys=True)
                writer.writerow({k: _csv_cell(v) for k, v in record.items()})
            else:
                out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
            count += 1
    return count
