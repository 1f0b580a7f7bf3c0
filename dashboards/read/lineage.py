"""Lineage ("Wie entsteht diese Zahl?"): the rows a published figure counts, each with the
delivery it came from (issue 14). Case level, so koordination, evaluation and a provider for
its own cases only (the viewer's scope); never a funder. The rows come from the same
definition as the figure (transforms), so their counts are the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.read.gate import CASE_LEVEL_ROLES, query
from dashboards.read.reentry import reentry_cases
from dashboards.read.scope import Filters, Source, Viewer, has_table, rollup_filters
from transforms.caseload import caseload_rows
from transforms.gaps import closed_cases, gap_goals, referral_rows
from transforms.process import COUNTS as PROCESS_CONDITIONS
from transforms.reentry import window_masks


def delivery_name(viewer: Viewer) -> str:
    """How a delivery is named to this viewer: evaluators see no file names (a provider's
    export tool may put anything there, see read/deliveries.py), only the delivery id."""
    return "delivery_id" if viewer.role == "evaluation" else "source_name"


def _current_deliveries(con, viewer: Viewer, table: str) -> pd.DataFrame:
    """provider -> the delivery its rows of `table` come from (one current snapshot each)."""
    return con.execute(
        f"""SELECT provider_id, delivery_id, {delivery_name(viewer)} AS delivery, snapshot_on
            FROM audit.deliveries WHERE list_contains(current_tables, ?)""",
        [table],
    ).df()


def _with_delivery(con, viewer: Viewer, rows: pd.DataFrame, table: str) -> pd.DataFrame:
    return rows.merge(_current_deliveries(con, viewer, table), on="provider_id", how="left")


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def gap_lineage(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Every goal the supply-gap figures of this selection count, with its delivery."""
    with source.read() as con:
        goals = gap_goals(
            con, filters.period_from, filters.period_to, rollup_filters(viewer, filters)
        )
        deliveries = _current_deliveries(con, viewer, "goals")
    return goals.merge(deliveries, on="provider_id", how="left")


def gap_counts(goals: pd.DataFrame) -> dict[str, int]:
    """The supply-gap figures recounted from their rows (what the drill-down shows)."""
    without = goals[~goals["offer_available"].astype(bool)]
    return {
        "goals_set": len(goals),
        "goals_without_offer": len(without),
        "cases_with_gap": len(without[["provider_id", "case_id"]].drop_duplicates()),
    }


def process_cases(cases: pd.DataFrame, count: str) -> pd.DataFrame:
    """The cases of the case table (`read.cases`: the cases active in the span) that a
    process-quality count counts, by the count's own condition (transforms.process)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("r", cases)
        return con.execute(f"SELECT * FROM r WHERE {PROCESS_CONDITIONS[count]}").df()
    finally:
        con.close()


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def referral_lineage(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Every referral the wait figures of this selection count, with the row sets it is in
    (requested / started in the span, waiting at its end) and its delivery."""
    with source.read() as con:
        rows = referral_rows(
            con, filters.period_from, filters.period_to, rollup_filters(viewer, filters)
        )
        return _with_delivery(con, viewer, rows, "referrals")


