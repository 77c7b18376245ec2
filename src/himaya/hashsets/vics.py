"""VICS JSON hash sets (Project VIC data model 1.x and 2.0): a streaming reader and a #Cases writer.

Shapes seen in the wild, all read the same way:

- 1.2 / 1.3: ``{"odata.metadata": ".../1.2.xml#Media", "value": [media, ...]}``
- 2.0: ``{"@odata.context": ".../2.0.xml/US/$metadata#Media", "value": [media, ...]}`` (also Default, UK,
  CUSTOM), or ``...#Cases`` with ``"value": [{case fields, "Media": [media, ...]}, ...]``.

The metadata key may come after ``value`` (exporters write keys in any order) and a several-GB list cannot
be read twice, so the shape is told by structure, never by the context URL: an item of ``value`` that
holds a ``Media`` list is a case, any other item is a media item.

Lists of several GB are streamed with ijson's C backend (yajl); only one media item is held at a time.
Two of its quirks shape the code below: it crashes the interpreter on an integer of more than 4300 digits,
so such digit runs are refused before the parser sees them, and its error messages carry no byte offset,
so on error only a second pass finds the exact one.
"""

from __future__ import annotations

import codecs
import collections
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Final

import ijson  # type: ignore[import-untyped]

from himaya.errors import HashSetFormatError
from himaya.hashsets.entries import HEX_DIGITS, MAX_CATEGORY_LENGTH, HashType, ParsedEntry
from himaya.hashsets.progress import track

__all__ = ["SCHEMES", "VicsCase", "VicsMedia", "read_vics", "write_vics_cases"]

DATA_MODEL = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
SCHEMES: Final = ("Default", "US", "UK", "CUSTOM")

_CHUNK = 64 * 1024
# ijson turns an all-digit number into int(); past Python's int_max_str_digits (4300) that raises inside
# the C backend, which then crashes or leaks a SystemError. No VICS field holds such a number, so any
# run of this many digits is refused before the parser sees it.
_MAX_DIGIT_RUN = 4000
_DIGIT_MASK = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))
_DIGIT_RUN = b"1" * _MAX_DIGIT_RUN
# Media objects nest two levels (MediaFiles[], AlternativeHashes[]); deeper is damage, and building it
# recursively must not end in RecursionError.
_MAX_DEPTH = 32
_HEX = re.compile(r"[0-9a-f]+")

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_HASH_FIELDS: tuple[tuple[str, HashType], ...] = (("MD5", "md5"), ("SHA1", "sha1"))
_ALTERNATIVE_TYPES: dict[str, HashType] = {"pdq": "pdq", "sha256": "sha256"}
# Fields given back on export, by their VICS names. Anything else (thumbnails, exporter extras) is
# dropped on purpose: a hash set must never carry pictures.
_DETAIL_FIELDS = ("PhotoDNA", "MediaSize", "Comments", "Tags", "DateUpdated")
_DETAIL_FLAGS = ("IsDistributed", "IsPrecategorized")

_REEXPORT = "check the value is complete, or re-export the list from the source tool"
_BROKEN_HINT = (
    "the file is truncated or damaged: compare its size or checksum with the source and copy it again, "
    "or re-export it from the source tool"
)


# --------------------------------------------------------------------------------------------- reader


def read_vics(path: Path) -> Iterator[ParsedEntry]:
    """Every hash of every media item of a VICS JSON file, in file order, duplicates kept.

    Each hash of a media item is one entry; they share the item's category, series, flags, MediaID and
    details, and `line` is the item's 1-based ordinal in the file. Raises `HashSetFormatError` on the
    first problem, naming the media item (ordinal and MediaID) or, for broken JSON, the byte offset.
    """
    source = str(path)
    with path.open("rb") as handle:
        track(handle)
        start = _skip_bom(handle, source)
        reader = _Reader(handle, start, source)
        walk = _Walk(source, ijson.basic_parse(reader, buf_size=_CHUNK, use_float=False))
        count = 0
        # ijson's errors are caught here, once, rather than around each of millions of next() calls.
        try:
            for count, media in enumerate(walk.media_objects(), start=1):
                yield from _MediaItem(source, count, media).entries()
        except ijson.JSONError as error:
            offset = _error_offset(path, start, reader.chunk_start, reader.position)
            after = f" (after media item {walk.media_seen})" if walk.media_seen else ""
            problem = f"broken JSON at byte {offset}{after}: {_reason(error)}"
            raise HashSetFormatError(source, None, problem, _BROKEN_HINT) from None
    if count == 0:
        raise HashSetFormatError(
            source, None, "no media", "the 'value' list (or every case's 'Media' list) is empty"
        )


