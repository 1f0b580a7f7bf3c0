"""mart.caseload, mart.caseload_by_caseworker and transforms.caseload.rollup on a hand-worked
fixture. Every expected number is worked out in the comments.

as_of = 2024-05-15, so the quarters are
  2023-Q4  2023-10-01..2023-12-31   92 days
  2024-Q1  2024-01-01..2024-03-31   91 days (leap year: 31 + 29 + 31)
  2024-Q2  2024-04-01..2024-05-15   45 days counted (30 + 15), partial

Group P1 / kim / 05111 (the first quarter with data is 2023-Q4, when case C opens):
  A  w1 case_management  2024-01-01..2024-02-15   Q1: 31 + 15 = 46 days, closed in Q1
  B  w1 information      2024-03-20..open         Q1: 12 days (20..31 Mar); Q2: 45 days
  C  w2 case_management  2023-12-01..2024-04-01   Q4: 31; Q1: 91; Q2: 1 day — closed on the
                                                   first day of a quarter: active that day,
                                                   counted in Q2, not active at Q2's end
  E  w2 information      2024-02-01..2024-06-30   closure after as_of = open at as_of;
                                                   Q1: 29 + 31 = 60; Q2: 45, active at end
  D  w2 case_management  opened 2024-05-20        after as_of: ignored
Staffing P1 / kim / 05111:
  w1 0.5 FTE (delivered as "0,5")  2023-01-01..open      Q4: 46; Q1: 45.5; Q2: 22.5
  w2 1.0 FTE                       2023-01-01..2024-02-29 (leaves mid-quarter)
                                                         Q4: 92; Q1: 60 (31 + 29); Q2: 0
  w3 0.75 FTE (delivered "0,75")   2024-03-01..open      Q1: 31 × 0.75 = 23.25; Q2: 33.75
Group P2 / jmd / 05315: case F w9 case_management 2024-01-10..open, no staffing at all
  Q1: 22 + 29 + 31 = 82 days; Q2: 45 days → flagged fte_missing, never divided by zero.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.marts_helpers import build, case, insert, one, rows
from transforms.caseload import caseload_rows, rollup

AS_OF = date(2024, 5, 15)


@pytest.fixture
def con(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "A", "2024-01-01", "2024-02-15", caseworker_id="w1"),
            case("P1", "B", "2024-03-20", caseworker_id="w1", intensity="information"),
            case("P1", "C", "2023-12-01", "2024-04-01", caseworker_id="w2"),
            case(
                "P1", "E", "2024-02-01", "2024-06-30", caseworker_id="w2", intensity="information"
            ),
            case("P1", "D", "2024-05-20", caseworker_id="w2"),
            case("P2", "F", "2024-01-10", program="jmd", region_code="05315", caseworker_id="w9"),
        ],
    )
    staff = {"provider_id": "P1", "program": "kim", "region_code": "05111"}
    insert(
        staging_con,
        "staffing",
        [
            {**staff, "caseworker_id": "w1", "valid_from": "2023-01-01", "fte": 0.5},
            {
                **staff,
                "caseworker_id": "w2",
                "valid_from": "2023-01-01",
                "valid_to": "2024-02-29",
                "fte": 1.0,
            },
            {**staff, "caseworker_id": "w3", "valid_from": "2024-03-01", "fte": 0.75},
        ],
    )
    build(staging_con, AS_OF)
    return staging_con


def group_row(con, period, scope="alle", provider="P1"):
    return one(
        con,
        "select * from mart.caseload where period = ? and scope = ? and provider_id = ?",
        [period, scope, provider],
    )


def test_periods_and_partial_quarter(con):
    got = rows(con, "select period, days, partial, counted_until from mart.periods order by 1")
    assert got == [
        {"period": "2023-Q4", "days": 92, "partial": False, "counted_until": date(2023, 12, 31)},
        {"period": "2024-Q1", "days": 91, "partial": False, "counted_until": date(2024, 3, 31)},
        # the quarter containing as_of: counted up to as_of and marked partial
        {"period": "2024-Q2", "days": 45, "partial": True, "counted_until": AS_OF},
    ]


def test_quarter_q4_only_case_c(con):
    r = group_row(con, "2023-Q4")
    assert r["days"] == 92
    assert r["case_days"] == 31  # C: 1..31 Dec
    assert r["fte_days"] == pytest.approx(0.5 * 92 + 1.0 * 92)  # 138
    assert (r["active_cases_end"], r["fte_end"], r["cases_in_period"]) == (1, 1.5, 1)


def test_quarter_q1_all_intensities(con):
    r = group_row(con, "2024-Q1")
    assert r["case_days"] == 46 + 12 + 91 + 60  # A + B + C + E = 209
    # w1 0.5 × 91 + w2 1.0 × 60 (until 29 Feb) + w3 0.75 × 31 (from 1 Mar)
    assert r["fte_days"] == pytest.approx(45.5 + 60 + 23.25)  # 128.75
    assert r["active_cases_end"] == 3  # B, C, E on 31 Mar
    assert r["fte_end"] == pytest.approx(0.5 + 0.75)  # w2 has left
    assert r["cases_in_period"] == 4  # A, B, C, E
    assert (r["cases_carried_over"], r["cases_opened"], r["cases_closed"]) == (1, 3, 1)
    assert r["avg_caseload"] == pytest.approx(209 / 128.75)
    assert r["caseload_end"] == pytest.approx(3 / 1.25)
    assert r["throughput_per_fte"] == pytest.approx(4 / (128.75 / 91))
    assert r["fte_missing"] is False


def test_quarter_q1_case_management_scope(con):
    r = group_row(con, "2024-Q1", scope="case_management")
    assert r["case_days"] == 46 + 91  # A + C only
    assert r["fte_days"] == pytest.approx(128.75)  # the same staff in both scopes
    assert (r["active_cases_end"], r["cases_in_period"]) == (1, 2)
    assert r["avg_caseload"] == pytest.approx(137 / 128.75)


def test_partial_quarter_and_closure_on_first_day(con):
    r = group_row(con, "2024-Q2")
    assert r["partial"] is True and r["days"] == 45
    # B 45 + C 1 (closed 1 Apr: active that day) + E 45 (closure after as_of: still open)
    assert r["case_days"] == 45 + 1 + 45
    assert r["fte_days"] == pytest.approx(0.5 * 45 + 0.75 * 45)  # 56.25
    assert r["active_cases_end"] == 2  # B and E on 15 May; C closed, D not yet opened
    assert r["cases_in_period"] == 3 and r["cases_carried_over"] == 3
    assert r["cases_closed"] == 1  # C; E's closure lies after as_of
    cm = group_row(con, "2024-Q2", scope="case_management")
    assert (cm["case_days"], cm["active_cases_end"], cm["cases_in_period"]) == (1, 0, 1)
    assert cm["caseload_end"] == 0


def test_cases_without_staff_are_flagged_not_divided(con):
    r = group_row(con, "2024-Q1", provider="P2")
    assert r["case_days"] == 82  # F: 10..31 Jan (22) + 29 + 31
    assert r["fte_days"] == 0 and r["fte_missing"] is True
    assert r["avg_caseload"] is None and r["caseload_end"] is None
    assert r["throughput_per_fte"] is None
    # the case-management scope row exists too, with the same flag
    assert group_row(con, "2024-Q1", "case_management", "P2")["fte_missing"] is True
    # no row before the group had cases or staff
    assert (
        rows(con, "select * from mart.caseload where provider_id = 'P2' and period = '2023-Q4'")
        == []
    )


def test_caseworker_view_staff_leaving_mid_quarter(con):
    def cw(period, worker):
        return one(
            con,
            "select * from mart.caseload_by_caseworker where period = ? and caseworker_id = ?"
            " and scope = 'alle'",
            [period, worker],
        )

    w2 = cw("2024-Q1", "w2")
    assert w2["case_days"] == 91 + 60  # C + E
    assert w2["fte_days"] == pytest.approx(60.0)
    assert (w2["active_cases_end"], w2["fte_end"]) == (2, 0)
    assert w2["caseload_end"] is None  # cases at the end, nobody left: no division
    assert w2["fte_missing"] is False  # there was staff during the quarter
    w2q2 = cw("2024-Q2", "w2")
    assert (w2q2["case_days"], w2q2["fte_days"], w2q2["fte_missing"]) == (46, 0, True)
    w3 = cw("2024-Q1", "w3")  # staff without cases has a row with zero case days
    assert (w3["case_days"], w3["fte_days"], w3["avg_caseload"]) == (0, 23.25, 0)
    # the group row is the sum of the caseworker rows
    assert cw("2024-Q1", "w1")["case_days"] + w2["case_days"] + w3["case_days"] == 209


def test_rollup_over_quarters_is_exact(con):
    got = rollup(con, "2023-Q4", "2024-Q2", group_by=["provider_id"])
    p1 = got[got.provider_id == "P1"].iloc[0]
    assert p1["period"] == "2023-Q4–2024-Q2" and bool(p1["partial"]) is True
    assert p1["days"] == 92 + 91 + 45
    assert p1["case_days"] == 31 + 209 + 91
    assert p1["fte_days"] == pytest.approx(138 + 128.75 + 56.25)
    # A, B, C, E — each case once, although C is active in all three quarters
    assert p1["cases_in_period"] == 4
    # Stichtag figures are those of the last quarter
    assert (p1["active_cases_end"], p1["fte_end"]) == (2, 1.25)
    assert p1["avg_caseload"] == pytest.approx(331 / 323)
    assert p1["throughput_per_fte"] == pytest.approx(4 / (323 / 228))


def test_rollup_over_providers_reports_the_gap(con):
    got = rollup(con, "2024-Q1", "2024-Q1", group_by=[])
    total = got.iloc[0]
    assert total["case_days"] == 209 + 82
    assert total["fte_days"] == pytest.approx(128.75)
    assert total["cases_in_period"] == 5
    assert total["fte_missing_rows"] == 1  # P2 has cases without staff: shown, not hidden
    assert bool(total["fte_missing"]) is False


def test_rollup_per_quarter_equals_the_mart(con):
    got = rollup(con, group_by=["period", "provider_id", "program", "region_code"])
    mart = con.execute(
        "select * from mart.caseload where scope = 'alle' order by period, provider_id"
    ).df()
    cols = ["case_days", "fte_days", "active_cases_end", "fte_end", "cases_in_period", "days"]
    assert got[cols].to_numpy().tolist() == mart[cols].to_numpy().tolist()


def test_rollup_filters_and_caseworker(con):
    got = rollup(
        con,
        "2024-Q1",
        "2024-Q2",
        group_by=["caseworker_id"],
        filters={"provider_id": ["P1"]},
        by_caseworker=True,
        scope="case_management",
    )
    by_worker = got.set_index("caseworker_id")
    assert by_worker.loc["w1", "case_days"] == 46  # A
    assert by_worker.loc["w2", "case_days"] == 91 + 1  # C in Q1 and Q2
    assert by_worker.loc["w2", "cases_in_period"] == 1  # C carried into Q1, counted once
    with pytest.raises(ValueError):
        rollup(con, group_by=["caseworker_id"])  # only with by_caseworker=True
    with pytest.raises(ValueError):
        rollup(con, "2024-1", "2024-Q2")


def test_gap_check_reports_the_gap_and_catches_a_division(con):
    from transforms.checks import run_checks

    def outcome():
        return next(o for o in run_checks(con, "caseload") if o.rule.name == "fte_gap_flagged")

    first = outcome()
    assert first.passed  # the gap is flagged correctly: a finding, not a mart error
    assert first.metadata["fte_gap_groups"] == 1
    assert first.metadata["fte_gaps"] == "P2 / jmd / 05315 (2 Quartale)"
    con.execute("update mart.caseload set avg_caseload = 1e308 * 10 where fte_missing")
    assert not outcome().passed


def test_both_scopes_have_the_same_staff_up_to_the_last_bits_of_a_sum(con):
    """FTE days are sums of floating-point numbers; "alle" and "case_management" add the same
    caseworkers, in an order the database chooses. A difference in the last bits is the same
    staff; half a day is not."""
    from transforms.checks import run_checks

    def passed() -> bool:
        return next(
            o for o in run_checks(con, "caseload") if o.rule.name == "scopes_consistent"
        ).passed

    assert passed()
    cm = "scope = 'case_management' AND fte_days > 0"
    con.execute(f"UPDATE mart.caseload SET fte_days = fte_days * (1 + 1e-15) WHERE {cm}")
    assert passed()
    con.execute(f"UPDATE mart.caseload SET fte_days = fte_days + 0.5 WHERE {cm}")
    assert not passed()


@pytest.mark.parametrize(
    ("level", "bucket", "earlier"), [("half", "2024-H1", "2023-H2"), ("year", "2024", "2023")]
)
def test_rollup_by_half_and_year_equals_the_span(con, level, bucket, earlier):
    """One row per half-year or year: the same figures as a roll-up over that span, and the
    distinct count is exact (P1 in 2024 up to as_of: A, B, C, E; D opens after as_of)."""
    from transforms.caseload import rollup

    by_level = rollup(con, group_by=[level, "provider_id"]).set_index(["period", "provider_id"])
    span = rollup(con, "2024-Q1", "2024-Q2", group_by=["provider_id"]).set_index("provider_id")
    got = by_level.xs(bucket, level="period")
    for col in ("case_days", "fte_days", "cases_in_period", "active_cases_end", "cases_opened"):
        assert got[col].tolist() == span[col].tolist(), col
    assert got.loc["P1", "cases_in_period"] == 4
    assert by_level.loc[(earlier, "P1"), "cases_in_period"] == 1  # C, from 2023-12-01


def test_caseload_rows_are_the_days_the_figure_divides(con):
    """Lineage: the cases of 2023-Q4..2024-Q2 with their days in the span (C: 31 + 91 + 1,
    each case once) and the caseworkers' FTE days; their sums are the roll-up's figures."""
    cases, staffing = caseload_rows(con, "2023-Q4", "2024-Q2", filters={"provider_id": "P1"})
    days = dict(zip(cases["case_id"], cases["active_days"], strict=True))
    assert days == {"A": 46, "B": 12 + 45, "C": 31 + 91 + 1, "E": 60 + 45}
    at_end = dict(zip(cases["case_id"], cases["active_at_end"], strict=True))
    assert at_end == {"A": False, "B": True, "C": False, "E": True}
    fte = dict(zip(staffing["caseworker_id"], staffing["fte_days"], strict=True))
    assert fte == pytest.approx({"w1": 46 + 45.5 + 22.5, "w2": 92 + 60, "w3": 23.25 + 33.75})
    assert sum(days.values()) == 331 and sum(fte.values()) == pytest.approx(323)
    fte_end = dict(zip(staffing["caseworker_id"], staffing["fte_end"], strict=True))
    assert fte_end == {"w1": 0.5, "w2": 0.0, "w3": 0.75}  # w2 left before the last quarter


def test_caseload_rows_case_management_scope(con):
    cases, staffing = caseload_rows(con, "2024-Q1", "2024-Q1", scope="case_management")
    assert dict(zip(cases["case_id"], cases["active_days"], strict=True)) == {
        "A": 46,
        "C": 91,
        "F": 82,
    }
    assert set(staffing["provider_id"]) == {"P1"}  # P2 has cases but no staff: no FTE rows


@pytest.mark.parametrize(
    ("goal", "referral", "first"),
    [
        # nothing before the first case opening (C, 2023-12-01): the calendar starts in 2023-Q4
        (("P1", "A", "2024-01-05"), ("P1", "A", "2024-01-06"), "2023-Q4"),
        # a goal of case A set before every case opened moves the start to its quarter
        (("P1", "A", "2023-05-10"), ("P1", "A", "2024-01-06"), "2023-Q2"),
        # a referral of case B as well, even earlier than the goal
        (("P1", "A", "2023-05-10"), ("P1", "B", "2022-11-30"), "2022-Q4"),
        # goals and referrals of no known case, or of case D (opened after as_of), do not
        (("P1", "X", "2022-01-01"), ("P1", "D", "2022-02-01"), "2023-Q4"),
    ],
)
def test_the_calendar_starts_with_the_first_case_goal_or_referral_of_a_case(
    staging_con, goal, referral, first
):
    """intermediate.quarters begins with the quarter of the earliest case opening, goal or
    referral of a case in intermediate.cases, whichever comes first (the model looks up only
    the goals and referrals before every opening among the cases)."""
    from kernel.settings import Settings
    from transforms.runner import build_marts

    insert(
        staging_con,
        "cases",
        [
            case("P1", "A", "2024-01-01", "2024-02-15"),
            case("P1", "B", "2024-03-20"),
            case("P1", "C", "2023-12-01"),
            case("P1", "D", "2024-05-20"),
        ],
    )
    g_provider, g_case, set_on = goal
    r_provider, r_case, requested_on = referral
    insert(
        staging_con,
        "goals",
        [
            {"provider_id": g_provider, "case_id": g_case, "goal_id": "g1", "domain": "arbeit"},
            {"provider_id": "P1", "case_id": "C", "goal_id": "g2", "domain": "arbeit"},
        ],
    )
    staging_con.execute(
        "UPDATE staging.goals SET set_on = CASE goal_id WHEN 'g1' THEN ?::DATE"
        " ELSE DATE '2024-02-01' END",
        [set_on],
    )
    insert(
        staging_con,
        "referrals",
        [
            {
                "provider_id": r_provider,
                "case_id": r_case,
                "referral_id": "r1",
                "service_type": "sprachkurs",
                "requested_on": requested_on,
            }
        ],
    )
    build_marts(staging_con, Settings(workspace=Path("/nonexistent")), AS_OF)
    periods = [
        r[0] for r in staging_con.execute("SELECT period FROM intermediate.quarters").fetchall()
    ]
    assert periods[0] == first and periods[-1] == "2024-Q2"
    assert len(periods) == len(set(periods))
