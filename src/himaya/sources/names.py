"""File and member names are untrusted: they are shown and stored as text, made safe to print.

A name that is not UTF-8, or that holds control or text-direction characters, is shown with escapes
(`\\xff`, `\\u202e`) and the entry says so, since what the examiner sees is then not the name as stored.
Archive member names are never used to touch the file system (Himaya never extracts), so a name such as
`../../etc/passwd` cannot do harm here; it is still evidence of how the archive was built, so it is shown
as stored and flagged.
"""

from __future__ import annotations

import re

# Characters that reorder or hide text on screen ("photo\u202egpj.exe" shows as "photoexe.jpg").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DRIVE = re.compile(r"^[A-Za-z]:[/\\]")

UNNAMED = "(unnamed member)"
_AS_STORED = "content analysed, name shown as stored"


def _escape(name: str) -> tuple[str, bool, bool]:
    """(printable name, had undecodable bytes, had control characters)."""
    out: list[str] = []
    undecodable = control = False
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
            undecodable = True
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
            undecodable = True
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
            control = True
        elif ch == "\\":
            # Escapes are written with a backslash, so a literal one is doubled: otherwise a name with
            # byte 0xFF and a name spelt "\\xff" would show (and be located) the same.
            out.append("\\\\")
        elif ch in _BIDI_CONTROLS:
            out.append(f"\\u{code:04x}")
            control = True
        else:
            out.append(ch)
    return "".join(out), undecodable, control


def printable(text: str | bytes) -> str:
    """`text` (a link target, say) with undecodable bytes and control characters escaped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    return _escape(text)[0]


def shown_name(name: str | bytes, noun: str) -> tuple[str, list[str]]:
    """`name` made printable, and why it differs from the stored name ("file name is not valid UTF-8...").

    A `str` name may carry undecodable bytes as surrogates (`os.fsdecode`, `surrogateescape`).
    """
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    shown, undecodable, control = _escape(name)
    problems = []
    if undecodable:
        problems.append(f"{noun} is not valid UTF-8; shown with \\x escapes")
    if control:
        problems.append(f"{noun} contains control or text-direction characters; shown with escapes")
    return shown, problems


def _escapes_root(name: str) -> bool:
    depth = 0
    for part in re.split(r"[/\\]", name):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def safe_member_name(raw: str | bytes) -> tuple[str, list[str]]:
    """The name to show for a member, and what was wrong with the stored one (empty when nothing)."""
    shown, problems = shown_name(raw, "member name")
    if _escapes_root(shown):
        problems.append(f"member name escapes the archive ('{shown}'); {_AS_STORED}")
    if shown.startswith(("/", "\\")):
        problems.append(
            f"member name is absolute ('{shown}'); content analysed, shown without the leading '/'"
        )
        shown = shown.lstrip("/\\")
    elif _DRIVE.match(shown):
        problems.append(f"member name starts with a drive letter ('{shown}'); {_AS_STORED}")
    if not shown:
        shown = UNNAMED
        problems.append("member has an empty name")
    return shown, problems
