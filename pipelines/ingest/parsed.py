"""What a parsed delivery is made of: its structural faults, its source tables, the text
collected for the identifier gate, and how files and sheets are named in messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import duckdb
import pyarrow as pa

from data_contracts import Contract, Table

DATA_SUFFIXES = {".csv", ".xlsx", ".xlsm"}
ENCODING_LABEL = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 mit BOM", "cp1252": "Windows-1252"}
SEPARATOR_LABEL = {";": "Semikolon", ",": "Komma"}
TEXTS = "delivery_texts"
MAX_MANIFEST_BYTES = 65_536
TEXT_BATCH = 50_000


@dataclass
class Fault:
    """A structural fault or identifier hit: quarantines the whole delivery."""

    reason: str
    file_name: str | None = None
    table_name: str | None = None
    line: int | None = None
    column_name: str | None = None
    identifier: bool = False  # an identifier hit (reported before structural faults)


@dataclass
class SourceTable:
    table: Table
    file_name: str
    raw: str  # temp table name
    headers: dict[str, str]  # contract column -> header as shown in messages
    extra_columns: dict[str, str]  # temp column -> header shown, of columns the contract lacks
    rows_received: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    bool_mark_columns: set[str] = field(default_factory=set)  # bool columns using x/empty
    detail: str = ""
    bad_texts: str | None = None  # temp table (__line, text) of the malformed records


@dataclass
class ParsedDelivery:
    source_name: str
    kind: str  # folder, zip, xlsx, csv
    tables: dict[str, SourceTable] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    texts: str = TEXTS  # temp table (place, file_name, line, text) for the gate
    text_count: int = 0  # rows in `texts`
    manifest_seen: bool = False

    @property
    def format(self) -> str:
        details = sorted({t.detail for t in self.tables.values() if t.detail})
        return self.kind + (": " + ", ".join(details) if details else "")

    @property
    def rows_received(self) -> int:
        return sum(t.rows_received + len(t.malformed) for t in self.tables.values())


def table_for_name(contract: Contract, name: str) -> Table | None:
    """Table whose English name or German alias is the file/sheet name or one token of it
    (`faelle.csv`, `Fälle`, `2026-10-15_cases.csv`)."""
    stem = PurePosixPath(name).stem
    direct = contract.find_table(stem)
    if direct:
        return direct
    hits = {
        t.name
        for token in re.split(r"[\s_.\-]+", stem)
        if (t := contract.find_table(token)) is not None
    }
    return contract.tables[hits.pop()] if len(hits) == 1 else None


def printable(text: str, limit: int = 120) -> str:
    """A name as it may appear in a message: control characters removed, shortened."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def shown_name(contract: Contract, name: str, position: str) -> tuple[str, str | None]:
    """(what messages call a file/sheet/delivery, the identifier kind its name carries)."""
    label = contract.find_identifier(name, name=True)
    if label:
        return f"{position} (Name enthält einen Identifikator)", label
    return printable(name), None


class _Texts:
    """Collects text for the identifier gate in a temp table, in batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.rows: list[tuple] = []
        self.count = 0
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TEXTS} (place VARCHAR, file_name VARCHAR,"
            " line INTEGER, text VARCHAR)"
        )

    def add(self, place: str, file_name: str | None, line: int | None, text: str) -> None:
        if text and text.strip():
            self.rows.append((place, file_name, line, text))
            if len(self.rows) >= TEXT_BATCH:
                self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        batch = pa.table(  # noqa: F841 - read by DuckDB (replacement scan)
            {
                "place": pa.array([r[0] for r in self.rows], pa.string()),
                "file_name": pa.array([r[1] for r in self.rows], pa.string()),
                "line": pa.array([r[2] for r in self.rows], pa.int32()),
                "text": pa.array([r[3] for r in self.rows], pa.string()),
            }
        )
        self.con.execute(f"INSERT INTO {TEXTS} SELECT * FROM batch")
        self.count += len(self.rows)
        self.rows = []
