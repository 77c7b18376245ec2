"""The tags of an HTML page: names and attributes, read the way the HTML standard's tokenizer reads them.

Python's html.parser is not used: on a start tag or comment left open it re-scans the rest of the input
from every following '<', which is quadratic (a 300 KB page of "<a b='" took minutes), and a hostile
page can be shaped that way on purpose. This tokenizer follows the HTML standard's tokenizer for what
capture needs (start and end tags with attributes; comments, declarations and raw-text elements
skipped), reads every character once and never raises: a construct left open at the end swallows the
rest of the input, as it does in a browser. It takes text already decoded (media.page_text).
"""

from __future__ import annotations

import html
import html.entities
import re
from collections.abc import Iterator
from dataclasses import dataclass

_TAG_NAME = re.compile(r"[^\t\n\f\r />]*")
_BETWEEN_ATTRIBUTES = re.compile(r"[\t\n\f\r /]*")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r />=]*")
_EQUALS = re.compile(r"[\t\n\f\r ]*=[\t\n\f\r ]*")
_UNQUOTED_VALUE = re.compile(r"[^\t\n\f\r >]*")
_COMMENT_END = re.compile(r"--!?>")
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")
# Elements whose content is text up to their own end tag (no markup inside).
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"})
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE) for name in _RAW_TEXT}


@dataclass(frozen=True)
class Tag:
    """A start tag with its attributes (names in lower case, values decoded; the first of repeated
    attributes wins), or an end tag (`end`, no attributes)."""

    name: str
    attributes: dict[str, str]
    end: bool = False


def tags(text: str) -> Iterator[Tag]:
    """The tags of `text` in order; comments, declarations and the content of raw-text elements are
    skipped, and a construct still open at the end of the input ends the tags (nothing is raised)."""
    position, length = 0, len(text)
    while True:
        start = text.find("<", position)
        if start < 0 or start + 1 >= length:
            return
        following = text[start + 1]
        if following.isascii() and following.isalpha():
            parsed = _start_tag(text, start + 1)
            if parsed is None:
                return
            tag, position = parsed
            yield tag
            if tag.name in _RAW_TEXT:
                closing = _RAW_TEXT_END[tag.name].search(text, position)
                if closing is None:
                    return
                position = closing.start()
            elif tag.name == "plaintext":
                return
        elif (
            following == "/"
            and text[start + 2 : start + 3].isascii()
            and text[start + 2 : start + 3].isalpha()
        ):
            close = text.find(">", start + 2)
            if close < 0:
                return
            name = _TAG_NAME.match(text, start + 2)
            yield Tag(name.group().lower() if name else "", {}, end=True)
            position = close + 1
        elif text.startswith("<!--", start):
            if text.startswith(">", start + 4):
                position = start + 5
            elif text.startswith("->", start + 4):
                position = start + 6
            else:
                comment_end = _COMMENT_END.search(text, start + 4)
                if comment_end is None:
                    return
                position = comment_end.end()
        elif following in "!/?":
            # Doctype, CDATA outside foreign content, "</>" or a bogus comment: text up to the next '>'.
            close = text.find(">", start + 2)
            if close < 0:
                return
            position = close + 1
        else:
            position = start + 1  # a '<' that starts nothing is text


def _start_tag(text: str, position: int) -> tuple[Tag, int] | None:
    """The start tag whose name begins at `position`, and where it ends; None when the input ends in it."""
    length = len(text)
    name_match = _TAG_NAME.match(text, position)
    assert name_match is not None  # the pattern matches the empty string
    name = name_match.group().lower()
    position = name_match.end()
    attributes: dict[str, str] = {}
    while True:
        between = _BETWEEN_ATTRIBUTES.match(text, position)
        assert between is not None
        position = between.end()
        if position >= length:
            return None
        if text[position] == ">":
            return Tag(name, attributes), position + 1
        attribute = _ATTRIBUTE_NAME.match(text, position)
        assert attribute is not None  # text[position] is none of whitespace, '/' and '>'
        position = attribute.end()
        value = ""
        equals = _EQUALS.match(text, position)
        if equals is not None:
            position = equals.end()
            if position >= length:
                return None
            quote = text[position]
            if quote in "\"'":
                close = text.find(quote, position + 1)
                if close < 0:
                    return None
                value = text[position + 1 : close]
                position = close + 1
            else:
                unquoted = _UNQUOTED_VALUE.match(text, position)
                assert unquoted is not None
                value = unquoted.group()
                position = unquoted.end()
        # The first of repeated attributes wins, as in browsers.
        attributes.setdefault(attribute.group().lower(), _attribute_value(value))


def _attribute_value(raw: str) -> str:
    """Character references decoded the way the HTML standard does inside attributes: a named reference
    without ';' stays as written when followed by '=' or an alphanumeric ("?a=1&copy=2" is a URL, not ©)."""
    raw = raw.replace("\0", "\ufffd")
    if "&" not in raw:
        return raw

    def decode(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference.startswith("#") or reference.endswith(";"):
            return html.unescape(match.group())
        if reference in html.entities.html5 and raw[match.end() : match.end() + 1] != "=":
            return html.unescape(match.group())  # a legacy name, whole (html5 lists those without ';')
        return match.group()

    return _CHARACTER_REFERENCE.sub(decode, raw)
