"""Helpers for the mart tests: insert hand-made typed rows into staging and build the marts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from data_contracts.contract import load_contract
from kernel.settings import Settings


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """INSERT rows (dicts with any subset of the contract columns; the rest NULL)."""
    columns = [*load_contract().tables[table].column_names, "delivery_id"]
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"{table}: unknown column(s) {sorted(unknown)}")
    values = [[row.get(c, "test" if c == "delivery_id" else None) for c in columns] for row in rows]
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO staging.{table} ({', '.join(columns)}) VALUES ({placeholders})", values
    )


def case(
    provider_id: str, case_id: str, opened_on: str, closed_on: str | None = None, **kw
) -> dict:
    """A cases row with sensible defaults for the required columns."""
    row = {
        "provider_id": provider_id,
        "case_id": case_id,
        "program": "kim",
        "region_code": "05111",
        "caseworker_id": "w1",
        "intensity": "case_management",
        "opened_on": opened_on,
        "closed_on": closed_on,
        "close_reason": "ziel_erreicht" if closed_on else None,
    }
    row.update(kw)
    return row


def build(con: duckdb.DuckDBPyConnection, as_of: date, **settings) -> None:
    """Build every intermediate model and mart as of `as_of`; all checks must pass."""
    from transforms.checks import run_checks
    from transforms.runner import build_marts

    build_marts(con, Settings(workspace=Path("/nonexistent"), **settings), as_of)
    failed = [(o.rule.table, o.rule.name, o.failing) for o in run_checks(con) if not o.passed]
    assert not failed, f"mart checks failed: {failed}"


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict:
    found = rows(con, sql, params)
    assert len(found) == 1, f"expected one row, got {len(found)}: {sql}"
    return found[0]


def redeliver_first_provider(con: duckdb.DuckDBPyConnection) -> str:
    """The first provider's corrected snapshot, written into staging: five cases closed, seven
    goals gone, a contact's step changed. Returns the provider."""
    pid = con.execute("SELECT min(provider_id) FROM staging.cases").fetchone()[0]
    con.execute(
        "UPDATE staging.cases SET closed_on = DATE '2026-08-01', close_reason = 'ziel_erreicht'"
        " WHERE provider_id = ? AND closed_on IS NULL AND case_id IN (SELECT case_id FROM"
        " staging.cases WHERE provider_id = ? AND closed_on IS NULL ORDER BY case_id LIMIT 5)",
        [pid, pid],
    )
    con.execute(
        "DELETE FROM staging.goals WHERE provider_id = ? AND goal_id IN (SELECT goal_id FROM"
        " staging.goals WHERE provider_id = ? ORDER BY goal_id LIMIT 7)",
        [pid, pid],
    )
    con.execute(
        "UPDATE staging.contacts SET step = 'evaluation' WHERE provider_id = ? AND case_id ="
        " (SELECT min(case_id) FROM staging.contacts WHERE provider_id = ?)",
        [pid, pid],
    )
    return pid
