"""Caseload per FTE over any span of quarters and any grouping, from the additive columns.

The one roll-up dashboards and reports call; it never averages ratios:

    from transforms.caseload import rollup
    rollup(con, "2025-Q1", "2025-Q4", group_by=["provider_id"])           # a year per provider
    rollup(con, "2025-Q1", "2025-Q2", group_by=[], filters={"program": "kim"})  # one program
    rollup(con, group_by=["period", "provider_id"], scope="case_management")    # per quarter

Over a span of quarters (metrics.md, "Caseload per FTE"):

- `days`, `case_days`, `fte_days`, `cases_opened`, `cases_closed`: sums (additive);
- `active_cases_end`, `fte_end`: those of the span's last quarter (Stichtag);
- `cases_in_period` (cases active on at least one day of the span) = cases carried over into
  the span's first quarter + cases opened in the span: exact without counting a case twice;
- `avg_caseload` = case_days / fte_days, `caseload_end` = active_cases_end / fte_end,
  `throughput_per_fte` = cases_in_period / (fte_days / days), NULL where the denominator is 0;
- `fte_missing`: cases but no FTE in the rolled-up group (a data gap, never divided by zero);
  `fte_missing_rows`: how many underlying quarter rows had cases but no FTE — a roll-up
  over groups that mixes such rows with staffed ones overstates the caseload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from transforms.periods import selection

GROUP_COLUMNS = ("provider_id", "program", "region_code")
SCOPES = ("alle", "case_management")


def rollup(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = GROUP_COLUMNS,
    filters: Mapping[str, Any] | None = None,
    scope: str = "alle",
    by_caseworker: bool = False,
) -> pd.DataFrame:
    """Caseload per FTE for the quarters period_from..period_to (default: all).

    group_by: any of provider_id, program, region_code (and caseworker_id with
    by_caseworker=True), plus "period" for one row per quarter. filters: {column: value or
    list of values} on the same columns. scope: "alle" or "case_management".
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    table = "mart.caseload_by_caseworker" if by_caseworker else "mart.caseload"
    allowed = (*GROUP_COLUMNS, "caseworker_id") if by_caseworker else GROUP_COLUMNS
    sel = selection(period_from, period_to, group_by, filters, allowed)
    groups = "".join(f"r.{c}, " for c in sel.group_cols)
    out_groups = "".join(f"{c}, " for c in sel.group_cols)
    order = ", ".join(["period", *sel.group_cols])
    sql = f"""
    with
    {sel.buckets_cte},

    rows as (
      select * from {table} as r
      where r.scope = ? and {sel.where}
    ),

    joined as (
      select
        b.bucket as period,
        b.period_from,
        b.period_to,
        b.bucket_days as days,
        b.bucket_partial as partial,
        {groups}
        r.period = b.period_from as is_first,
        r.period = b.period_to as is_last,
        r.case_days,
        r.fte_days,
        r.active_cases_end,
        r.fte_end,
        r.cases_carried_over,
        r.cases_opened,
        r.cases_closed,
        r.fte_missing
      from rows as r
      inner join buckets as b
        on r.period = b.period
    ),

    summed as (
      select
        period,
        period_from,
        period_to,
        days,
        partial,
        {out_groups}
        sum(case_days)::DOUBLE as case_days,
        sum(fte_days)::DOUBLE as fte_days,
        coalesce(sum(active_cases_end) filter (where is_last), 0)::INTEGER
          as active_cases_end,
        coalesce(sum(fte_end) filter (where is_last), 0)::DOUBLE as fte_end,
        (coalesce(sum(cases_carried_over) filter (where is_first), 0)
          + sum(cases_opened))::INTEGER as cases_in_period,
        sum(cases_opened)::INTEGER as cases_opened,
        sum(cases_closed)::INTEGER as cases_closed,
        count(*) filter (where fte_missing)::INTEGER as fte_missing_rows
      from joined
      group by all
    )

    select
      period,
      period_from,
      period_to,
      days::INTEGER as days,
      partial,
      {out_groups}
      ? as scope,
      case_days,
      fte_days,
      active_cases_end,
      fte_end,
      cases_in_period,
      cases_opened,
      cases_closed,
      case_days / nullif(fte_days, 0) as avg_caseload,
      active_cases_end / nullif(fte_end, 0) as caseload_end,
      cases_in_period / nullif(fte_days / days, 0) as throughput_per_fte,
      case_days > 0 and fte_days = 0 as fte_missing,
      fte_missing_rows
    from summed
    order by {order}
    """
    params = [*sel.bucket_params, scope, *sel.where_params, scope]
    return con.execute(sql, params).df()


def caseload_rows(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    filters: Mapping[str, Any] | None = None,
    scope: str = "alle",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows the caseload of one span is made of (lineage, "Wie entsteht diese Zahl?"):

    - cases: every case active on a counted day of the span, with `active_days` (its days in
      the span: their sum is `case_days`) and `active_at_end` (counted in `active_cases_end`);
      the same interval overlap as mart.caseload_by_caseworker, over the span at once;
    - staffing: per caseworker, `fte_days` and `fte_end` of the span from
      mart.caseload_by_caseworker (their sums are the figure's `fte_days` and `fte_end`).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    sel = selection(period_from, period_to, [], filters, GROUP_COLUMNS)
    in_scope = "r.intensity = 'case_management'" if scope == "case_management" else "true"
    cases = con.execute(
        f"""
        with
        {sel.buckets_cte},
        span as (
          select min(bucket_start) as span_start, max(bucket_end) as span_end from buckets
        ),
        data as (select max(counted_until) as as_of from mart.periods),
        active as (
          select r.*, coalesce(r.closed_on, d.as_of) as active_until, s.*
          from mart.cases as r, span as s, data as d
          where {sel.where} and {in_scope}
        )
        select provider_id, case_id, program, region_code, caseworker_id, intensity,
          opened_on, closed_on,
          (least(active_until, span_end) - greatest(opened_on, span_start) + 1)::INTEGER
            as active_days,
          active_until >= span_end as active_at_end
        from active as r
        where opened_on <= span_end and active_until >= span_start
        order by provider_id, case_id
        """,
        [*sel.bucket_params, *sel.where_params],
    ).df()
    staffing = con.execute(
        f"""
        with
        {sel.buckets_cte}
        select r.provider_id, r.program, r.region_code, r.caseworker_id,
          sum(r.fte_days)::DOUBLE as fte_days,
          coalesce(sum(r.fte_end) filter (where r.period = b.period_to), 0)::DOUBLE as fte_end
        from mart.caseload_by_caseworker as r
        inner join buckets as b
          on r.period = b.period
        where r.scope = ? and {sel.where}
        group by all
        having sum(r.fte_days) > 0
        order by all
        """,
        [*sel.bucket_params, scope, *sel.where_params],
    ).df()
    return cases, staffing
