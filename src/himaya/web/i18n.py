"""English and Arabic for the review web app: catalogs, plural rules, text direction, language choice.

English is the source language: every string in code and templates is written in English and marked
(`_()`, `gettext`, `ngettext`, `N_`), so English needs no catalog at all. Arabic comes from
`locale/ar/LC_MESSAGES/messages.po`, which is compiled in memory the first time it is needed and kept for
the life of the process. No compiled `.mo` file is kept in the repository or the package: a binary
catalog beside its source is one more thing that can silently disagree with it, and compiling a few
hundred messages takes milliseconds.

Only translated, reviewed strings are ever shown: fuzzy entries (guesses `pybabel update` makes when a
string changes) are left out of the compiled catalog, so a reviewer sees the English original rather
than a translation of something else. tests/web/test_i18n.py fails while any entry is fuzzy or empty.

A user's language is stored with the user; `negotiate` serves the pages shown before anyone has logged in
(the login page), from the browser's Accept-Language header.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Final, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES: Final = ("en", "ar")
DEFAULT_LANGUAGE: Final = "en"
RTL: Final = frozenset({"ar"})
# Each language named in itself, for the language menu: a reader must find their own language even when
# the page is in one they cannot read, so these are never translated.
LANGUAGE_NAMES: Final = {"en": "English", "ar": "العربية"}

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"

# An Accept-Language header lists at most a handful of languages; a longer one is garbage or hostile, and
# reading only its start keeps the login page's cost flat.
_MAX_HEADER_LENGTH = 1024
_QUALITY = re.compile(r"q\s*=\s*([01](?:\.\d{0,3})?)\s*$", re.IGNORECASE)
_LANGUAGE_TAG = re.compile(r"(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)$")


class UnknownLanguageError(ValueError):
    """A language code Himaya has no catalog for (stored on a user, or asked for by a page)."""

    def __init__(self, language: str) -> None:
        super().__init__(
            f"language {language!r} is not one Himaya speaks; use one of {', '.join(LANGUAGES)} "
            "(see docs/i18n.md to add a language)"
        )
        self.language = language


def catalog_path(language: str) -> Path:
    """The .po file translators edit for `language` (English, the source language, has none)."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for `language`, built on first use and shared afterwards.

    The result is read-only and safe to share between requests and threads. For English it is a
    `NullTranslations`, which returns every message as written (and applies English plural rules).
    """
    if language not in LANGUAGES:
        raise UnknownLanguageError(language)
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    path = catalog_path(language)
    try:
        with path.open("rb") as source:
            catalog = read_po(source, locale=language, domain=DOMAIN)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: the {language!r} message catalog is missing; reinstall Himaya, or run "
            "scripts/extract-messages.sh in a source checkout"
        ) from None
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext_for(language: str) -> Callable[[str], str]:
    """`gettext` in `language`: the callable templates and code use as `_`."""
    return translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    """`ngettext` in `language`, with that language's plural rules (Arabic has six forms)."""
    return translations(language).ngettext


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it here.

    For strings defined once and translated where they are shown, such as role names a template prints
    with `_(user.role)`: scripts/extract-messages.sh finds them by this marker.
    """
    return message


def direction(language: str) -> Literal["rtl", "ltr"]:
    """The text direction of a page in `language`: the value of `<html dir=...>`."""
    return "rtl" if language in RTL else "ltr"


def negotiate(accept_language: str | None) -> str:
    """The language to show a visitor not yet known, from an HTTP Accept-Language header.

    Follows RFC 9110: languages in order of their `q` weight (ties keep the header's order), `q=0` means
    "not this one", a region (`ar-JO`) counts as its language. A header that is absent, empty or
    unreadable gives the default language; this never raises, since the header is whatever a client sends.
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:_MAX_HEADER_LENGTH].split(",")):
        tag, _, parameters = item.strip().partition(";")
        tag = tag.strip()
        if not _LANGUAGE_TAG.match(tag):
            continue
        quality = 1.0
        if parameters:
            weight = _QUALITY.match(parameters.strip())
            if weight is None or float(weight.group(1)) > 1:
                continue
            quality = float(weight.group(1))
        if quality > 0:
            ranked.append((-quality, position, tag.split("-", 1)[0].lower()))
    for _quality, _position, primary in sorted(ranked):
        if primary in LANGUAGES:
            return primary
        if primary == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE
