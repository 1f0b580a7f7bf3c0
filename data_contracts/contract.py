"""The exchange-format contract as Python objects.

Everything that knows a table, column, code or German label reads it from here, so the
YAML in this folder stays the single source of truth (see exchange_format_v1.yaml).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONTRACT_DIR = Path(__file__).resolve().parent
CONTRACT_FILE = CONTRACT_DIR / "exchange_format_v1.yaml"
REGIONS_FILE = CONTRACT_DIR / "regions.yaml"

TYPES = ("text", "code", "date", "bool", "decimal")


@dataclass(frozen=True)
class CodeList:
    name: str
    label: str
    values: dict[str, str]  # code -> German label

    def label_of(self, code: str | None) -> str:
        if code is None:
            return "—"
        return self.values.get(code, code)


@dataclass(frozen=True)
class Column:
    name: str
    alias: str
    type: str
    label: str
    required: bool = False
    codes: str | None = None
    required_if: str | None = None
    not_before: str | None = None
    greater_than: float | None = None
    at_most: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    free_text: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    alias: str
    label: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    references: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")

    @property
    def header_lookup(self) -> dict[str, str]:
        """Normalised English or German header -> column name."""
        lookup: dict[str, str] = {}
        for c in self.columns:
            lookup[normalise_header(c.name)] = c.name
            lookup[normalise_header(c.alias)] = c.name
        return lookup


@dataclass(frozen=True)
class ValuePattern:
    name: str
    label: str
    regex: str
    scope: str  # "all" or "free_text"


@dataclass(frozen=True)
class Contract:
    version: int
    tables: dict[str, Table]
    codes: dict[str, CodeList]
    patterns: dict[str, dict]
    parsing: dict
    identifier_headers: frozenset[str]
    identifier_prefixes: tuple[str, ...]
    identifier_values: tuple[ValuePattern, ...]
    manifest_keys: tuple[str, ...] = field(default=())

    def table(self, name_or_alias: str) -> Table:
        """Table by English name or German alias (case and blanks ignored)."""
        key = normalise_header(name_or_alias)
        for t in self.tables.values():
            if key in (normalise_header(t.name), normalise_header(t.alias)):
                return t
        raise KeyError(name_or_alias)

    def find_table(self, name_or_alias: str) -> Table | None:
        try:
            return self.table(name_or_alias)
        except KeyError:
            return None

    def code_label(self, code_list: str, code: str | None) -> str:
        return self.codes[code_list].label_of(code)

    def is_identifier_header(self, header: str) -> bool:
        """True when a header names a direct identifier (exchange format: never allowed)."""
        h = normalise_header(header)
        if not h:
            return False
        if h in self.identifier_headers:
            return True
        return any(h.startswith(p) for p in self.identifier_prefixes)


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def normalise_header(header: str) -> str:
    """Lower case, umlauts folded, accents and separators removed: ' Fall-ID ' -> 'fallid'."""
    h = str(header).strip().lower().translate(_UMLAUTS)
    h = unicodedata.normalize("NFKD", h).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", h)


@cache
def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    codes = {
        name: CodeList(name, spec["label"], {str(k): str(v) for k, v in spec["values"].items()})
        for name, spec in raw["codes"].items()
    }
    tables = {}
    for tname, tspec in raw["tables"].items():
        cols = []
        for cname, cspec in tspec["columns"].items():
            cspec = dict(cspec)
            col = Column(name=cname, **cspec)
            if col.type not in TYPES:
                raise ValueError(f"{tname}.{cname}: unknown type {col.type}")
            if col.type == "code" and col.codes not in codes:
                raise ValueError(f"{tname}.{cname}: unknown code list {col.codes}")
            cols.append(col)
        tables[tname] = Table(
            name=tname,
            alias=tspec["alias"],
            label=tspec["label"],
            columns=tuple(cols),
            key=tuple(tspec.get("key", ())),
            references=tspec.get("references"),
        )
    ident = raw["identifiers"]
    return Contract(
        version=int(raw["version"]),
        tables=tables,
        codes=codes,
        patterns=raw.get("patterns", {}),
        parsing=raw["parsing"],
        identifier_headers=frozenset(normalise_header(h) for h in ident["headers"]),
        identifier_prefixes=tuple(normalise_header(p) for p in ident["prefixes"]),
        identifier_values=tuple(
            ValuePattern(name, spec["label"], spec["regex"], spec.get("scope", "all"))
            for name, spec in ident["values"].items()
        ),
        manifest_keys=tuple(raw.get("manifest", {}).get("keys", ())),
    )


@cache
def region_names() -> dict[str, str]:
    raw = yaml.safe_load(REGIONS_FILE.read_text("utf-8"))["regions"]
    return {str(k): v for k, v in raw.items()}


def region_label(code: str | None) -> str:
    if not code:
        return "—"
    name = region_names().get(str(code)[:5])
    return f"{name} ({code})" if name else str(code)
