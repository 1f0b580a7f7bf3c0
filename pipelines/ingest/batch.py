"""A run's ingest: every pending landed delivery in turn, then the duplicates' audit rows and
the data basis (the as_of every figure of the run counts to)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import duckdb

from data_contracts import load_contract
from kernel.workspace import Workspace
from pipelines.ingest import holds
from pipelines.ingest.landing import complete_moves
from pipelines.ingest.limits import Limits
from pipelines.ingest.load import ApplyResult, apply_delivery


def pending_deliveries(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Landed, not yet processed deliveries, oldest receipt first (snapshot order is decided
    per table when applying, so the order only matters for ties). Deliveries whose processing
    a crash interrupted come last, so they cannot hold up the others."""
    return con.execute(
        "SELECT delivery_id, source_name, sha256, received_at, landed_at, landed_path,"
        " coalesce(attempts, 0), landing_faults"
        " FROM audit.landing WHERE NOT processed AND duplicate_of IS NULL"
        " ORDER BY coalesce(attempts, 0) > 0, received_at, source_name"
    ).fetchall()


def ingest_pending(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    limits: Limits | None = None,
) -> list[ApplyResult]:
    contract = load_contract()
    complete_moves(con, ws)
    holds.prepare(con, ws, run_id)  # thresholds and koordination's decisions (issue 13)
    pending = pending_deliveries(con)
    results = []
    for i, row in enumerate(pending, 1):
        t0 = time.perf_counter()
        res = apply_delivery(con, ws, row, contract, run_id, limits)
        results.append(res)
        if progress:
            loaded = (
                "gültige Zeilen, bis zur Freigabe nicht in den Zahlen"
                if res.status == "held"
                else "Zeilen geladen"
            )
            progress(
                f"Lieferung {i}/{len(pending)} {res.source_name}: {STATUS_DE[res.status]}"
                f" – {german_int(res.rows_loaded)} {loaded},"
                f" {german_int(res.rows_rejected)} abgelehnt ({time.perf_counter() - t0:.1f} s)"
            )
    record_duplicates(con, run_id)
    return results


def german_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def record_duplicates(con: duckdb.DuckDBPyConnection, run_id: str | None) -> None:
    """Audit rows for landed duplicates whose original has been processed."""
    con.execute(
        """INSERT INTO audit.deliveries
        SELECT l.delivery_id, o.provider_id, l.source_name, l.sha256, l.received_at, l.landed_at,
               o.exported_on, o.snapshot_on, o.format, o.tables, [], 'duplicate', 0, 0, 0,
               'gleiche Bytes wie Lieferung ' || o.delivery_id || ' (' || o.source_name
               || '); nicht erneut geladen', ?
        FROM audit.landing l JOIN audit.deliveries o ON o.delivery_id = l.duplicate_of
        WHERE l.delivery_id NOT IN (SELECT delivery_id FROM audit.deliveries)""",
        [run_id],
    )


STATUS_DE = {
    "accepted": "angenommen",
    "partial": "teilweise angenommen",
    "quarantined": "Quarantäne",
    "duplicate": "Duplikat",
    "superseded": "ersetzt",
    "held": "zurückgehalten",
    "rejected": "verworfen",
}


def resolve_data_basis(
    con: duckdb.DuckDBPyConnection, as_of: date | None, run_id: str | None = None
) -> date | None:
    """Write meta.data_basis: as_of given, else the earliest current snapshot date."""
    providers, deliveries, earliest = con.execute(
        "SELECT count(DISTINCT provider_id), count(*), min(snapshot_on) FROM audit.deliveries"
        " WHERE len(current_tables) > 0"
    ).fetchone()
    resolved = as_of or earliest
    source = "argument" if as_of else "lieferungen"
    con.execute("DELETE FROM meta.data_basis")
    con.execute(
        "INSERT INTO meta.data_basis VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?)",
        [resolved, source, providers, deliveries, run_id],
    )
    return resolved