def _skip_bom(handle: BinaryIO, source: str) -> int:
    head = handle.read(3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise HashSetFormatError(source, None, "UTF-16 text, not UTF-8 JSON", "re-export the list as UTF-8")
    start = len(codecs.BOM_UTF8) if head == codecs.BOM_UTF8 else 0
    handle.seek(start)
    return start


class _Reader:
    """What ijson reads from: a file that counts its bytes and refuses over-long digit runs.

    It has `read` and no `readinto` on purpose: ijson's C backend passes an error raised from `read`
    through cleanly, but mangles it into a SystemError when it uses `readinto`.
    """

    def __init__(self, handle: BinaryIO, position: int, source: str, one_byte_from: int | None = None):
        self.handle = handle
        self.source = source
        self.position = position  # file offset of the next byte to hand out
        self.chunk_start = position  # file offset of the first byte of the last chunk handed out
        self.one_byte_from = one_byte_from  # from this offset on, hand out single bytes (locating errors)
        self.trailing_digits = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self.one_byte_from is not None:
            size = max(1, min(size, self.one_byte_from - self.position))
        data = self.handle.read(size)
        self.chunk_start = self.position
        self._check_digits(data)
        self.position += len(data)
        return data

    def _check_digits(self, data: bytes) -> None:
        # Digits become b"1", everything else b"0": a long run is then one bytes.find, linear and in C
        # (a regex for it is either slow or quadratic on runs just short of the limit).
        mask = data.translate(_DIGIT_MASK)
        lead = len(mask) - len(mask.lstrip(b"1"))
        run_start: int | None = None
        if self.trailing_digits + lead >= _MAX_DIGIT_RUN:
            run_start = self.chunk_start - self.trailing_digits
        elif (found := mask.find(_DIGIT_RUN, lead)) >= 0:
            run_start = self.chunk_start + found
        if run_start is not None:
            raise HashSetFormatError(
                self.source,
                None,
                f"a number of {_MAX_DIGIT_RUN} digits or more at byte {run_start}",
                "no VICS field holds such a number; " + _BROKEN_HINT,
            )
        if lead == len(mask):
            self.trailing_digits += lead
        else:
            self.trailing_digits = len(mask) - len(mask.rstrip(b"1"))


def _error_offset(path: Path, start: int, chunk_start: int, chunk_end: int) -> int:
    """Where the parser failed, exactly: yajl's messages carry no offset, so parse again, feeding the
    failing chunk one byte at a time.

    Runs only on error and consumes the events inside C (a zero-length deque), so it costs a fraction of
    the first pass; no long digit run can precede the failure, or the first pass would have stopped there.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            reader = _Reader(handle, start, str(path), one_byte_from=chunk_start)
            try:
                collections.deque(ijson.basic_parse(reader, buf_size=_CHUNK, use_float=False), maxlen=0)
            except ijson.JSONError:
                return reader.chunk_start
    except (OSError, HashSetFormatError):
        pass
    return chunk_end  # the file changed under us: the end of the failing chunk is the best we know


def _reason(error: Exception) -> str:
    """The first line of yajl's message ("parse error: premature EOF"); the rest is a picture of the
    failing chunk, which may be bytes."""
    reason = error.args[0] if error.args else ""
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    text = str(reason).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def _json_type(event: str) -> str:
    return {"start_map": "an object", "start_array": "a list", "null": "null"}.get(event, f"a {event}")


_NOT_VICS_HINT = (
    "a VICS JSON file is an object whose 'value' lists media items (1.x, 2.0 #Media) or cases holding "
    "a 'Media' list (2.0 #Cases); check the file is a VICS export"
)
_OPENERS = frozenset({"start_map", "start_array"})
_CLOSERS = frozenset({"end_map", "end_array"})


class _Walk:
    """Walks ijson's events and hands out media objects one at a time, whichever shape holds them."""

    def __init__(self, source: str, events: Iterator[tuple[str, Any]]) -> None:
        self.source = source
        self.events = events
        self.media_seen = 0

    def error(self, problem: str) -> HashSetFormatError:
        return HashSetFormatError(self.source, None, problem, _NOT_VICS_HINT)

    def media_objects(self) -> Iterator[dict[str, Any]]:
        events = self.events
        event, _ = next(events)
        if event != "start_map":
            raise self.error(f"the file holds {_json_type(event)}, not a VICS object")
        found_value = False
        for event, key in events:
            if event == "end_map":
                break
            event, _ = next(events)
            if key != "value":
                self._skip(event)  # odata.metadata / @odata.context and friends: the shape tells all
                continue
            found_value = True
            if event != "start_array":
                raise self.error(f"'value' is {_json_type(event)}, not a list of media or cases")
            yield from self._value_items()
        if not found_value:
            raise self.error("no 'value' list")
        for _ in events:  # nothing may follow; ijson raises on trailing garbage
            pass

    def _value_items(self) -> Iterator[dict[str, Any]]:
        events = self.events
        for index, (event, _) in enumerate(events, start=1):
            if event == "end_array":
                return
            if event != "start_map":
                raise self.error(
                    f"entry {index} of 'value' is {_json_type(event)}, not a media item or a case"
                )
            # Built key by key rather than whole: a case's "Media" list may hold millions of items.
            item: dict[str, Any] = {}
            is_case = False
            for event, key in events:
                if event == "end_map":
                    break
                event, value = next(events)
                if key == "Media":
                    is_case = True
                    yield from self._case_media(event, index)
                else:
                    item[key] = self._build(event, 1) if event in _OPENERS else value
            if not is_case:
                self.media_seen += 1
                yield item

    def _case_media(self, event: str, case_index: int) -> Iterator[dict[str, Any]]:
        if event == "null":
            return  # a case without media
        if event != "start_array":
            raise self.error(f"case {case_index}: 'Media' is {_json_type(event)}, not a list")
        for event, _ in self.events:
            if event == "end_array":
                return
            if event != "start_map":
                raise self.error(
                    f"media item {self.media_seen + 1} (in case {case_index}) is {_json_type(event)}, "
                    "not an object"
                )
            media: dict[str, Any] = self._build(event, 1)
            self.media_seen += 1
            yield media

    def _build(self, opener: str, depth: int) -> Any:
        """The object or list that `opener` starts. Scalars are stored without a call: a media item is
        mostly scalars, and this loop runs for every one of millions."""
        if depth > _MAX_DEPTH:
            raise self.error(f"values nested more than {_MAX_DEPTH} levels deep")
        events = self.events
        if opener == "start_map":
            built: dict[str, Any] = {}
            for event, key in events:
                if event == "end_map":
                    return built
                event, value = next(events)
                built[key] = self._build(event, depth + 1) if event in _OPENERS else value
        items: list[Any] = []
        for event, value in events:
            if event == "end_array":
                return items
            items.append(self._build(event, depth + 1) if event in _OPENERS else value)
        return items  # not reached: ijson raises on a document that ends inside a list

    def _skip(self, event: str) -> None:
        """Consume one value without building it (a top-level value other than 'value' may be large)."""
        depth = 1 if event in _OPENERS else 0
        while depth:
            event, _ = next(self.events)
            if event in _OPENERS:
                depth += 1
            elif event in _CLOSERS:
                depth -= 1


class _MediaItem:
    """One media object turned into entries; every error names its ordinal and MediaID."""

    def __init__(self, source: str, ordinal: int, media: dict[str, Any]) -> None:
        self.source = source
        self.ordinal = ordinal
        self.media = media
        self.media_id: str | None = None
        raw_id = media.get("MediaID")
        if isinstance(raw_id, (str, int, Decimal)) and not isinstance(raw_id, bool):
            self.media_id = str(raw_id).strip() or None

    def error(self, problem: str, hint: str) -> HashSetFormatError:
        where = f"media item {self.ordinal}"
        if self.media_id is not None:
            where += f" (MediaID {self.media_id[:60]})"
        return HashSetFormatError(self.source, None, f"{where}: {problem}", hint)

    def entries(self) -> list[ParsedEntry]:
        media = self.media
        if not isinstance(media.get("MediaID"), (str, int, Decimal, type(None))):
            raise self.error(f"MediaID is {_show(media['MediaID'])}, not an identifier", _REEXPORT)
        category = self._category()
        series = self._label("Series")
        victim = self._flag("VictimIdentified")
        offender = self._flag("OffenderIdentified")
        details: dict[str, Any] = {}
        hashes: list[tuple[HashType, str]] = []
        for name, hash_type in _HASH_FIELDS:
            value = self._hash(media, name, hash_type, name)
            if value is not None:
                hashes.append((hash_type, value))
        self._alternative_hashes(hashes, details)
        self._media_files(hashes, details)
        for name in _DETAIL_FIELDS:
            if media.get(name) not in (None, ""):
                details[name] = _plain(media[name])
        for name in _DETAIL_FLAGS:
            flag = self._flag(name)
            if flag is not None:
                details[name] = flag
        if not hashes:
            only = " (only PhotoDNA, which Himaya does not match on)" if "PhotoDNA" in details else ""
            raise self.error(
                f"no MD5, SHA1, SHA256 or PDQ hash{only}",
                "remove the item or fill in a hash; VICS keeps SHA256 and PDQ in 'AlternativeHashes'",
            )
        detail_text = json.dumps(details, sort_keys=True, ensure_ascii=False) if details else None
        return [
            ParsedEntry(
                hash_type,
                value,
                category,
                series,
                self.ordinal,
                victim_identified=victim,
                offender_identified=offender,
                media_id=self.media_id,
                details=detail_text,
            )
            for hash_type, value in hashes
        ]

    def _category(self) -> str | None:
        label = self._label("Category")
        if label is not None and len(label) > MAX_CATEGORY_LENGTH:
            raise self.error(
                f"Category {label[:60]!r} is longer than {MAX_CATEGORY_LENGTH} characters",
                "keep the source's own short label (e.g. '1', 'A1'); put longer text in 'Series'",
            )
        return label

    def _label(self, name: str) -> str | None:
        """A short text field as written: 1 -> "1", "A " -> "A", blank -> None. Interned: a list of
        millions of items repeats a handful of categories and series."""
        raw = self.media.get(name)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
            raise self.error(f"{name} is {_show(raw)}, not a label", "write it as a number or text")
        text = raw.strip() if isinstance(raw, str) else _number_text(raw)
        return sys.intern(text) if text else None

    def _flag(self, name: str) -> bool | None:
        raw = self.media.get(name)
        if raw is None or isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            word = raw.strip().lower()
            if not word:
                return None
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        elif isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise self.error(
            f"{name} is {_show(raw)}, not a boolean",
            "write true or false (JSON booleans, or the strings 'true', 'false', '1', '0'; blank if unknown)",
        )

    def _hash(self, holder: dict[str, Any], key: str, hash_type: HashType, label: str) -> str | None:
        raw = holder.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise self.error(f"{label} is {_show(raw)}, not a hexadecimal string", _REEXPORT)
        value = raw.strip().lower()
        if not value:
            return None
        digits = HEX_DIGITS[hash_type]
        if len(value) != digits or not _HEX.fullmatch(value):
            raise self.error(f"{label} {raw[:80]!r} is not {digits} hex digits", _REEXPORT)
        return value

    def _alternative_hashes(self, hashes: list[tuple[HashType, str]], details: dict[str, Any]) -> None:
        raw = self.media.get("AlternativeHashes")
        if raw is None:
            return
        if not isinstance(raw, list):
            raise self.error(f"AlternativeHashes is {_show(raw)}, not a list", _REEXPORT)
        others: list[Any] = []
        for index, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                raise self.error(
                    f"AlternativeHashes entry {index} is {_show(item)}, not an object", _REEXPORT
                )
            name = item.get("HashName")
            name = name.strip() if isinstance(name, str) else ""
            hash_type = _ALTERNATIVE_TYPES.get(re.sub(r"[\s_-]", "", name).lower())
            if hash_type is None:
                others.append(_plain(item))
                continue
            value = self._hash(item, "HashValue", hash_type, f"AlternativeHashes {name}")
            if value is not None and (hash_type, value) not in hashes:
                hashes.append((hash_type, value))
        if others:
            details["AlternativeHashes"] = others

    def _media_files(self, hashes: list[tuple[HashType, str]], details: dict[str, Any]) -> None:
        raw = self.media.get("MediaFiles")
        if raw is None:
            return
        if not isinstance(raw, list):
            raise self.error(f"MediaFiles is {_show(raw)}, not a list", _REEXPORT)
        files: list[dict[str, Any]] = []
        for index, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                raise self.error(f"MediaFiles entry {index} is {_show(item)}, not an object", _REEXPORT)
            kept = {
                key: _plain(item[key]) for key in ("FileName", "FilePath") if item.get(key) not in (None, "")
            }
            if kept:
                files.append(kept)
            for name, hash_type in _HASH_FIELDS:
                value = self._hash(item, name, hash_type, f"MediaFiles entry {index} {name}")
                if value is not None and (hash_type, value) not in hashes:
                    hashes.append((hash_type, value))
        if files:
            details["MediaFiles"] = files


def _number_text(value: int | Decimal) -> str:
    """A number as its label: 1 -> "1", 1.0 -> "1". Huge exponents stay in exponent form: turning
    1E+999999999 into an int would take minutes and gigabytes."""
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < 40
        and value == value.to_integral()
    ):
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    """A parsed value that json.dumps can write (ijson gives Decimal for non-integer numbers)."""
    if isinstance(value, Decimal):
        text = _number_text(value)
        return int(text) if text.lstrip("-").isdigit() else text
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, str):
        return repr(value[:80])
    return json.dumps(_plain(value))


