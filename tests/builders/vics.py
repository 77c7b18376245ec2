"""VICS JSON hash sets in every shape seen in the wild, written into a test's folder.

Every hash is a digest of a harmless generated string ("TEST benign 7"); PhotoDNA values are random
base64 of no picture at all. Nothing here comes from a real list.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MODEL = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels"
SCHEMES = ("Default", "US", "UK", "CUSTOM")


def md5(n: int) -> str:
    return hashlib.md5(f"TEST benign {n}".encode()).hexdigest()


def sha1(n: int) -> str:
    return hashlib.sha1(f"TEST benign {n}".encode()).hexdigest()


def sha256(n: int) -> str:
    return hashlib.sha256(f"TEST benign {n}".encode()).hexdigest()


def pdq(n: int) -> str:
    return hashlib.sha256(f"TEST pdq {n}".encode()).hexdigest()  # 64 hex digits, as a PDQ hash is


def photodna(n: int) -> str:
    return base64.b64encode(random.Random(n).randbytes(144)).decode()


ABSENT: Any = object()  # media(1, SHA1=ABSENT) leaves the field out altogether


def media(n: int, **fields: Any) -> dict[str, Any]:
    """A media item as VICS exporters write it: MediaID n, category 1, MD5 and SHA1 upper case."""
    item: dict[str, Any] = {"MediaID": n, "Category": 1, "MD5": md5(n).upper(), "SHA1": sha1(n).upper()}
    item.update(fields)
    return {key: value for key, value in item.items() if value is not ABSENT}


def context_1x(version: str) -> tuple[str, str]:
    return "odata.metadata", f"{MODEL}/{version}.xml#Media"


def context_2_0(scheme: str, entity: str) -> tuple[str, str]:
    return "@odata.context", f"{MODEL}/2.0.xml/{scheme}/$metadata#{entity}"


def write_document(path: Path, document: Any, *, bom: bool = False) -> Path:
    text = json.dumps(document, indent=2, ensure_ascii=False)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def media_list(
    path: Path,
    items: list[dict[str, Any]],
    *,
    version: str = "1.2",
    scheme: str = "US",
    metadata_last: bool = False,
    bom: bool = False,
) -> Path:
    """A #Media document: VICS 1.x ("1.2", "1.3") or 2.0 ("2.0", with `scheme`)."""
    key, context = context_1x(version) if version != "2.0" else context_2_0(scheme, "Media")
    document = {"value": items, key: context} if metadata_last else {key: context, "value": items}
    return write_document(path, document, bom=bom)


def cases_document(path: Path, cases: list[list[dict[str, Any]]], *, scheme: str = "US") -> Path:
    """A VICS 2.0 #Cases document with one case per list of media, case fields before and after Media."""
    key, context = context_2_0(scheme, "Cases")
    value = [
        {
            "CaseNumber": f"TEST-CASE-{index}",
            "ContactName": "TEST Examiner",
            "Media": items,
            "SourceApplicationName": "TEST exporter 1.0",
        }
        for index, items in enumerate(cases, start=1)
    ]
    return write_document(path, {key: context, "value": value})


def big_media_list(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    """A 1.3 #Media document written item by item, for lists too large to build in memory."""
    key, context = context_1x("1.3")
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f'{{"{key}": {json.dumps(context)}, "value": [\n')
        for index, item in enumerate(items):
            handle.write((",\n" if index else "") + json.dumps(item))
        handle.write("\n]}\n")
    return path