def wait_counts(rows: pd.DataFrame) -> dict[str, float | int | None]:
    """The wait figures recounted from their referrals (quantiles linear, as quantile_cont)."""
    requested = rows[rows["requested_in_span"].astype(bool)]
    waits = pd.to_numeric(rows.loc[rows["started_in_span"].astype(bool), "wait_days"])

    def quantile(q: float) -> float | None:
        return float(waits.quantile(q)) if len(waits) else None

    return {
        "referrals": len(requested),
        "no_offer": int((requested["outcome"] == "kein_angebot").sum()),
        "rejected": int((requested["outcome"] == "abgelehnt").sum()),
        "started": len(waits),
        "wait_days_median": quantile(0.5),
        "wait_days_p90": quantile(0.9),
        "waiting_at_end": int(rows["waiting_at_end"].astype(bool).sum()),
    }


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def closure_lineage(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """Every case closed in the span (the closure figures), with its quarter and delivery."""
    with source.read() as con:
        rows = closed_cases(
            con, filters.period_from, filters.period_to, rollup_filters(viewer, filters)
        )
        return _with_delivery(con, viewer, rows, "cases")


def closure_counts(rows: pd.DataFrame) -> dict[str, int]:
    return {"closures": len(rows), "structural_closures": int(rows["structural"].sum())}


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def caseload_lineage(
    source: Source, viewer: Viewer, filters: Filters, *, scope: str = "alle"
) -> dict[str, pd.DataFrame]:
    """{"cases", "staffing"}: the cases (with their days in the span) and the caseworkers'
    FTE days that the caseload per FTE of this selection divides, each with its delivery."""
    with source.read() as con:
        cases, staffing = caseload_rows(
            con, filters.period_from, filters.period_to, rollup_filters(viewer, filters), scope
        )
        return {
            "cases": _with_delivery(con, viewer, cases, "cases"),
            "staffing": _with_delivery(con, viewer, staffing, "staffing"),
        }


def caseload_counts(cases: pd.DataFrame, staffing: pd.DataFrame) -> dict[str, float | int]:
    """The caseload figures recounted from their rows (case days / FTE days)."""
    case_days = float(cases["active_days"].sum())
    fte_days = float(staffing["fte_days"].sum())
    return {
        "cases_in_period": len(cases),
        "active_cases_end": int(cases["active_at_end"].sum()),
        "case_days": case_days,
        "fte_days": fte_days,
        "avg_caseload": case_days / fte_days if fte_days > 0 else np.nan,
    }


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def reentry_lineage(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """The closed cases the re-entry and relapse figures rest on, with their delivery. A
    provider's rows carry only the events of its own records (read.reentry_cases): what
    another provider recorded reaches it as a suppressed aggregate only."""
    rows = reentry_cases(source, viewer, filters)
    with source.read() as con:
        return _with_delivery(con, viewer, rows, "cases")


def reentry_counts(rows: pd.DataFrame, event: str, window: int, *, events: bool = True) -> dict:
    """The counts of one event and window recounted from the closed cases (window_masks: the
    definition the rates use). `events=False` (a provider): only what rests on its own records,
    the closed cases and those followed up long enough."""
    masks = window_masks(rows, event, window)
    out = {"closed_cases": len(rows), "eligible": int(masks["eligible"].sum())}
    if events:
        out["events_observed"] = int(masks["observed"].sum())
        out["km_at_risk"] = int(masks["at_risk"].sum())
    return out


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def theme_lineage(
    source: Source, viewer: Viewer, filters: Filters, *, theme_id: str = ""
) -> pd.DataFrame:
    """Every case of a theme (mart.theme_cases: what its case counts count), with its
    delivery; a provider's own cases only."""
    params: list = [theme_id]
    own = ""
    if viewer.role == "traeger":
        own, params = " AND provider_id = ?", [theme_id, viewer.provider]
    with source.read() as con:
        if not has_table(con, "mart", "theme_cases"):
            return pd.DataFrame()
        rows = con.execute(
            f"""SELECT theme_id, provider_id, case_id, region_code, first_noted, last_noted,
                       in_prev, in_recent
                FROM mart.theme_cases WHERE theme_id = ?{own}
                ORDER BY provider_id, case_id""",
            params,
        ).df()
        return _with_delivery(con, viewer, rows, "cases")


def theme_counts(rows: pd.DataFrame) -> dict[str, int]:
    return {
        "cases": len(rows),
        "providers": int(rows["provider_id"].nunique()),
        "cases_prev": int(rows["in_prev"].astype(bool).sum()),
        "cases_recent": int(rows["in_recent"].astype(bool).sum()),
    }
