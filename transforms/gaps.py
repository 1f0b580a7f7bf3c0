"""Supply gaps, referral waits and structural closures over any span of quarters and grouping:
the one definition of these figures.

Distinct counts (`cases_with_gap`) and quantiles (median and 90th percentile wait) cannot be
summed from quarter rows, so every figure is computed from the row-level marts (`mart.goals`,
`mart.referrals`, `mart.cases`). The quarter marts `mart.supply_gaps`, `mart.referral_waits`
and `mart.structural_closures` are these same queries at their stored grain (`MARTS`, built by
transforms/runner.py); dashboards and reports call the functions for any other span.

    from transforms.gaps import supply_gaps, referral_waits, structural_closures
    supply_gaps(con, "2025-Q1", "2025-Q4", group_by=["domain"])
    referral_waits(con, "2025-Q3", "2025-Q3", group_by=["service_type"], filters={"program": "kim"})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from transforms.periods import selection

GAP_COLUMNS = ("provider_id", "program", "region_code", "intensity", "domain")
WAIT_COLUMNS = ("provider_id", "program", "region_code", "intensity", "service_type")
CLOSURE_COLUMNS = ("provider_id", "program", "region_code", "intensity")
# outcomes that end a referral without a start: such a referral no longer waits
NOT_WAITING = ("abgelehnt", "kein_angebot", "nicht_wahrgenommen")


def _frame(con, sql: str, params: list[Any]) -> pd.DataFrame:
    return con.execute(sql, params).df()


def supply_gaps(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = ("domain",),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Goals set in the span, those without a suitable offer, the rate, distinct cases with
    such a goal. group_by / filters: provider_id, program, region_code, intensity, domain
    (and "period" in group_by for one row per quarter)."""
    sql, params = _supply_gaps_sql(
        selection(period_from, period_to, group_by, filters, GAP_COLUMNS)
    )
    return _frame(con, sql, params)


def _goals_in_span_sql(sel) -> str:
    """The goal rows a supply-gap figure counts: each goal set in a quarter of the span, with
    the span's bucket. The figures below are counts over exactly these rows; `gap_goals`
    lists them (lineage: "Wie entsteht diese Zahl?")."""
    return f"""
      select
        b.bucket as period,
        b.period_from,
        b.period_to,
        b.bucket_partial as partial,
        r.* exclude (period),
        r.period as quarter
      from mart.goals as r
      inner join buckets as b
        on r.period = b.period
      where {sel.where}"""


def _supply_gaps_sql(sel) -> tuple[str, list[Any]]:
    g = "".join(f"{c}, " for c in sel.group_cols)
    keys = ["period", *sel.group_cols]
    same = " and ".join(f"c.{c} is not distinct from w.{c}" for c in keys)
    # The rows are those of `_goals_in_span_sql`, but not joined to their bucket one by one:
    # the goal counts add up, so they are counted per quarter first and summed per bucket; the
    # distinct-case count (which does not add up) reads only the rows without an offer, as
    # distinct (bucket, group, case) rows counted per group. DuckDB evaluates a FILTERed
    # count(distinct …) over every row, and copying the bucket's labels onto every goal row
    # cost as much as counting it (10,000,000 cases, network by domain: 1.6 → 1.1 s).
    sql = f"""
    with
    {sel.buckets_cte},

    quarter_counts as (
      select
        r.period as quarter,
        {g}
        count(*) as goals_set,
        count(*) filter (where not r.offer_available) as goals_without_offer
      from mart.goals as r
      where r.period in (select period from buckets) and {sel.where}
      group by all
    ),

    counted as (
      select
        b.bucket as period,
        b.period_from,
        b.period_to,
        b.bucket_partial as partial,
        {g}
        sum(q.goals_set)::INTEGER as goals_set,
        sum(q.goals_without_offer)::INTEGER as goals_without_offer
      from quarter_counts as q
      inner join buckets as b
        on q.quarter = b.period
      group by all
    ),

    gap_cases as (
      select distinct b.bucket as period, {g} r.provider_id as gap_provider, r.case_id as gap_case
      from mart.goals as r
      inner join buckets as b
        on r.period = b.period
      where not r.offer_available and {sel.where}
    ),

    with_gap as (
      select period, {g} count(*)::INTEGER as cases_with_gap
      from gap_cases
      group by all
    )

    select
      c.*,
      coalesce(w.cases_with_gap, 0)::INTEGER as cases_with_gap,
      c.goals_without_offer / nullif(c.goals_set, 0) as gap_rate
    from counted as c
    left join with_gap as w on {same}
    order by {", ".join(f"c.{c}" for c in keys)}
    """
    return sql, [*sel.bucket_params, *sel.where_params, *sel.where_params]


