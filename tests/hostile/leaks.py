"""Where a planted identifier could hide in a workspace: file bytes, file names, DuckDB tables
(read with SQL: DuckDB compresses strings, a byte search alone would miss them) and the SQLite
databases of the Dagster instance."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import duckdb


def _variants(value: str) -> list[bytes]:
    out = {value.encode("utf-8")}
    with contextlib.suppress(UnicodeEncodeError):
        out.add(value.encode("cp1252"))
    out.add(value.encode("utf-16-le"))
    return sorted(out)


def _outside_quarantine(ws: Path):
    for p in ws.rglob("*"):
        rel = p.relative_to(ws)
        if rel.parts and rel.parts[0] == "quarantine":
            continue
        yield p, rel


def in_files(ws: Path, needles: list[str]) -> list[str]:
    """Planted values in bytes or names of files outside quarantine/."""
    found = []
    for p, rel in _outside_quarantine(ws):
        for n in needles:
            if n.lower() in str(rel).lower():
                found.append(f"name {rel}")
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            for n in needles:
                if any(v in data for v in _variants(n)):
                    found.append(f"bytes {rel}: {n!r}")
    return found


def in_duckdb(path: Path, needles: list[str]) -> list[str]:
    """Every column of every table, cast to text, against every needle: one query per table
    (its columns' distinct values against all needles at once; a query per column and needle
    took 27 of the corpus test's 29 s)."""
    found = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "SELECT schema_name, table_name, list(column_name ORDER BY column_index)"
            " FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        lowered = [n.lower() for n in needles]
        for schema, table, columns in cols:
            values = " UNION ALL ".join(
                f'SELECT {i} AS k, lower(CAST("{c}" AS VARCHAR)) AS v FROM "{schema}"."{table}"'
                for i, c in enumerate(columns)
            )
            hits = con.execute(
                f"SELECT DISTINCT k, n FROM (SELECT DISTINCT k, v FROM ({values}) WHERE v IS NOT"
                " NULL), unnest(?::VARCHAR[]) AS t(n) WHERE contains(v, n) ORDER BY k, n",
                [lowered],
            ).fetchall()
            for k, n in hits:
                needle = needles[lowered.index(n)]
                found.append(f"{path.name}: {schema}.{table}.{columns[k]}: {needle!r}")
    finally:
        con.close()
    return found


def in_sqlite(path: Path, needles: list[str]) -> list[str]:
    found = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
            for c in cols:
                for n in needles:
                    (hit,) = con.execute(
                        f'SELECT count(*) FROM "{t}" WHERE instr(lower(CAST("{c}" AS TEXT)), ?) > 0',
                        [n.lower()],
                    ).fetchone()
                    if hit:
                        found.append(f"{path.name}: {t}.{c}: {n!r}")
    finally:
        con.close()
    return found


def everywhere(ws: Path, needles: list[str]) -> list[str]:
    """Every place outside quarantine/ a planted value was found (empty = none)."""
    found = in_files(ws, needles)
    for p, _ in _outside_quarantine(ws):
        if p.suffix == ".duckdb" and p.is_file():
            found += in_duckdb(p, needles)
        elif p.suffix in (".db", ".sqlite") and p.is_file():
            found += in_sqlite(p, needles)
    return found
