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
# libyaml's parser where PyYAML was built with it: the same documents, 6-9x faster (the
# contract and the marts' dictionary, 80 ms of every run's and helper's start, issue 15)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path):
    """One of the YAML files that come with the code (the contract, the marts, the regions)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)


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

    @property
    def is_key(self) -> bool:
        """A pseudonymous key (exchange-format.md "Keys")."""
        return self.pattern == "key"


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
    scope: str  # "all" (keys too) or "free_text" (everything but keys)


@dataclass(frozen=True)
class HeaderKind:
    """How headers naming one kind of direct identifier are recognised (see the YAML)."""

    label: str
    exact: frozenset[str] = frozenset()
    contains: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    suffix_exceptions: frozenset[str] = frozenset()

    def matches(self, normalised: str, words: list[str]) -> bool:
        if normalised in self.exact or any(w in self.words for w in words):
            return True
        if any(c in normalised for c in self.contains):
            return True
        if normalised in self.suffix_exceptions:
            return False
        return any(normalised.endswith(x) for x in self.suffixes) or any(
            normalised.startswith(x) for x in self.prefixes
        )


@dataclass(frozen=True)
class Contract:
    version: int
    tables: dict[str, Table]
    codes: dict[str, CodeList]
    patterns: dict[str, dict]
    parsing: dict
    identifier_headers: tuple[HeaderKind, ...]
    identifier_values: tuple[ValuePattern, ...]
    manifest_keys: tuple[str, ...] = field(default=())
    keys: tuple[str, ...] = field(default=())

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

    def identifier_header_kind(self, header: str) -> str | None:
        """The kind of direct identifier a header names ("Name", "Telefonnummer", …), or None.

        Compounds and separators count: `Klientenname`, `NAME_KLIENT`, `Handynummer`,
        `Geb_Datum`, `Steuer-ID-Nr.`, `Postleitzahl`."""
        h = normalise_header(header)
        if not h:
            return None
        words = header_words(header)
        for kind in self.identifier_headers:
            if kind.matches(h, words):
                return kind.label
        return None

    def is_identifier_header(self, header: str) -> bool:
        """True when a header names a direct identifier (exchange format: never allowed)."""
        return self.identifier_header_kind(header) is not None

    def identifier_labels(
        self, text: str | None, key: bool = False, name: bool = False
    ) -> list[str]:
        """Labels of the identifier value patterns found in `text`: RE2, the engine and the
        expressions the gate runs in DuckDB, on the text lower-cased as DuckDB's lower() does
        (`_Re2Matcher`: linear time, where Python's re backtracks for hours on a 66-character
        header). `key`: only the patterns of scope `all` (a key column). `name`: a file or
        sheet name, also tried with underscores read as blanks."""
        if not text:
            return []
        hits = _matcher(self.identifier_values).match(str(text), name)
        return _labels_of(self.identifier_values, hits, key)

    def identifier_labels_many(
        self, texts, key: bool = False, name: bool = False
    ) -> list[list[str]]:
        """`identifier_labels` of every text (the gate labels all its hits at once)."""
        return [self.identifier_labels(t, key=key, name=name) for t in texts]

    def find_identifier(
        self, text: str | None, key: bool = False, name: bool = False
    ) -> str | None:
        """Label of the first identifier value pattern found in `text`, or None."""
        labels = self.identifier_labels(text, key, name)
        return labels[0] if labels else None

    def identifier_regex(self, key: bool = False) -> str:
        """One RE2/Python expression matching wherever any pattern (of scope `all` for a key
        column) matches: the gate's coarse filter in SQL."""
        return "|".join(
            f"({p.regex})" for p in self.identifier_values if not key or p.scope == "all"
        )


def _labels_of(patterns: tuple[ValuePattern, ...], hits: tuple[bool, ...], key: bool) -> list[str]:
    """The labels of the patterns that matched (`hits`, one per pattern), in contract order."""
    labels: list[str] = []
    for pattern, hit in zip(patterns, hits, strict=True):
        if hit and (not key or pattern.scope == "all") and pattern.label not in labels:
            labels.append(pattern.label)
    if "IBAN" in labels and "Telefonnummer" in labels:  # its digit groups look like one
        labels.remove("Telefonnummer")
    return labels


