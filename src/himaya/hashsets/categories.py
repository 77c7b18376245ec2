"""One meaning for every partner's categories: each source label maps to Himaya's internal scale.

Every hash entry keeps the label its source gave it (VICS "1", NCMEC "A1", CAID "A", ICSE "baseline");
the mapping to the internal scale is read from data (`data/categories.toml`, overridable per unit by a
`categories.toml` in the Himaya home folder), so a court can see both the partner's word and ours. When
sets disagree about one file, every label is kept and the most severe decides; the disagreement is shown.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from himaya.errors import UsageError

UNCATEGORIZED = "uncategorized"
OVERRIDE_FILE = "categories.toml"
SCHEMES = ("vics", "caid", "ncmec", "icse", "custom")

# "CAID A", "Category A", "Cat. A", "VICS 1" all name the bare label.
_PREFIX = re.compile(r"^(?:CAID|VICS|NCMEC|ICSE|CATEGORY|CAT\.?)\s*[-:]?\s*", re.IGNORECASE)
_SPACES = re.compile(r"[\s_]+")


def normalise_label(label: str) -> str:
    text = _PREFIX.sub("", label.strip()).strip()
    return _SPACES.sub(" ", text).upper().replace(" ", "-") if text else ""


@dataclass(frozen=True)
class CategoryMap:
    order: tuple[str, ...]  # internal categories, most severe first
    labels: dict[str, dict[str, str]]  # scheme -> normalised label -> internal category

    @classmethod
    def default(cls) -> CategoryMap:
        text = resources.files("himaya.hashsets").joinpath("data/categories.toml").read_text("utf-8")
        return cls._from_toml(tomllib.loads(text), "the built-in categories.toml")

    @classmethod
    def load(cls, home: Path | None) -> CategoryMap:
        """The built-in map with the unit's own rows from `home/categories.toml` laid over it."""
        base = cls.default()
        override = home / OVERRIDE_FILE if home is not None else None
        if override is None or not override.is_file():
            return base
        try:
            data = tomllib.loads(override.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise UsageError(f"{override} cannot be read ({error}); fix or remove it") from None
        extra = cls._from_toml({"scale": {"order": list(base.order)}, **data}, str(override))
        merged = {scheme: dict(rows) for scheme, rows in base.labels.items()}
        for scheme, rows in extra.labels.items():
            merged.setdefault(scheme, {}).update(rows)
        return cls(base.order, merged)

    @classmethod
    def _from_toml(cls, data: dict[str, Any], source: str) -> CategoryMap:
        order = tuple(data.get("scale", {}).get("order", ()))
        if UNCATEGORIZED not in order:
            raise UsageError(
                f"{source}: [scale] order must list the internal categories, ending with 'uncategorized'"
            )
        labels: dict[str, dict[str, str]] = {}
        for scheme, rows in data.get("schemes", {}).items():
            for label, internal in rows.items():
                if internal not in order:
                    raise UsageError(
                        f"{source}: [schemes.{scheme}] maps {label!r} to {internal!r}, which is not one of "
                        f"{', '.join(order)}"
                    )
                labels.setdefault(scheme, {})[normalise_label(label)] = internal
        return cls(order, labels)

    def internal(self, label: str | None, scheme: str | None = None) -> str:
        """The internal category of a source label; unknown or missing labels are `uncategorized`."""
        if label is None:
            return UNCATEGORIZED
        key = normalise_label(label)
        if scheme is not None and key in self.labels.get(scheme, {}):
            return self.labels[scheme][key]
        # The built-in schemes use disjoint labels (digits, A-C, A1-B2, words), so a label names its
        # scheme; a set imported as "plain" still gets its partner's meaning.
        for rows in self.labels.values():
            if key in rows:
                return rows[key]
        return UNCATEGORIZED

    def severity(self, internal: str) -> int:
        """0 for the most severe category; unknown names rank with `uncategorized`."""
        return self.order.index(internal) if internal in self.order else self.order.index(UNCATEGORIZED)

    def most_severe(self, internals: Iterable[str]) -> str:
        return min(internals, key=self.severity, default=UNCATEGORIZED)

    def scheme_of(self, labels: Iterable[str | None], fmt: str) -> str | None:
        """The scheme a version's labels belong to: the one holding most of them (None: no labels)."""
        counts: dict[str, int] = {}
        for label in labels:
            if label is None:
                continue
            key = normalise_label(label)
            for scheme, rows in self.labels.items():
                if key in rows:
                    counts[scheme] = counts.get(scheme, 0) + 1
                    break
            else:
                counts["custom"] = counts.get("custom", 0) + 1
        if not counts:
            return "icse" if fmt == "icse" else None
        return max(sorted(counts), key=lambda scheme: counts[scheme])
