"""Names that come from data (roles, categories, tiers) shown in the reader's language.

Kept in Python rather than as template macros: a gallery page renders 200 tiles, and importing a macro
template once per tile cost more than the page's query. Every name is a literal msgid (marked with N_) so
that the catalog extractor sees it.
"""

from __future__ import annotations

from collections.abc import Callable

from himaya.web.i18n import N_

ROLES = {
    "administrator": N_("administrator"),
    "supervisor": N_("supervisor"),
    "investigator": N_("investigator"),
    "reviewer": N_("reviewer"),
    "auditor": N_("auditor"),
}
CATEGORIES = {
    "illegal": N_("illegal"),
    "harmful-abusive": N_("harmful-abusive"),
    "age-difficult": N_("age-difficult"),
    "cgi": N_("CGI"),
    "comparison": N_("comparison"),
    "non-pertinent": N_("non-pertinent"),
    "uncategorized": N_("uncategorized"),
}
TIERS = {0: N_("new"), 1: N_("known (alert)"), 2: N_("known (ignore)")}
NOT_CATEGORISED = N_("not categorised")


class Labels:
    def __init__(self, gettext: Callable[[str], str]) -> None:
        self._ = gettext

    def role(self, name: str) -> str:
        return self._(ROLES[name]) if name in ROLES else name

    def category(self, name: str | None) -> str:
        if not name:
            return self._(NOT_CATEGORISED)
        return self._(CATEGORIES[name]) if name in CATEGORIES else name

    def tier(self, value: int) -> str:
        return self._(TIERS[value]) if value in TIERS else str(value)
