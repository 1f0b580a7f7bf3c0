"""The delivery calendar (transforms/delivery_calendar.py): expected vs received per period,
days late, on-time rate, stale providers; cadence per provider from the settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kernel.settings import Settings
from transforms.delivery_calendar import calendar_summary, delivery_calendar

TODAY = date(2026, 11, 1)


def delivery(con, did, pid, snapshot, received, status="accepted", current=True):
    con.execute(
        "INSERT INTO audit.deliveries VALUES (?, ?, ?, 'x', ?, ?, NULL, ?, 'csv', ['cases'], ?,"
        " ?, 1, 1, 0, NULL, 'r')",
        [did, pid, did, received, received, snapshot, ["cases"] if current else [], status],
    )


def test_expected_received_late_and_stale(staging_con):
    con = staging_con
    # p1: Q1 on time, Q2 ten days late, Q3 on time (current)
    delivery(con, "a1", "p1", "2026-04-02", "2026-04-10", "superseded", False)
    delivery(con, "a2", "p1", "2026-07-05", "2026-07-25", "superseded", False)
    delivery(con, "a3", "p1", "2026-10-01", "2026-10-14")
    # p2: only Q1, nothing since: Q2 and Q3 missing, stale
    delivery(con, "b1", "p2", "2026-04-01", "2026-04-03")
    # p3: quarantined Q3 does not count
    delivery(con, "c1", "p3", "2026-07-01", "2026-07-02")
    delivery(con, "c2", "p3", "2026-10-02", "2026-10-03", "quarantined", False)
    settings = Settings(workspace=Path("."))
    cal = delivery_calendar(con, settings, TODAY)
    p1 = cal[cal.provider_id == "p1"]
    assert list(p1.period) == ["2026-Q1", "2026-Q2", "2026-Q3"]
    assert list(p1.days_late) == [0, 10, 0] and list(p1.on_time) == [True, False, True]
    p2 = cal[cal.provider_id == "p2"]
    assert list(p2.received) == [True, False, False]
    assert list(p2.days_late) == [0, 109, 17]  # missing: days since the due date
    summary = calendar_summary(cal, TODAY).set_index("provider_id")
    assert summary.loc["p1", "on_time_rate"] == 2 / 3 and not summary.loc["p1", "stale"]
    assert summary.loc["p2", "stale"] and summary.loc["p3", "stale"]
    assert summary.loc["p3", "expected"] == 2 and summary.loc["p3", "received"] == 1


def test_cadence_per_provider(staging_con):
    con = staging_con
    delivery(con, "m1", "p1", "2026-09-01", "2026-09-03")
    delivery(con, "m2", "p1", "2026-10-01", "2026-10-03")
    settings = Settings(
        workspace=Path("."),
        delivery_cadence={"providers": {"p1": {"months": 1, "due_day": 5}}},
    )
    cal = delivery_calendar(con, settings, TODAY)
    assert list(cal.period) == ["2026-08", "2026-09", "2026-10"][:2]
    assert list(cal.on_time) == [True, True]
