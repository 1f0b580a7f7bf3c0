"""Lineage ("Wie entsteht diese Zahl?"): the rows a published figure counts, each with the
delivery it came from (issue 14). Case level, so koordination, evaluation and a provider for
its own cases only (the viewer's scope); never a funder. The rows come from the same
definition as the figure (transforms), so their counts are the figure."""

from __future__ import annotations

import pandas as pd

from dashboards.read.gate import CASE_LEVEL_ROLES, query
from dashboards.read.scope import Filters, Source, Viewer, rollup_filters
from transforms.gaps import gap_goals
from transforms.process import COUNTS as PROCESS_CONDITIONS


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


@query(roles=CASE_LEVEL_ROLES)
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
