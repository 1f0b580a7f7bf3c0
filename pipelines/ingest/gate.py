"""The identifier gate: anything in a delivery that looks like a direct identifier
quarantines it (exchange-format.md "What is never allowed in a delivery").

Names, headers and manifest values are checked while reading (reader.py). Here every value
of every table, the raw text of records rejected for their shape, and the text of everything
else in the delivery (files that are not tables, document properties, metadata files) are
scanned with the contract's patterns, set-based in DuckDB: one query per table over the
distinct values of its columns (key columns with the patterns of scope `all`, every other
column with all patterns), then the hits are labelled with the same expressions, in RE2 too
(contract.identifier_labels_many: one query for all hits); a hit no single pattern names
quarantines all the same.
Faults name file, column and first line and how many lines — never the value.
"""

from __future__ import annotations

import contextlib

import duckdb

from data_contracts import Contract
from data_contracts.rules import lit, match_text
from pipelines.ingest.reader import Fault, ParsedDelivery, SourceTable


def _columns(st: SourceTable) -> list[tuple[str, str, bool]]:
    """(temp-table column, header shown, is a key) for every column of a parsed table."""
    cols = [
        (c.name, st.headers.get(c.name, c.alias), c.is_key)
        for c in st.table.columns
        if c.name in st.headers
    ]
    return cols + [(x, shown, False) for x, shown in st.extra_columns.items()]


def _where(n: int, first: int | None) -> str:
    if first is None:
        return f"{n}-mal" if n > 1 else "einmal"
    return f"in {n} Zeilen, erste Zeile {first}" if n > 1 else f"in Zeile {first}"


VALUES_TABLE = "delivery_values"

# The label of an RE2 hit the contract cannot name (they are tested to agree, but a hit is
# never dropped for want of a name: the delivery is quarantined all the same).
UNNAMED = "Möglicher Identifikator (Art nicht bestimmbar)"


def _labels(contract: Contract, texts: list[str], key: bool = False) -> list[list[str]]:
    """The labels of RE2 hits, one list per text, matched in one query: the contract's names
    for each, or UNNAMED."""
    return [labels or [UNNAMED] for labels in contract.identifier_labels_many(texts, key=key)]


def collect_values(con, parsed: ParsedDelivery) -> list[tuple[SourceTable, str, str, bool]]:
    """The distinct values of every column of every table, once per delivery, into the temp
    table VALUES_TABLE (k, key, v): the gate matches them, and the provider check reads
    provider_id from them instead of scanning every table again (1.9 of 53 s of the ingest's
    CPU at 1,000,000 cases). Returns the columns (table, column, header, is a key); k is the
    index into them."""
    cols = [
        (st, col, header, key) for st in parsed.tables.values() for col, header, key in _columns(st)
    ]
    values = " UNION ALL ".join(
        f"SELECT {i} AS k, {int(key)} AS key, v FROM (SELECT DISTINCT {col} AS v FROM {st.raw}"
        f" WHERE {col} IS NOT NULL)"
        for i, (st, col, _, key) in enumerate(cols)
    )
    # materialised first: in one query the optimiser pushes the expressions below DISTINCT,
    # and they run on every row instead of every distinct value (ten times slower)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {VALUES_TABLE} AS "
        + (values or "SELECT 0 AS k, 0 AS key, NULL::VARCHAR AS v WHERE false")
    )
    return cols


def _scan_tables(con, parsed: ParsedDelivery, contract: Contract, cols=None) -> list[Fault]:
    """All values of all tables at once: the distinct values of every column, each matched
    against one expression (keys) or the other (everything else)."""
    cols = collect_values(con, parsed) if cols is None else cols
    if not cols:
        return []
    any_re, key_re = lit(contract.identifier_regex()), lit(contract.identifier_regex(key=True))
    rows = con.execute(
        f"SELECT k, v FROM {VALUES_TABLE} WHERE CASE WHEN key = 1"
        f" THEN regexp_matches({match_text('v')}, {key_re})"
        f" ELSE regexp_matches({match_text('v')}, {any_re}) END"
    ).fetchall()
    labelled = {
        key: iter(_labels(contract, [v for k, v in rows if cols[k][3] == key], key=key))
        for key in {cols[k][3] for k, _ in rows}
    }
    hits: dict[tuple[int, str], list[str]] = {}
    for k, value in rows:
        for label in next(labelled[cols[k][3]]):
            hits.setdefault((k, label), []).append(value)
    faults = []
    for (k, label), found in hits.items():
        st, col, header, _ = cols[k]
        n, first = con.execute(
            f"SELECT count(*), min(__line) FROM {st.raw} WHERE {col} IN (SELECT unnest(?))",
            [found],
        ).fetchone()
        faults.append(
            Fault(
                f"{label} in Spalte ‚{header}‘ gefunden ({_where(n, first)});"
                " der Wert wird nicht wiedergegeben",
                file_name=st.file_name,
                table_name=st.table.name,
                line=first,
                column_name=header,
                identifier=True,
            )
        )
    for st in parsed.tables.values():
        if st.bad_texts:
            faults += _scan_bad_records(con, st, contract)
    return faults