class _Re2Matcher:
    """The value patterns matched in RE2, the engine and the expressions the gate runs in
    DuckDB (`regexp_matches`), on the text lower-cased as DuckDB's lower() does.

    RE2 runs in time linear in the text, where Python's re backtracks exponentially on some
    values (the phone pattern on "(0221)" and 40 digits: hours, review of 2026-12-06) and
    `limits.check_time` cannot interrupt it. google-re2 (Google's own binding of the library)
    compiles each pattern once and answers in microseconds; a DuckDB query per value cost
    about 14 ms, for compiling the patterns anew each time."""

    def __init__(self, patterns: tuple[ValuePattern, ...]):
        import re2  # here: importing the contract stays cheap (dashboards, helpers)

        self.patterns = patterns
        self.compiled = tuple(re2.compile(p.regex) for p in patterns)

    def match(self, text: str, name: bool = False) -> tuple[bool, ...]:
        """Which patterns match `text` (one bool per pattern); a `name` is also tried with
        underscores read as blanks."""
        # RE2 takes UTF-8 only: a lone surrogate (a file name undecodable as UTF-8) becomes
        # U+FFFD, which no pattern's character class holds, as a surrogate
        low = match_lower(text.encode("utf-8", "replace").decode("utf-8"))
        variants = (low, low.replace("_", " ")) if name and "_" in low else (low,)
        return tuple(any(c.search(v) for v in variants) for c in self.compiled)


@cache
def _matcher(patterns: tuple[ValuePattern, ...]) -> _Re2Matcher:
    return _Re2Matcher(patterns)


# Python's str.lower() applies full case mapping where DuckDB's lower() maps one character to
# one: İ (U+0130) becomes "i̇" (i + combining dot) instead of "i", and Σ at the end of a word
# "ς" instead of "σ". These are the only differences (tests/unit/test_identifier_gate_variants).
_DUCKDB_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


# Look-alikes identifiers can be written in, folded before matching: the full-width forms of
# ASCII (０２２１ １２３４５６, ＭＡＸ＠ＧＭＸ．ＤＥ: East Asian input, pasted from web pages and
# PDFs), the mathematical digits (𝟎𝟐𝟐𝟏…) and the Latin ligatures (ﬁ ﬂ …). NFKC would fold
# them, but DuckDB has no NFKC and the gate matches in SQL: one table for both sides,
# translate() in DuckDB, str.translate in Python. A ligature folds to its first letter (one
# character for one): the text keeps its shape for the patterns ("ﬁrma.de" -> "frma.de").
FOLD_RANGES = (("\uff01", "\uff5e"), ("\U0001d7ce", "\U0001d7ff"), ("\ufb00", "\ufb06"))
FOLD_FROM = "".join(chr(c) for a, b in FOLD_RANGES for c in range(ord(a), ord(b) + 1))
FOLD_TO = (
    "".join(chr(c) for c in range(0x21, 0x7F)).replace(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    )
    + "0123456789" * 5
    + "fffffss"
)
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def match_lower(text: str) -> str:
    """`text` as the gate and the staging check match the patterns against: lower-cased
    exactly as DuckDB's lower() does, look-alikes folded (`rules.match_text` in SQL). Python
    must name every hit RE2 finds."""
    return text.translate(_DUCKDB_LOWER).lower().translate(_FOLD)


# What the placeholders of the value patterns stand for, inside a character class (the same
# text for RE2 and Python's re: \xhh escapes, other characters literally; see the YAML).
#   {sp}: every blank a value may carry between the parts of an identifier: space, tab, the
#     other C0 control characters (NUL …) except line breaks, no-break spaces, the Unicode
#     spaces, zero-width spaces and the soft hyphen. Not the C1 controls (U+0080–U+009F: no
#     export writes them; with them the gate's one expression for all patterns outgrew RE2's
#     automaton memory and searched 140 times slower: 300,000 notes 14 s against 0.1 s)
#   {dash}: hyphen-minus and the Unicode dashes (‐ ‑ ‒ – — ―), minus sign, small and fullwidth
#     hyphen-minus
#   {letter}: letters beyond a-z in e-mail addresses: Latin-1 and Latin Extended (umlauts,
#     accents, ı, ł …), combining accents (decomposed é), Greek, Cyrillic, Vietnamese
PATTERN_CLASSES = {
    "{sp}": "\\x00-\\x09\\x0b\\x0c\\x0e-\\x1f \\xa0\\xad"
    + "\u1680\u180e\u2000-\u200b\u202f\u205f\u2060\u3000\ufeff",
    "{dash}": "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d",
    "{letter}": "\\xdf-\\xf6\\xf8-\\xff\u0100-\u024f\u0300-\u036f\u0370-\u03ff"
    + "\u0400-\u04ff\u1e00-\u1eff",
}


def expand_classes(regex: str) -> str:
    """A value pattern of the YAML with its placeholders ({sp}, {dash}, {letter}) filled in."""
    for name, chars in PATTERN_CLASSES.items():
        regex = regex.replace(name, chars)
    return regex


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def normalise_header(header: str) -> str:
    """Lower case, umlauts folded, accents and separators removed: ' Fall-ID ' -> 'fallid'."""
    h = str(header).strip().lower().translate(_UMLAUTS)
    h = unicodedata.normalize("NFKD", h).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", h)


