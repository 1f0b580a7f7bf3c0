"""Delivery status, reconciliation per table and rejection reasons (audit.*): a provider sees
its own deliveries, funders none; line-level rejections only for koordination and the
provider whose delivery it is."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.catalog import DELIVERY_STATUS_LABELS, table_label
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, has_table
from kernel import decisions
from transforms.delivery_calendar import calendar_summary, delivery_calendar
from transforms.scorecard import flag_states

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


HOLD_ROLES = ("koordination", "traeger")
HOLD_DENIED = "Zurückgehaltene Lieferungen sehen nur die Koordination und der Träger selbst."


def pending_decisions(source: Source) -> dict[str, dict]:
    """The latest logged decision per delivery (kernel/decisions.py); a run applies it."""
    return {e["delivery_id"]: e for e in decisions.read(source.workspace, "delivery")}


@query(roles=HOLD_ROLES, denied=HOLD_DENIED)
def holds(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Deliveries an import threshold held (also those decided since), with their reasons and
    the decision: applied by a run, or logged and taking effect in the next run."""
    cond, params = _own(viewer)
    with source.read() as con:
        if not has_table(con, "audit", "holds"):
            return pd.DataFrame(columns=HOLD_COLUMNS)
        df = con.execute(
            f"""SELECT d.delivery_id, d.provider_id, d.source_name, d.snapshot_on, d.status,
                       string_agg(h.reason, '; ' ORDER BY h.table_name, h.rule) AS reasons,
                       any_value(x.action) AS action, any_value(x.reason) AS decision_reason,
                       any_value(x.decided_by) AS decided_by, any_value(x.decided_at) AS decided_at
                FROM audit.holds h JOIN audit.deliveries d USING (delivery_id)
                LEFT JOIN audit.delivery_decisions x USING (delivery_id)
                WHERE {cond} GROUP BY 1, 2, 3, 4, 5 ORDER BY d.status = 'held' DESC, 4 DESC""",
            params,
        ).df()
    logged = pending_decisions(source)
    for i, row in df.iterrows():  # a held delivery with a logged decision: pending
        entry = logged.get(row["delivery_id"])
        if row["status"] == "held" and entry:
            df.loc[i, ["action", "decision_reason", "decided_by"]] = [
                f"{entry['action']}_pending",
                entry.get("reason"),
                entry.get("user"),
            ]
            df.loc[i, "decided_at"] = pd.Timestamp(entry["at"])
    df["decision"] = [DECISION_LABELS.get(a, "offen") for a in df["action"].fillna("")]
    df["status"] = [DELIVERY_STATUS_LABELS.get(s, s) for s in df["status"]]
    return df[HOLD_COLUMNS].reset_index(drop=True)


DECISION_LABELS = {
    "release": "freigegeben",
    "reject": "verworfen",
    "release_pending": "Freigabe vorgemerkt (wirkt im nächsten Lauf)",
    "reject_pending": "Verwerfen vorgemerkt (wirkt im nächsten Lauf)",
}
HOLD_COLUMNS = [
    "delivery_id",
    "provider_id",
    "source_name",
    "snapshot_on",
    "status",
    "reasons",
    "decision",
    "decision_reason",
    "decided_by",
    "decided_at",
]


def _today() -> date:
    return date.today()


@query(roles=DELIVERY_ROLES, denied=DENIED)
def calendar(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Expected vs received snapshots per provider and period (transforms/delivery_calendar)."""
    with source.read() as con:
        cal = delivery_calendar(con, source.settings, _today())
    if viewer.role == "traeger":
        cal = cal[cal["provider_id"] == viewer.provider]
    return cal.drop(columns=["current_snapshot_on"]).reset_index(drop=True)


@query(roles=DELIVERY_ROLES, denied=DENIED)
def trust(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Per provider: on-time rate, current snapshot, and the trust status of its figures
    (aktuell / Lieferung zurückgehalten / veraltet / offene Hinweise)."""
    today = _today()
    with source.read() as con:
        summary = calendar_summary(delivery_calendar(con, source.settings, today), today)
        held = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT provider_id FROM audit.deliveries WHERE status = 'held'"
            ).fetchall()
        }
        open_flags: dict[str, int] = {}
        if has_table(con, "mart", "scorecard"):
            reviews = pd.DataFrame(decisions.read(source.workspace, "flag"))
            states = flag_states(con, reviews)
            open_flags = states[states["state"] == "offen"].groupby("provider_id").size().to_dict()
    if viewer.role == "traeger":
        summary = summary[summary["provider_id"] == viewer.provider]
    summary = summary.copy()
    summary["held_pending"] = [p in held for p in summary["provider_id"]]
    summary["open_flags"] = [int(open_flags.get(p, 0)) for p in summary["provider_id"]]
    summary["trust"] = [
        trust_label(h, s, f)
        for h, s, f in zip(
            summary["held_pending"], summary["stale"], summary["open_flags"], strict=True
        )
    ]
    return summary.reset_index(drop=True)


def trust_label(held: bool, stale: bool, open_flags: int) -> str:
    parts = []
    if held:
        parts.append("Lieferung zurückgehalten")
    if stale:
        parts.append("veraltet")
    if open_flags:
        parts.append(f"offene Hinweise ({open_flags})")
    return ", ".join(parts) or "aktuell"
