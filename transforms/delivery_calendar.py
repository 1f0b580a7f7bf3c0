"""The delivery calendar (issue 13): which snapshot each provider owes, when, and whether it came.

A provider delivers a full snapshot every `months` months (Settings.delivery_cadence,
quarterly by default), periods aligned to the calendar year; the snapshot for a period is due
`due_day` days after the period's end. A period's delivery is the earliest delivery of the
provider (quarantined and duplicate ones do not count) whose snapshot date lies in the period
after it — on or after the period's end, before the next period's end. It is on time when it
was received by the due date; days late count from the due date. Expected are the periods
from the one before the provider's first snapshot up to the last one due by the reference
date (`today`). A provider is `veraltet` (stale) when the last period that is due ended after
its current snapshot: the figures rest on an older state than the calendar asks for.

Computed on read (it depends on the day it is looked at), from audit.deliveries of the
published copy; one implementation for the dashboard, the report and the command line.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from kernel.settings import Settings

CALENDAR_SQL = """
with
deliveries as (
  select provider_id, snapshot_on, received_at::DATE as received_on,
         len(current_tables) > 0 as is_current
  from audit.deliveries
  where provider_id is not null and status not in ('quarantined', 'duplicate')
),

cadence as (
  select * from delivery_cadence
),

providers as (
  select d.provider_id, min(d.snapshot_on) as first_snapshot_on,
         max(d.snapshot_on) filter (where d.is_current) as current_snapshot_on,
         any_value(c.months)::INTEGER as months, any_value(c.due_day)::INTEGER as due_day
  from deliveries as d
  inner join cadence as c on c.provider_id = d.provider_id
  group by d.provider_id
),

starts as (
  select provider_id, months, due_day, current_snapshot_on,
         make_date(year(first_snapshot_on),
                   ((month(first_snapshot_on) - 1) // months) * months + 1, 1)
           - to_months(months) as first_start
  from providers
),

periods as (
  select s.provider_id, s.months, s.due_day, s.current_snapshot_on, g.period_start::DATE
    as period_start
  from starts as s,
       unnest(generate_series(s.first_start::TIMESTAMP, $today::TIMESTAMP,
                              to_months(s.months))) as g(period_start)
),

bounds as (
  select *,
         (period_start + to_months(months) - interval 1 day)::DATE as period_end,
         (period_start + to_months(2 * months) - interval 1 day)::DATE as next_end
  from periods
),

due as (
  select *, (period_end + due_day::INTEGER)::DATE as due_on
  from bounds
  where (period_end + due_day::INTEGER)::DATE <= $today
),

matched as (
  select u.provider_id, u.period_start, u.period_end, u.due_on, u.months,
         u.current_snapshot_on,
         min(d.received_on) as received_on
  from due as u
  left join deliveries as d
    on d.provider_id = u.provider_id and d.snapshot_on >= u.period_end
   and d.snapshot_on < u.next_end
  group by all
),

final as (
  select
    provider_id,
    case when months = 3
         then year(period_end)::VARCHAR || '-Q' || quarter(period_end)::VARCHAR
         else strftime(period_end, '%Y-%m') end as period,
    period_end,
    due_on,
    received_on,
    received_on is not null as received,
    received_on is not null and received_on <= due_on as on_time,
    case when received_on is not null then greatest((received_on - due_on)::INTEGER, 0)
         else ($today - due_on)::INTEGER end as days_late,
    current_snapshot_on
  from matched
)

select * from final order by provider_id, period_end
"""


def cadence_frame(settings: Settings, providers: list[str]) -> pd.DataFrame:
    rows = [(p, *settings.cadence(p)) for p in providers]
    return pd.DataFrame(rows, columns=["provider_id", "months", "due_day"]).astype(
        {"months": "int64", "due_day": "int64"}
    )


def _providers(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT provider_id FROM audit.deliveries WHERE provider_id IS NOT NULL"
        ).fetchall()
    ]


def delivery_calendar(
    con: duckdb.DuckDBPyConnection, settings: Settings, today: date
) -> pd.DataFrame:
    """One row per provider and expected period: due date, received, on time, days late."""
    con.register("delivery_cadence", cadence_frame(settings, _providers(con)))
    try:
        return con.execute(CALENDAR_SQL, {"today": today}).df()
    finally:
        con.unregister("delivery_cadence")


def calendar_summary(calendar: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per provider: expected, received, on time, on-time rate, most days late, current
    snapshot and whether it is stale (the last due period ended after it)."""
    cols = ["provider_id", "expected", "received", "on_time", "on_time_rate", "max_days_late",
            "current_snapshot_on", "last_due_period", "stale"]  # fmt: skip
    if calendar.empty:
        return pd.DataFrame(columns=cols)
    g = calendar.sort_values("period_end").groupby("provider_id", sort=True)
    out = g.agg(
        expected=("period", "size"),
        received=("received", "sum"),
        on_time=("on_time", "sum"),
        max_days_late=("days_late", "max"),
        current_snapshot_on=("current_snapshot_on", "last"),
        last_due_period=("period", "last"),
        last_due_end=("period_end", "last"),
    ).reset_index()
    out["on_time_rate"] = out["on_time"] / out["expected"]
    snap = pd.to_datetime(out["current_snapshot_on"])
    out["stale"] = snap.isna() | (pd.to_datetime(out["last_due_end"]) > snap)
    return out[cols]