def header_words(header: str) -> list[str]:
    """The words of a header, normalised: split at separators and where a lower-case letter
    is followed by an upper-case one ('NAME_KLIENT' -> name, klient; 'KlientName' -> klient,
    name; 'Geb.-Datum' -> geb, datum)."""
    text = re.sub(r"(?<=[a-zäöüß])(?=[A-ZÄÖÜ])", " ", str(header))
    return [w for w in (normalise_header(t) for t in re.split(r"[^0-9A-Za-zÄÖÜäöüß]+", text)) if w]


def _codes(codes) -> str:
    """Two-letter codes as a trie of character classes: (a[de]|b[eg]) — the same language as
    (ad|ae|be|bg), but cheap for backtracking engines (Python's re)."""
    first: dict[str, list[str]] = {}
    for cc in sorted(codes):
        first.setdefault(cc[0], []).append(cc[1])
    return "(" + "|".join(f"{a}[{''.join(b)}]" for a, b in first.items()) + ")"


def _iban_regex(spec: dict) -> str:
    """IBAN: country code and check digits, then groups of four (blanks or dashes), or compact
    with the country's exact length (digits only for the countries in `digits_only`), or a
    digits-only account with a blank or dash anywhere in it. Placeholders as in the YAML."""
    countries = {item[:2].lower(): int(item[2:]) for item in spec["countries"].split()}
    digits_only = set(spec.get("digits_only", ()))
    by_length: dict[int, list[str]] = {}
    for cc, n in countries.items():
        if cc not in digits_only:
            by_length.setdefault(n - 4, []).append(cc)
    compact = [f"{_codes(ccs)}[0-9]{{2}}[0-9a-z]{{{n}}}" for n, ccs in sorted(by_length.items())]
    # all digits (the only compact form for `digits_only`), also with a blank or dash anywhere
    # in the account: two blocks "DE89 3704…", bank code and account "DE89 37040044 0532013000"
    by_length = {}
    for cc, n in countries.items():
        by_length.setdefault(n - 4, []).append(cc)
    compact += [
        f"{_codes(ccs)}[0-9]{{2}}([{{sp}}{{dash}}]?[0-9]){{{n}}}"
        for n, ccs in sorted(by_length.items())
    ]
    spaced = (
        f"{_codes(countries)}[0-9]{{2}}([{{sp}}{{dash}}][0-9a-z]{{4}}){{2,7}}"
        "([{sp}{dash}][0-9a-z]{1,4})?"
    )
    return "(^|[^0-9a-z])(" + "|".join([spaced, *compact]) + ")($|[^0-9a-z])"


@cache
def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    raw = read_yaml(path)
    codes = {
        name: CodeList(name, spec["label"], {str(k): str(v) for k, v in spec["values"].items()})
        for name, spec in raw["codes"].items()
    }
    keys = tuple(raw.get("keys", ()))
    limits = raw.get("field_limits", {})
    tables = {}
    for tname, tspec in raw["tables"].items():
        cols = []
        for cname, cspec in tspec["columns"].items():
            cspec = dict(cspec)
            if cname in keys:
                cspec.setdefault("pattern", "key")
                cspec.setdefault("max_length", limits.get("key"))
            cspec.setdefault("max_length", limits.get("text"))
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
    norm = lambda items: tuple(normalise_header(x) for x in items or ())  # noqa: E731
    kinds = tuple(
        HeaderKind(
            label=label,
            exact=frozenset(norm(spec.get("exact"))),
            contains=norm(spec.get("contains")),
            words=frozenset(norm(spec.get("words"))),
            suffixes=norm(spec.get("suffixes")),
            prefixes=norm(spec.get("prefixes")),
            suffix_exceptions=frozenset(norm(spec.get("suffix_exceptions"))),
        )
        for label, spec in ident["header_kinds"].items()
    )
    values = tuple(
        ValuePattern(
            name,
            spec["label"],
            expand_classes(spec["regex"] if "regex" in spec else _iban_regex(spec)),
            spec.get("scope", "all"),
        )
        for name, spec in ident["values"].items()
    )
    return Contract(
        version=int(raw["version"]),
        tables=tables,
        codes=codes,
        patterns=raw.get("patterns", {}),
        parsing=raw["parsing"],
        identifier_headers=kinds,
        identifier_values=values,
        manifest_keys=tuple(raw.get("manifest", {}).get("keys", ())),
        keys=keys,
    )


@cache
def region_names() -> dict[str, str]:
    raw = read_yaml(REGIONS_FILE)["regions"]
    return {str(k): v for k, v in raw.items()}


def region_label(code: str | None) -> str:
    if not code:
        return "—"
    name = region_names().get(str(code)[:5])
    return f"{name} ({code})" if name else str(code)