def _scan_bad_records(con, st: SourceTable, contract: Contract) -> list[Fault]:
    """Records rejected for their shape (wrong number of fields …) are part of the delivery."""
    rows = con.execute(
        f"SELECT __line, text FROM {st.bad_texts}"
        f" WHERE regexp_matches({match_text('text')}, {lit(contract.identifier_regex())})"
    ).fetchall()
    found: dict[str, list[int]] = {}
    for (line, _), labels in zip(rows, _labels(contract, [t for _, t in rows]), strict=True):
        for label in labels:
            found.setdefault(label, []).append(line)
    return [
        Fault(
            f"{label} in einer Zeile mit falscher Feldanzahl gefunden"
            f" ({_where(len(set(lines)), min(lines))}); der Wert wird nicht wiedergegeben",
            file_name=st.file_name,
            table_name=st.table.name,
            line=min(lines),
            identifier=True,
        )
        for label, lines in found.items()
    ]


PLACES = {
    "Datei": "im Text der Datei",
    "Dokumenteigenschaften": "in den Dokumenteigenschaften der Arbeitsmappe",
    "Arbeitsmappe": "in der Arbeitsmappe (Kommentare, Namen, Verweise, Formeln, Kopf- und"
    " Fußzeilen, Formate)",
    "Archivkommentar": "im Kommentar des ZIP-Archivs",
    "Tabellenblatt": "in einem nicht geladenen Tabellenblatt",
    "Systemdatei": "in einer Systemdatei",
}


def _scan_texts(con, parsed: ParsedDelivery, contract: Contract) -> list[Fault]:
    """Everything else that lies in the delivery (see reader.py)."""
    if not parsed.text_count:
        return []
    rows = con.execute(
        f"SELECT place, file_name, line, text FROM {parsed.texts}"
        f" WHERE regexp_matches({match_text('text')}, {lit(contract.identifier_regex())})"
    ).fetchall()
    found: dict[tuple[str, str, str], list[int | None]] = {}
    labelled = _labels(contract, [text for *_, text in rows])
    for (place, file_name, line, _), labels in zip(rows, labelled, strict=True):
        for label in labels:
            found.setdefault((place, file_name, label), []).append(line)
    faults = []
    for (place, file_name, label), lines in found.items():
        known = [x for x in lines if x is not None]
        first = min(known) if known else None
        faults.append(
            Fault(
                f"{label} {PLACES.get(place, 'in der Lieferung')} gefunden"
                f" ({_where(len(lines), first)}); der Wert wird nicht wiedergegeben",
                file_name=file_name,
                line=first,
                identifier=True,
            )
        )
    return faults


def scan_identifiers(
    con: duckdb.DuckDBPyConnection, parsed: ParsedDelivery, contract: Contract, cols=None
) -> list[Fault]:
    """Identifier faults of a delivery. `cols`: what `collect_values` returned, when the
    caller collected the values (and drops VALUES_TABLE) itself."""
    try:
        faults = _scan_tables(con, parsed, contract, cols) + _scan_texts(con, parsed, contract)
    finally:
        if cols is None:
            drop_values(con)
    return sorted(faults, key=lambda f: (f.file_name or "", f.line or 0))


def drop_values(con: duckdb.DuckDBPyConnection) -> None:
    """Drop VALUES_TABLE, never in place of the error that ended the gate: after an interrupt
    (the time limit) the transaction is aborted and refuses the drop; its rollback drops it."""
    with contextlib.suppress(duckdb.Error):
        con.execute(f"DROP TABLE IF EXISTS {VALUES_TABLE}")