def gap_goals(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every goal counted by `supply_gaps` over the span with these filters (same rows, same
    definition): provider_id, case_id, goal_id, domain, quarter, set_on, offer_available."""
    sel = selection(period_from, period_to, [], filters, GAP_COLUMNS)
    sql = f"""
    with
    {sel.buckets_cte}
    select provider_id, case_id, goal_id, program, region_code, domain, quarter, set_on,
           offer_available
    from ({_goals_in_span_sql(sel)})
    order by provider_id, case_id, goal_id
    """
    return _frame(con, sql, [*sel.bucket_params, *sel.where_params])


def referral_waits(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = ("service_type",),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Referrals requested in the span (no offer, rejected), started in it (median, 90th
    percentile and mean wait in days, quantile_cont = linear interpolation), and those waiting
    at the span's last counted day. group_by / filters: provider_id, program, region_code,
    intensity, service_type (and "period" in group_by)."""
    sql, params = _referral_waits_sql(
        selection(period_from, period_to, group_by, filters, WAIT_COLUMNS)
    )
    return _frame(con, sql, params)


def _referral_rows_sql(sel, kind: str) -> str:
    """The referral rows a wait figure counts, with the span's bucket as `period`:
    "requested" (requested in the span: referrals, no offer, rejected), "started" (started in
    the span: the wait quantiles) or "waiting" (requested and not started by the span's last
    counted day, and not ended without a start). The figures are counts and quantiles over
    exactly these rows; `referral_rows` lists them (lineage)."""
    if kind == "requested":
        return f"""
      select b.bucket as period, r.*
      from mart.referrals as r
      inner join buckets as b
        on r.requested_period = b.period
      where {sel.where}"""
    if kind == "started":
        return f"""
      select b.bucket as period, r.*
      from mart.referrals as r
      inner join buckets as b
        on r.started_period = b.period
      where r.started_on is not null and {sel.where}"""
    if kind == "waiting":
        not_waiting = ", ".join(f"'{o}'" for o in NOT_WAITING)
        return f"""
      select s.bucket as period, r.*
      from mart.referrals as r
      inner join spans as s
        on r.requested_on <= s.bucket_end
        and coalesce(r.started_on, DATE '9999-12-31') > s.bucket_end
      where r.outcome not in ({not_waiting}) and {sel.where}"""
    raise ValueError(f"unknown referral row set {kind!r}")


def referral_rows(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every referral `referral_waits` counts over the span with these filters (same rows,
    same definition), once, with the row sets it is in: `requested_in_span`,
    `started_in_span`, `waiting_at_end`."""
    sel = selection(period_from, period_to, [], filters, WAIT_COLUMNS)
    kinds = {"requested": "requested_in_span", "started": "started_in_span"}
    kinds["waiting"] = "waiting_at_end"
    union = " union all ".join(
        f"select '{kind}' as kind, * from ({_referral_rows_sql(sel, kind)})" for kind in kinds
    )
    flags = ", ".join(f"bool_or(kind = '{kind}') as {name}" for kind, name in kinds.items())
    sql = f"""
    with
    {sel.buckets_cte},

    spans as (
      select distinct bucket, period_from, period_to, bucket_end, bucket_partial from buckets
    )

    select provider_id, case_id, referral_id, program, region_code, service_type,
           requested_on, started_on, outcome, wait_days, {flags}
    from ({union})
    group by all
    order by provider_id, case_id, referral_id
    """
    return _frame(con, sql, [*sel.bucket_params, *sel.where_params * 3])


def wait_quantiles(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = ("service_type",),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Only the started referrals of `referral_waits` (started, median, 90th percentile and
    mean wait), same rows and definition: for the grid's wait quantiles, without the
    costly "waiting at the span's end" (1,000,000 cases: 119 ms → 28 ms per roll-up)."""
    sel = selection(period_from, period_to, group_by, filters, WAIT_COLUMNS)
    keys = ", ".join(["period", *sel.group_cols])
    sql = f"with {sel.buckets_cte} {_started_sql(sel)} order by {keys}"
    return _frame(con, sql, [*sel.bucket_params, *sel.where_params])


def _started_sql(sel) -> str:
    """Referrals started in the span: how many, and their waits (the one definition)."""
    g = "".join(f"r.{c}, " for c in sel.group_cols)
    return f"""
      select
        r.period,
        {g}
        count(*)::INTEGER as started,
        quantile_cont(r.wait_days::DOUBLE, 0.5) as wait_days_median,
        quantile_cont(r.wait_days::DOUBLE, 0.9) as wait_days_p90,
        avg(r.wait_days::DOUBLE) as wait_days_mean
      from ({_referral_rows_sql(sel, "started")}) as r
      group by all
    """


def _referral_waits_sql(sel) -> tuple[str, list[Any]]:
    g = "".join(f"r.{c}, " for c in sel.group_cols)
    keys = ["period", *sel.group_cols]

    def on(a: str, b: str) -> str:
        return " and ".join(f"{a}.{k} is not distinct from {b}.{k}" for k in keys)

    sql = f"""
    with
    {sel.buckets_cte},

    spans as (
      select distinct bucket, period_from, period_to, bucket_end, bucket_partial from buckets
    ),

    requested as (
      select
        r.period,
        {g}
        count(*)::INTEGER as referrals,
        count(*) filter (where r.outcome = 'kein_angebot')::INTEGER as no_offer,
        count(*) filter (where r.outcome = 'abgelehnt')::INTEGER as rejected
      from ({_referral_rows_sql(sel, "requested")}) as r
      group by all
    ),

    started as ({_started_sql(sel)}),

    waiting as (
      select
        r.period,
        {g}
        count(*)::INTEGER as waiting_at_end
      from ({_referral_rows_sql(sel, "waiting")}) as r
      group by all
    ),

    keys as (
      select {", ".join(keys)} from requested
      union
      select {", ".join(keys)} from started
      union
      select {", ".join(keys)} from waiting
    )

    select
      k.period,
      s.period_from,
      s.period_to,
      s.bucket_partial as partial,
      {"".join(f"k.{c}, " for c in sel.group_cols)}
      coalesce(q.referrals, 0)::INTEGER as referrals,
      coalesce(q.no_offer, 0)::INTEGER as no_offer,
      coalesce(q.rejected, 0)::INTEGER as rejected,
      coalesce(t.started, 0)::INTEGER as started,
      t.wait_days_median,
      t.wait_days_p90,
      t.wait_days_mean,
      coalesce(w.waiting_at_end, 0)::INTEGER as waiting_at_end
    from keys as k
    inner join spans as s
      on k.period = s.bucket
    left join requested as q
      on {on("k", "q")}
    left join started as t
      on {on("k", "t")}
    left join waiting as w
      on {on("k", "w")}
    order by {", ".join(f"k.{c}" for c in keys)}
    """
    # the filter clause appears three times (requested, started, waiting)
    return sql, [*sel.bucket_params, *sel.where_params * 3]


def structural_closures(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Cases closed in the span and those closed for structural reasons
    (close_reason = strukturelle_hindernisse), with their share of all closures."""
    sql, params = _structural_closures_sql(
        selection(period_from, period_to, group_by, filters, CLOSURE_COLUMNS)
    )
    return _frame(con, sql, params)


STRUCTURAL = "r.close_reason = 'strukturelle_hindernisse'"


def _closed_in_span_sql(sel) -> str:
    """The cases a closure figure counts: each case closed on a counted day of the span, with
    the span's bucket (`closed_cases` lists them: lineage)."""
    return f"""
      select
        b.bucket as period,
        b.period_from,
        b.period_to,
        b.bucket_partial as partial,
        b.period as quarter,
        r.*
      from mart.cases as r
      inner join buckets as b
        on r.closed_on between b.period_start and b.counted_until
      where {sel.where}"""


def closed_cases(
    con: duckdb.DuckDBPyConnection,
    period_from: str | None = None,
    period_to: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every case `structural_closures` counts over the span with these filters, with its
    quarter of closure and whether the closure counts as structural."""
    sel = selection(period_from, period_to, [], filters, CLOSURE_COLUMNS)
    sql = f"""
    with
    {sel.buckets_cte}
    select provider_id, case_id, program, region_code, quarter, opened_on, closed_on,
           close_reason, {STRUCTURAL} as structural
    from ({_closed_in_span_sql(sel)}) as r
    order by provider_id, case_id
    """
    return _frame(con, sql, [*sel.bucket_params, *sel.where_params])


def _structural_closures_sql(sel) -> tuple[str, list[Any]]:
    g = "".join(f"r.{c}, " for c in sel.group_cols)
    order = ", ".join(["period", *sel.group_cols])
    sql = f"""
    with
    {sel.buckets_cte},

    aggregated as (
      select
        r.period,
        r.period_from,
        r.period_to,
        r.partial,
        {g}
        count(*)::INTEGER as closures,
        count(*) filter (where {STRUCTURAL})::INTEGER as structural_closures
      from ({_closed_in_span_sql(sel)}) as r
      group by all
    )

    select *, structural_closures / nullif(closures, 0) as structural_share
    from aggregated
    order by {order}
    """
    return sql, [*sel.bucket_params, *sel.where_params]


# ---------------------------------------------------------------------------------------------
# the quarter marts: the same queries, every quarter, at the stored grain


@dataclass(frozen=True)
class QuarterMart:
    name: str
    description: str
    sql: str


def _quarter_mart(
    name: str, description: str, build, grain: tuple[str, ...], allowed
) -> QuarterMart:
    body, params = build(selection(None, None, ["period", *grain], None, allowed))
    assert not params, "a quarter mart has no parameters"
    keys = ", ".join(grain)
    # a provider's rows come from its own rows and the calendar (transforms/runner.py)
    partitioned = "-- partitioned: provider_id\n" if "provider_id" in grain else ""
    sql = f"""{partitioned}
with
figures as ({body}),

final as (
  select
    f.period,
    p.period_start,
    p.period_end,
    f.partial,
    f.* exclude (period, period_from, period_to, partial)
  from figures as f
  inner join mart.periods as p
    on f.period = p.period
)

select * from final order by period, {keys}
"""
    return QuarterMart(name, description, sql)


MARTS = (
    _quarter_mart(
        "supply_gaps",
        "Supply gaps per quarter x provider x program x region x domain (transforms/gaps.py).",
        _supply_gaps_sql,
        ("provider_id", "program", "region_code", "domain"),
        GAP_COLUMNS,
    ),
    _quarter_mart(
        "referral_waits",
        "Referral waits per quarter x provider x program x region x service type"
        " (transforms/gaps.py).",
        _referral_waits_sql,
        ("provider_id", "program", "region_code", "service_type"),
        WAIT_COLUMNS,
    ),
    _quarter_mart(
        "structural_closures",
        "Closures and structural closures per quarter x provider x program x region"
        " (transforms/gaps.py).",
        _structural_closures_sql,
        ("provider_id", "program", "region_code"),
        CLOSURE_COLUMNS,
    ),
)
