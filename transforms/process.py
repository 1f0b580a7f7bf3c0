"""Process quality (Regelkreis-Treue) over any span of quarters and grouping: the flags of
`mart.cases` counted over the cases active in the span (metrics.md, "Process quality").

    from transforms.process import process_counts
    process_counts(con, "2026-Q1", "2026-Q2", group_by=["provider_id"])
    process_counts(con, group_by=["half", "program"])   # one row per half-year and programme

`case_classes` counts the same active cases by their flag combination, the finest grain the
counts are sums of (the publication grid protects them together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from transforms.periods import selection

GROUP_COLUMNS = ("provider_id", "program", "region_code", "intensity")

# count -> SQL over one active case row `r` (each count a sum of these per-case terms)
COUNTS = {
    "cm_cases": "r.intensity = 'case_management'",
    "with_assessment": "r.has_assessment",
    "with_plan": "r.has_plan",
    "with_review": "r.has_review",
    "closed_cm": "r.has_evaluation is not null",
    "with_evaluation": "r.has_evaluation",
    "with_close_reason": "r.close_reason_given",
    "open_cases": "r.review_due is not null",
    "review_due": "r.review_due",
    "close_overdue": "r.close_overdue",
    "followup_base": "r.followup_missing is not null",
    "followup_missing": "r.followup_missing",
}
# the flags a case is classified by: each count above is a margin of these classes
CLASS_FLAGS = {
    "cm": "r.intensity = 'case_management'",
    "assessment": "r.has_assessment",
    "plan": "r.has_plan",
    "review": "r.has_review",
    "closed_cm": "r.has_evaluation is not null",
    "evaluation": "r.has_evaluation",
    "close_reason": "r.close_reason_given",
    "open": "r.review_due is not null",
    "due": "r.review_due",
    "overdue": "r.close_overdue",
    "followup_base": "r.followup_missing is not null",
    "followup_missing": "r.followup_missing",
}


def _active_sql(sel, select: str) -> str:
    return f"""
    with
    {sel.buckets_cte},

    spans as (
      select distinct bucket, bucket_start, bucket_end, bucket_partial from buckets
    )

    select s.bucket as period, s.bucket_partial as partial,
      {"".join(f"r.{c}, " for c in sel.group_cols)}
      {select}
    from mart.cases as r
    inner join spans as s
      on r.opened_on <= s.bucket_end and coalesce(r.closed_on, s.bucket_end) >= s.bucket_start
    where {sel.where}
    group by all
    order by all
    """


def process_counts(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = ("provider_id",),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The process-quality counts of the cases active in the span, per group."""
    sel = selection(period_from, period_to, group_by, filters, GROUP_COLUMNS)
    select = ",\n      ".join(
        f"count(*) filter (where {cond})::INTEGER as {name}" for name, cond in COUNTS.items()
    )
    return con.execute(_active_sql(sel, select), [*sel.bucket_params, *sel.where_params]).df()


def case_classes(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = ("provider_id",),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Active cases per group and flag combination: one column per flag of CLASS_FLAGS with
    'ja', 'nein' or 'na' (not applicable), and `cases`."""
    sel = selection(period_from, period_to, group_by, filters, GROUP_COLUMNS)
    flags = "".join(
        f"case when {cond} then 'ja' when ({cond}) is null then 'na' else 'nein' end as {name}, "
        for name, cond in CLASS_FLAGS.items()
    )
    select = f"{flags}count(*)::INTEGER as cases"
    return con.execute(_active_sql(sel, select), [*sel.bucket_params, *sel.where_params]).df()