# --------------------------------------------------------------------------------------------- writer


@dataclass(frozen=True, slots=True)
class VicsMedia:
    """One media item to export. Hashes are hex (any case); `file_paths` are where it was found."""

    media_id: str
    category: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    series: str | None
    victim_identified: bool | None
    offender_identified: bool | None
    is_distributed: bool | None
    file_paths: tuple[str, ...]
    photodna: str | None = None
    comments: str | None = None


@dataclass(frozen=True, slots=True)
class VicsCase:
    case_number: str
    contact_name: str | None
    contact_email: str | None
    agency: str | None
    source_application: str  # "Himaya x.y"
    media: Iterable[VicsMedia]  # consumed once, lazily: it may be a generator over a million rows


def write_vics_cases(out: BinaryIO, case: VicsCase, scheme: str = "US") -> int:
    """Write `case` as a VICS 2.0 #Cases document to `out`; returns the number of media items written.

    Written one media item at a time, so memory stays flat however many there are. Never writes pictures
    or thumbnails. Raises ValueError (after a partial write: write to a temporary file) for a media item
    that `read_vics` would refuse, so every export can be imported again.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"VICS scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    context = f"{DATA_MODEL}/{scheme}/$metadata#Cases"
    case_fields = {
        "CaseNumber": case.case_number,
        "ContactName": case.contact_name,
        "ContactEmail": case.contact_email,
        "Agency": case.agency,
        "SourceApplicationName": case.source_application,
    }
    # The context goes first, so that readers which decide the shape from it (not ours) see it at once;
    # "Media" goes last in the case, so that the case fields never wait behind a million media items.
    opening = f'{{"@odata.context":{_dumps(context)},"value":[{_dumps(case_fields)[:-1]},"Media":[\n'
    out.write(opening.encode("utf-8"))
    written = 0
    for media in case.media:
        if written:
            out.write(b",\n")
        out.write(_dumps(_media_object(media)).encode("utf-8"))
        written += 1
    out.write(b"\n]}]}\n")
    return written


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _media_object(media: VicsMedia) -> dict[str, Any]:
    if media.category is not None and len(media.category) > MAX_CATEGORY_LENGTH:
        raise ValueError(f"media {media.media_id}: category longer than {MAX_CATEGORY_LENGTH} characters")
    md5 = _checked_hex(media, "md5", media.md5)
    sha1 = _checked_hex(media, "sha1", media.sha1)
    sha256 = _checked_hex(media, "sha256", media.sha256)
    pdq = _checked_hex(media, "pdq", media.pdq)
    if not (md5 or sha1 or sha256 or pdq):
        raise ValueError(f"media {media.media_id}: no hash to export")
    item: dict[str, Any] = {
        "MediaID": _number_or_text(media.media_id),
        "Category": None if media.category is None else _number_or_text(media.category),
        # Upper case, as VICS exporters write it; readers compare without case.
        "MD5": md5.upper() if md5 else None,
        "SHA1": sha1.upper() if sha1 else None,
        "Series": media.series,
        "VictimIdentified": media.victim_identified,
        "OffenderIdentified": media.offender_identified,
        "IsDistributed": media.is_distributed,
    }
    alternatives = [
        {"HashName": name, "HashValue": value} for name, value in (("SHA256", sha256), ("PDQ", pdq)) if value
    ]
    if alternatives:
        item["AlternativeHashes"] = alternatives
    if media.photodna is not None:
        item["PhotoDNA"] = media.photodna
    if media.comments is not None:
        item["Comments"] = media.comments
    if media.file_paths:
        item["MediaFiles"] = [{"FileName": _base_name(path), "FilePath": path} for path in media.file_paths]
    return item


def _checked_hex(media: VicsMedia, hash_type: HashType, value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if len(lowered) != HEX_DIGITS[hash_type] or not _HEX.fullmatch(lowered):
        raise ValueError(
            f"media {media.media_id}: {hash_type} {value!r} is not {HEX_DIGITS[hash_type]} hex digits"
        )
    return lowered


def _number_or_text(label: str) -> int | str:
    """Digits without a leading zero become a JSON number (as VICS writes them); anything else stays
    text, so that "007" or "A1" read back exactly as they were. Past 18 digits a number would overflow
    the 64-bit integers other VICS tools read it into, so it stays text too."""
    if label.isascii() and label.isdigit() and len(label) <= 18 and str(int(label)) == label:
        return int(label)
    return label


def _base_name(path: str) -> str:
    # Evidence paths come from Windows and Unix sources alike.
    return re.split(r"[\\/]", path)[-1]
