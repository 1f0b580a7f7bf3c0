"""Period selection and filters shared by the roll-up functions (caseload, gaps).

A roll-up covers the quarters `period_from`..`period_to` of `mart.periods`, either as one
bucket (the whole range: any span) or one bucket per quarter, half-year or year (`"period"`,
`"half"` or `"year"` in `group_by`; the result's `period` column holds `YYYY-Qn`, `YYYY-Hn` or
`YYYY`). Filters are `{column: value or [values]}`, always passed as query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_PERIOD = re.compile(r"^\d{4}-Q[1-4]$")
# group_by level -> the bucket label of a quarter `period` (YYYY-Qn): one row per quarter, per
# half-year (YYYY-H1/H2) or per year (YYYY); the result column is called `period` either way
PERIOD_LEVELS = {
    "period": "period",
    "half": "left(period, 4) || '-H' || (CASE WHEN right(period, 1) <= '2' THEN 1 ELSE 2 END)",
    "year": "left(period, 4)",
}


@dataclass(frozen=True)
class Selection:
    """SQL pieces for a roll-up: the `buckets` CTE, the filter clause and their parameters."""

    buckets_cte: str
    bucket_params: list[Any]
    where: str
    where_params: list[Any]
    group_cols: list[str]  # group_by without "period"
    by_period: bool


def selection(
    period_from: str | None,
    period_to: str | None,
    group_by: Sequence[str],
    filters: Mapping[str, Any] | None,
    allowed: Iterable[str],
) -> Selection:
    allowed = set(allowed)
    group_by = list(group_by)
    levels = [c for c in group_by if c in PERIOD_LEVELS]
    unknown = [c for c in [*group_by, *(filters or {})] if c not in allowed | set(PERIOD_LEVELS)]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    if len(levels) > 1:
        raise ValueError("group by one period level: period, half or year")
    for p in (period_from, period_to):
        if p is not None and not _PERIOD.match(p):
            raise ValueError(f"'{p}' ist kein Quartal im Format JJJJ-Qn")
    by_period = bool(levels)
    label = (
        PERIOD_LEVELS[levels[0]]
        if levels
        else (
            "case when min(period) over w = max(period) over w then min(period) over w"
            " else min(period) over w || '–' || max(period) over w end"
        )
    )
    partition = f"partition by {label}" if by_period else ""
    # an open end is the first / last reported quarter
    bounds = (
        " and ".join(
            [*(["period >= ?"] if period_from else []), *(["period <= ?"] if period_to else [])]
        )
        or "true"
    )
    bucket_params: list[Any] = [p for p in (period_from, period_to) if p]
    buckets_cte = f"""
    buckets as (
      select
        period,
        {label} as bucket,
        period_start,
        counted_until,
        days,
        min(period) over w as period_from,
        max(period) over w as period_to,
        min(period_start) over w as bucket_start,
        max(counted_until) over w as bucket_end,
        sum(days) over w as bucket_days,
        bool_or(partial) over w as bucket_partial
      from mart.periods
      where {bounds}
      window w as ({partition})
    )"""
    clauses, params = [], []
    for column, value in (filters or {}).items():
        if column == "period":
            raise ValueError("filter periods with period_from / period_to")
        if isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
            if not values:
                clauses.append("false")
                continue
            clauses.append(f"r.{column} in ({', '.join('?' for _ in values)})")
            params.extend(values)
        else:
            clauses.append(f"r.{column} = ?")
            params.append(value)
    where = " and ".join(clauses) if clauses else "true"
    return Selection(
        buckets_cte=buckets_cte,
        bucket_params=bucket_params,
        where=where,
        where_params=params,
        group_cols=[c for c in group_by if c not in PERIOD_LEVELS],
        by_period=by_period,
    )
