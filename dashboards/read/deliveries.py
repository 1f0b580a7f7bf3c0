"""Delivery status, reconciliation per table and rejection reasons (audit.*): a provider sees
its own deliveries, funders none; line-level rejections only for koordination and the
provider whose delivery it is."""

from __future__ import annotations

import pandas as pd

from dashboards.catalog import DELIVERY_STATUS_LABELS, table_label
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer

DELIVERY_ROLES = ("koordination", "evaluation", "traeger")
DENIED = "Der Lieferstatus ist für Förderer nicht freigegeben."


def _own(viewer: Viewer, column: str = "d.provider_id") -> tuple[str, list]:
    if viewer.role == "traeger":
        return f"{column} = ?", [viewer.provider]
    return "true", []


def _reconciled(values) -> list[str]:
    return ["stimmt" if r else "stimmt nicht" for r in values]


@query(roles=DELIVERY_ROLES, denied=DENIED)
def deliveries(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """audit.deliveries — own deliveries for a provider."""
    cond, params = _own(viewer, "provider_id")
    with source.read() as con:
        df = con.execute(
            f"""SELECT delivery_id, provider_id, source_name, received_at, snapshot_on, format,
                       status, rows_received, rows_loaded, rows_rejected,
                       rows_received = rows_loaded + rows_rejected AS reconciled, message
                FROM audit.deliveries WHERE {cond}
                ORDER BY received_at DESC, delivery_id""",
            params,
        ).df()
    df["status"] = [DELIVERY_STATUS_LABELS.get(s, s) for s in df["status"]]
    df["reconciled"] = _reconciled(df["reconciled"])
    if viewer.role == "evaluation":
        df = df.drop(columns=["source_name"])
    return df.reset_index(drop=True)


@query(roles=DELIVERY_ROLES, denied=DENIED)
def delivery_tables(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Rows received, loaded and rejected per delivery and table."""
    cond, params = _own(viewer)
    with source.read() as con:
        df = con.execute(
            f"""SELECT t.delivery_id, d.provider_id, t.table_name, t.file_name,
                       t.rows_received, t.rows_loaded, t.rows_rejected,
                       t.rows_received = t.rows_loaded + t.rows_rejected AS reconciled
                FROM audit.delivery_tables t JOIN audit.deliveries d USING (delivery_id)
                WHERE {cond} ORDER BY t.delivery_id, t.table_name""",
            params,
        ).df()
    df["reconciled"] = _reconciled(df["reconciled"])
    df["table_name"] = [table_label(t) for t in df["table_name"]]
    if viewer.role == "evaluation":
        df = df.drop(columns=["file_name"])
    return df


@query(roles=DELIVERY_ROLES, denied="Zurückweisungsgründe sind für Förderer nicht freigegeben.")
def rejections(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Every rejection reason. Line level for koordination and the provider's own deliveries;
    evaluation gets them counted by delivery, table, column and reason."""
    cond, params = _own(viewer)
    with source.read() as con:
        if viewer.rejection_lines:
            df = con.execute(
                f"""SELECT r.delivery_id, d.provider_id, r.kind, r.table_name, r.file_name,
                           r.line, r.column_name, r.reason
                    FROM audit.rejections r LEFT JOIN audit.deliveries d USING (delivery_id)
                    WHERE {cond}
                    ORDER BY r.delivery_id, r.table_name, r.line NULLS FIRST, r.column_name""",
                params,
            ).df()
        else:
            df = con.execute(
                """SELECT r.delivery_id, d.provider_id, r.kind, r.table_name, r.column_name,
                          r.reason, count(*)::INTEGER AS rejections
                   FROM audit.rejections r LEFT JOIN audit.deliveries d USING (delivery_id)
                   GROUP BY ALL ORDER BY ALL"""
            ).df()
    df["kind"] = (
        df["kind"].map({"row": "Zeile abgewiesen", "quarantine": "Quarantäne"}).fillna(df["kind"])
    )
    df["table_name"] = [table_label(t) for t in df["table_name"]]
    return df
