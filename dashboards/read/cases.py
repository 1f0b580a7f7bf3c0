"""Case level (pseudonymous): mart.cases rows for case reconstruction and evaluation."""

from __future__ import annotations

import pandas as pd

from dashboards.read.gate import CASE_LEVEL_ROLES, query
from dashboards.read.lineage import delivery_name
from dashboards.read.scope import Filters, Source, Viewer, span_dates, where


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def cases(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """mart.cases rows active in the span, each with the delivery it came from — koordination,
    evaluation, own cases for a provider; never funders. They are the cases the caseload's
    "Fälle im Zeitraum" counts (the lineage of that figure; tests/dashboards/test_lineage.py)."""
    cond, params = where(viewer, filters)
    with source.read() as con:
        start, end = span_dates(con, filters)
        return con.execute(
            f"""SELECT c.*, d.delivery, d.snapshot_on AS delivery_snapshot_on
                FROM mart.cases c LEFT JOIN (
                  SELECT provider_id, {delivery_name(viewer)} AS delivery, snapshot_on
                  FROM audit.deliveries
                  WHERE list_contains(current_tables, 'cases')) d USING (provider_id)
                WHERE {cond} AND opened_on <= ?::DATE
                AND (closed_on IS NULL OR closed_on >= ?::DATE)
                ORDER BY provider_id, case_id""",
            [*params, end, start],
        ).df()
