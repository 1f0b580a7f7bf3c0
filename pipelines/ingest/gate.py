"""The identifier gate: values that look like direct identifiers quarantine a delivery.

Headers that name an identifier are caught while reading (reader.py). Here every delivered
value is scanned with the contract's patterns, set-based in DuckDB: one query per table,
returning per (column, pattern) how many lines hit and the first line — never the value.
"""

from __future__ import annotations

import duckdb

from data_contracts import Contract
from data_contracts.rules import lit
from pipelines.ingest.reader import Fault, ParsedDelivery, SourceTable


def _scanned_columns(st: SourceTable, scope: str) -> dict[str, str]:
    """Temp-table column -> header shown, for the columns a pattern of `scope` applies to."""
    known = {
        c.name: st.headers.get(c.name, c.alias) for c in st.table.columns if c.name in st.headers
    }
    if scope == "all":
        return {**known, **st.extra_columns}
    free = {c.name: known[c.name] for c in st.table.columns if c.free_text and c.name in known}
    return {**free, **st.extra_columns}


def scan_identifiers(
    con: duckdb.DuckDBPyConnection, parsed: ParsedDelivery, contract: Contract
) -> list[Fault]:
    faults: list[Fault] = []
    for st in parsed.tables.values():
        parts = []
        for pattern in contract.identifier_values:
            for col, header in _scanned_columns(st, pattern.scope).items():
                prefilter = f"{col} LIKE '%@%' AND " if pattern.name == "email" else ""
                parts.append(
                    f"SELECT {lit(pattern.label)} AS label, {lit(header)} AS header, __line"
                    f" FROM {st.raw} WHERE {col} IS NOT NULL AND {prefilter}"
                    f"regexp_matches(lower({col}), {lit(pattern.regex)})"
                )
        if not parts:
            continue
        hits = con.execute(
            "SELECT label, header, count(*), min(__line) FROM ("
            + " UNION ALL ".join(parts)
            + ") GROUP BY label, header ORDER BY min(__line)"
        ).fetchall()
        for label, header, n, first in hits:
            where = f"in {n} Zeilen, erste Zeile {first}" if n > 1 else f"in Zeile {first}"
            faults.append(
                Fault(
                    f"{label} in Spalte ‚{header}‘ gefunden ({where});"
                    " der Wert wird nicht wiedergegeben",
                    file_name=st.file_name,
                    table_name=st.table.name,
                    line=first,
                    column_name=header,
                )
            )
    return faults
