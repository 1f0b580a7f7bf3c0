"""The published copy of the warehouse that dashboards and reports read.

DuckDB allows one writer, and even a read-only reader fails while another process holds the
write lock. So the pipeline writes a fresh copy of the read-side schemas (mart, audit, meta)
into a temporary file and swaps it in with an atomic rename: an open dashboard never blocks a
run, and a run never breaks an open dashboard (it keeps reading the old file until it reopens).
Staging — with its free-text notes — is not published.
"""

import logging
import os
from pathlib import Path

import dagster as dg
import duckdb

from kernel.private import tighten
from kernel.settings import Settings
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.observe import stage, timed_check
from pipelines.resources import LagebildResource

PUBLISHED_SCHEMAS = ("mart", "audit", "meta")
log = logging.getLogger("lagebild.publish")


def publish(
    con: duckdb.DuckDBPyConnection, ws: Workspace, settings: Settings | None = None
) -> dict[str, int]:
    """Copy the read-side schemas into WORKSPACE/published/lagebild.duckdb (atomic swap), with
    the publication grid built from the marts when `settings` are given.

    Views are materialised as tables, so the copy is self-contained and fast to read.
    Returns rows per published table.
    """
    ws.published_dir.mkdir(parents=True, exist_ok=True)
    tmp = ws.published_dir / f".lagebild.{os.getpid()}.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    objects = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables()"
        " WHERE database_name = current_database()"
        f" AND schema_name IN {PUBLISHED_SCHEMAS} AND NOT temporary"
        " UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name ="
        f" current_database() AND schema_name IN {PUBLISHED_SCHEMAS} AND NOT temporary"
        " ORDER BY 1, 2"
    ).fetchall()
    counts: dict[str, int] = {}
    con.execute(f"ATTACH '{tmp}' AS published")
    try:
        for schema in {s for s, _ in objects}:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS published.{schema}")
        for schema, table in objects:
            con.execute(
                f"CREATE TABLE published.{schema}.{table} AS SELECT * FROM {schema}.{table}"
            )
            counts[f"{schema}.{table}"] = con.execute(
                f"SELECT count(*) FROM published.{schema}.{table}"
            ).fetchone()[0]
        if settings is not None:
            from dashboards.disclosure import publication

            with stage("grid"):
                built = publication.build(con, settings, reuse=True)
                publication.write(con, built, "published.grid")
    finally:
        con.execute("DETACH published")
    # read by the dashboards (same account), written by nobody, private to the owner
    tmp.chmod(0o400)
    os.replace(tmp, ws.published_db_path)
    return counts


def _upstream() -> list[dg.AssetKey]:
    """Every mart and theme asset: the copy is taken when all of them are built."""
    from pipelines.defs import marts, themes

    return [
        key
        for a in dg.load_assets_from_modules([marts, themes])
        if isinstance(a, dg.AssetsDefinition)
        for key in a.keys
    ]


@dg.asset(
    key="published_warehouse",
    deps=_upstream() or ["staging"],
    group_name="publish",
    description="Schreibgeschützte Kopie (mart, audit, meta) für Dashboards und Berichte,"
    " atomar ausgetauscht.",
)
def published_warehouse(lagebild: LagebildResource) -> dg.MaterializeResult:
    ws = lagebild.ws
    with stage("publish"), lagebild.write() as con:
        counts = publish(con, ws, lagebild.settings())
    # landing and quarantine copies keep their source's mode: owner-only, also for runs
    # started from the Dagster UI (docs/security.md); the inbox is input and stays as it is
    inboxes = (ws.root / "inbox", *((Path(lagebild.inbox),) if lagebild.inbox else ()))
    tighten(ws.root, skip=inboxes)
    log.info(f"Veröffentlichte Kopie geschrieben: {ws.published_db_path}")
    return dg.MaterializeResult(
        metadata={
            "path": str(ws.published_db_path),
            "tables": len(counts),
            "size_mb": round(ws.published_db_path.stat().st_size / 2**20, 1),
        }
    )


@dg.asset_check(
    asset="published_warehouse",
    blocking=True,
    description="Geheimhaltungsprüfung des Veröffentlichungsrasters: Für jede unterdrückte"
    " Zelle lässt sich aus allen veröffentlichten Zellen (lineare Optimierung, nicht negative"
    " Zahlen, alle Summen) kein Intervall schmaler als k ableiten.",
)
@timed_check
def grid_protection_audit(lagebild: LagebildResource) -> dg.AssetCheckResult:
    con = connect(lagebild.ws.published_db_path, read_only=True)
    try:
        audit = con.execute("SELECT * FROM grid.audit ORDER BY family").df()
    finally:
        con.close()
    unprotected = int(audit["unprotected"].fillna(0).sum()) if len(audit) else 0
    widths = audit["narrowest_width"].dropna() if len(audit) else audit
    return dg.AssetCheckResult(
        passed=unprotected == 0,
        metadata={
            "families": len(audit),
            "cells": int(audit["cells"].sum()) if len(audit) else 0,
            "cells_audited": int(audit["cells_audited"].sum()) if len(audit) else 0,
            "unprotected": unprotected,
            "narrowest_width": float(widths.min()) if len(widths) else None,
            "seconds": float(audit["seconds"].sum()) if len(audit) else 0.0,
        },
    )


@dg.asset_check(
    asset="published_warehouse",
    description="Die Kopie ist lesbar und enthält keine Staging-Tabellen (keine Freitexte).",
)
@timed_check
def readable_without_free_text(lagebild: LagebildResource) -> dg.AssetCheckResult:
    con = connect(lagebild.ws.published_db_path, read_only=True)
    try:
        schemas = {
            r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()
        }
        notes = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE column_name IN ('note', 'notiz')"
        ).fetchone()[0]
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed="staging" not in schemas and notes == 0,
        metadata={"schemas": sorted(schemas), "free_text_columns": notes},
    )
