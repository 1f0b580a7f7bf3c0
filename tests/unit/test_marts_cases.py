"""mart.cases (case reconstruction) and the process-quality flags on a hand-worked fixture.

as_of = 2025-06-30; all cases P1 / kim / 05111.

K1 case_management 2024-01-10..2024-09-30 (ziel_erreicht)
   goals: g1 wohnen 2024-01-20 no offer, reviewed 2024-04-01; g2 sprache 2024-02-01 offer;
          g3 set 2025-07-01 (after as_of: not counted)                   → goals 2, without offer 1
   referrals: r1 2024-01-25→2024-03-05 (40 days), r2 2024-02-01→2024-06-10 (130 days),
          r3 kein_angebot, r4 abgelehnt, r5 requested 2025-06-01, started 2025-07-15 (after
          as_of: counted as a referral, not as started)  → referrals 5, failed 2, max wait 130
   barriers: wartezeit twice, kein_angebot, sprachbarriere after as_of → [kein_angebot, wartezeit]
   contacts: erstgespraech, assessment, monitoring, evaluation, abschluss 2024-09-30;
          no nachgespraech; closed 273 days before as_of (> 183)          → followup_missing
K2 case_management opened 2024-10-01, open; contacts hilfeplan 2024-10-15, reassessment
   2024-11-10 (last) → 232 days without contact (20 + 31 + 31 + 28 + 31 + 30 + 31 + 30):
   review_due, not close_overdue; plan (hilfeplan step), review (reassessment), no assessment
K3 information opened 2024-06-01, no contacts: last contact = opened_on, 394 days
   (365 to 2025-06-01 + 29) → review_due and close_overdue; Regelkreis flags not applicable
K4 case_management 2024-11-01..2025-06-20 (sonstiges), only an assessment: closed 10 days
   ago → no evaluation, no plan, no review; follow-up conversation not yet due (NULL)
K5 case_management 2024-01-01..2024-06-30, nachgespraech 2024-12-15 → followup_missing false
K6 case_management opened 2025-01-01, closed 2025-08-01 (after as_of) → open at as_of
K7 opened 2025-07-01 (after as_of) → not in the mart
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.marts_helpers import build, case, insert, one, rows

AS_OF = date(2025, 6, 30)
NOTE = "Frau M. wartet seit Monaten auf einen Therapieplatz, Sprachkurs abgelehnt"


@pytest.fixture
def con(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "K1", "2024-01-10", "2024-09-30", person_key="pk1"),
            case("P1", "K2", "2024-10-01"),
            case("P1", "K3", "2024-06-01", intensity="information"),
            case("P1", "K4", "2024-11-01", "2025-06-20", close_reason="sonstiges"),
            case("P1", "K5", "2024-01-01", "2024-06-30"),
            case("P1", "K6", "2025-01-01", "2025-08-01"),
            case("P1", "K7", "2025-07-01"),
        ],
    )
    g = {"provider_id": "P1", "case_id": "K1", "status": "offen"}
    insert(
        staging_con,
        "goals",
        [
            {
                **g,
                "goal_id": "g1",
                "domain": "wohnen",
                "set_on": "2024-01-20",
                "status_on": "2024-04-01",
                "offer_available": False,
            },
            {
                **g,
                "goal_id": "g2",
                "domain": "sprache",
                "set_on": "2024-02-01",
                "offer_available": True,
            },
            {
                **g,
                "goal_id": "g3",
                "domain": "wohnen",
                "set_on": "2025-07-01",
                "offer_available": False,
            },
        ],
    )
    r = {"provider_id": "P1", "case_id": "K1"}
    insert(
        staging_con,
        "referrals",
        [
            {
                **r,
                "referral_id": "r1",
                "service_type": "wohnraum",
                "requested_on": "2024-01-25",
                "started_on": "2024-03-05",
                "outcome": "begonnen",
            },
            {
                **r,
                "referral_id": "r2",
                "service_type": "psychotherapie",
                "requested_on": "2024-02-01",
                "started_on": "2024-06-10",
                "outcome": "begonnen",
            },
            {
                **r,
                "referral_id": "r3",
                "service_type": "kita_platz",
                "requested_on": "2024-02-01",
                "outcome": "kein_angebot",
            },
            {
                **r,
                "referral_id": "r4",
                "service_type": "sprachkurs",
                "requested_on": "2024-03-01",
                "outcome": "abgelehnt",
            },
            {
                **r,
                "referral_id": "r5",
                "service_type": "integrationskurs",
                "requested_on": "2025-06-01",
                "started_on": "2025-07-15",
                "outcome": "begonnen",
            },
        ],
    )
    b = {"provider_id": "P1", "case_id": "K1", "note": NOTE}
    insert(
        staging_con,
        "barriers",
        [
            {**b, "noted_on": "2024-02-01", "barrier_code": "wartezeit", "domain": "wohnen"},
            {**b, "noted_on": "2024-02-01", "barrier_code": "kein_angebot"},
            {**b, "noted_on": "2024-03-01", "barrier_code": "wartezeit"},
            {**b, "noted_on": "2025-08-01", "barrier_code": "sprachbarriere"},
        ],
    )
    contacts = [
        ("K1", "2024-01-10", "erstgespraech"),
        ("K1", "2024-01-15", "assessment"),
        ("K1", "2024-06-01", "monitoring"),
        ("K1", "2024-09-20", "evaluation"),
        ("K1", "2024-09-30", "abschluss"),
        ("K2", "2024-10-01", "erstgespraech"),
        ("K2", "2024-10-15", "hilfeplan"),
        ("K2", "2024-11-10", "reassessment"),
        ("K4", "2024-11-05", "assessment"),
        ("K5", "2024-12-15", "nachgespraech"),
        ("K6", "2025-09-01", "monitoring"),  # after as_of: not counted
    ]
    insert(
        staging_con,
        "contacts",
        [{"provider_id": "P1", "case_id": c, "contact_on": d, "step": s} for c, d, s in contacts],
    )
    build(staging_con, AS_OF)
    return staging_con


def get(con, case_id):
    return one(con, "select * from mart.cases where case_id = ?", [case_id])


def test_case_after_as_of_is_left_out(con):
    ids = [r["case_id"] for r in rows(con, "select case_id from mart.cases order by 1")]
    assert ids == ["K1", "K2", "K3", "K4", "K5", "K6"]


def test_counts_wait_barriers_and_last_contact(con):
    k1 = get(con, "K1")
    assert (k1["goals"], k1["goals_without_offer"]) == (2, 1)
    assert (k1["referrals"], k1["referrals_failed"], k1["max_wait_days"]) == (5, 2, 130)
    assert k1["barrier_codes"] == ["kein_angebot", "wartezeit"]
    assert k1["last_contact_on"] == date(2024, 9, 30)
    assert k1["person_key"] == "pk1" and k1["person_key_present"] is True
    k3 = get(con, "K3")  # nothing recorded
    assert (k3["goals"], k3["referrals"], k3["max_wait_days"], k3["barrier_codes"]) == (
        0,
        0,
        None,
        [],
    )
    assert k3["last_contact_on"] == date(2024, 6, 1)  # no contact: opened_on


def test_regelkreis_flags(con):
    k1 = get(con, "K1")
    assert (k1["has_assessment"], k1["has_plan"], k1["has_review"], k1["has_evaluation"]) == (
        True,
        True,
        True,
        True,  # plan: a goal; review: goal g1 reviewed after it was set
    )
    assert k1["close_reason_given"] is True
    k2 = get(con, "K2")  # open: evaluation and close reason not applicable
    assert (k2["has_assessment"], k2["has_plan"], k2["has_review"], k2["has_evaluation"]) == (
        False,
        True,
        True,
        None,  # plan: hilfeplan step; review: reassessment step
    )
    assert k2["close_reason_given"] is None
    k4 = get(con, "K4")
    assert (k4["has_assessment"], k4["has_plan"], k4["has_review"], k4["has_evaluation"]) == (
        True,
        False,
        False,
        False,
    )
    k3 = get(con, "K3")  # information case: Regelkreis flags apply to case management only
    assert [k3[f] for f in ("has_assessment", "has_plan", "has_review", "has_evaluation")] == [
        None,
        None,
        None,
        None,
    ]


def test_wiedervorlage_and_overdue_closure(con):
    k2 = get(con, "K2")
    assert k2["days_since_contact"] == 232
    assert (k2["review_due"], k2["close_overdue"]) == (True, False)
    k3 = get(con, "K3")
    assert k3["days_since_contact"] == 394
    assert (k3["review_due"], k3["close_overdue"]) == (True, True)
    k6 = get(con, "K6")  # closure after as_of: open; contact after as_of not counted
    assert k6["closed_on"] is None and k6["close_reason"] is None
    assert k6["last_contact_on"] == date(2025, 1, 1) and k6["days_since_contact"] == 180
    assert (k6["review_due"], k6["close_overdue"]) == (False, False)
    assert get(con, "K1")["review_due"] is None  # closed cases are never due for review


def test_followup_conversation(con):
    k1 = get(con, "K1")
    assert k1["followup_days"] == 273 and k1["followup_missing"] is True
    assert get(con, "K5")["followup_missing"] is False  # nachgespraech after closure
    assert get(con, "K4")["followup_missing"] is None  # closed 10 days ago: not yet due
    assert get(con, "K2")["followup_missing"] is None  # open


def test_limits_come_from_settings(staging_con):
    insert(staging_con, "cases", [case("P1", "X", "2025-01-01")])
    # 180 days without contact: due under a 90-day rule, not under the default 183
    build(staging_con, AS_OF, review_due_days=90)
    assert get(staging_con, "X")["review_due"] is True
    build(staging_con, AS_OF)
    assert get(staging_con, "X")["review_due"] is False


def test_no_free_text_anywhere(con):
    from transforms.checks import run_checks

    text_columns = [
        r["column_name"]
        for r in rows(
            con,
            "select column_name from duckdb_columns() where schema_name = 'mart'"
            " and table_name = 'cases' and data_type = 'VARCHAR'",
        )
    ]
    assert "note" not in text_columns
    for column in text_columns:
        hits = con.execute(
            f"select count(*) from mart.cases where {column} ilike '%Therapieplatz%'"
        ).fetchall()[0][0]
        assert hits == 0, column
    outcome = next(o for o in run_checks(con, "cases") if o.rule.name == "no_free_text")
    assert outcome.passed
    # the check fails when a free-text column sneaks in
    con.execute("alter table mart.cases add column note varchar")
    outcome = next(o for o in run_checks(con, "cases") if o.rule.name == "no_free_text")
    assert not outcome.passed and "note" in outcome.metadata["columns"]
