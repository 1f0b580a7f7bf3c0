"""mart.reentry on a hand-worked fixture. as_of = 2025-12-31.

Transfer against re-entry (the 15-day rule)
  T1 P1 person pt closed 2024-03-01; T2 P1 pt opened 2024-03-15 = 14 days → transfer 14, no re-entry
  U1 P1 person pu closed 2024-03-01; U2 P1 pu opened 2024-03-16 = 15 days → re-entry 15
Re-entry via person key across providers against via previous_case_id
  V1 P1 person pv closed 2024-01-10; V2 P2 pv opened 2024-04-19
     = 21 (Jan) + 29 (Feb) + 31 (Mar) + 19 = 100 days → re-entry 100 via personen_pseudonym
  W1 P1 no person key closed 2024-01-10; W2 P1 previous_case_id W1 opened 2024-02-09 = 30 days
     → re-entry 30 via vorheriger_fall; X P2 previous_case_id "W1" opened 2024-02-01 belongs to
     another provider and is ignored (it would give 22)
A parallel case opened before the closure
  Y1 P1 person py 2024-01-01..2024-06-30; Y2 P2 py opened 2024-05-01 (before Y1 closed),
     closed 2024-12-31 → Y1: neither transfer nor re-entry; Y2 followup 365
Relapse during against after support (kinds all count)
  Z1 P1 person pz 2024-01-01..2024-06-30; relapses of Z1: 2024-03-01 and 2024-06-30 (during,
     the closure day still counts as during), 2024-09-28 (after: 90 days)
  Z2 P2 pz 2024-08-01..2024-08-20 (re-entry of Z1 after 32 days); relapse of Z2 2024-08-10:
     the same person → Z1 relapse after 41 days (earlier than its own 90); Z2: 1 during, next
     after it 2024-09-28 → 39 days
  Q1 P1 no person key 2024-01-01..2024-06-30, relapse 2024-07-10 → 10 days (own case only)
Censored and cut at as_of
  C1 P1 person pc closed 2025-12-01 → followup 30, no events
  C2 P1 closed 2026-01-15 (after as_of) → open, not in the mart
  C3 P1 person pc3 closed 2025-12-31 (= as_of) → followup 0; C4 pc3 opened 2026-01-20 after
     as_of: not a re-entry
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.marts_helpers import build, case, insert, one, rows

AS_OF = date(2025, 12, 31)


@pytest.fixture
def con(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "T1", "2024-01-01", "2024-03-01", person_key="pt"),
            case("P1", "T2", "2024-03-15", person_key="pt"),
            case("P1", "U1", "2024-01-01", "2024-03-01", person_key="pu"),
            case("P1", "U2", "2024-03-16", person_key="pu"),
            case("P1", "V1", "2023-10-01", "2024-01-10", person_key="pv"),
            case("P2", "V2", "2024-04-19", person_key="pv", program="jmd"),
            case("P1", "W1", "2023-10-01", "2024-01-10", person_key=""),
            case("P1", "W2", "2024-02-09", previous_case_id="W1"),
            case("P2", "X", "2024-02-01", previous_case_id="W1"),
            case("P1", "Y1", "2024-01-01", "2024-06-30", person_key="py"),
            case("P2", "Y2", "2024-05-01", "2024-12-31", person_key="py"),
            case(
                "P1",
                "Z1",
                "2024-01-01",
                "2024-06-30",
                person_key="pz",
                program="pcve",
                risk_level="hoch",
            ),
            case("P2", "Z2", "2024-08-01", "2024-08-20", person_key="pz", program="pcve"),
            case("P1", "Q1", "2024-01-01", "2024-06-30", program="pcve"),
            case("P1", "C1", "2025-06-01", "2025-12-01", person_key="pc"),
            case("P1", "C2", "2025-06-01", "2026-01-15"),
            case("P1", "C3", "2025-06-01", "2025-12-31", person_key="pc3"),
            case("P1", "C4", "2026-01-20", person_key="pc3"),
        ],
    )
    relapses = [
        ("P1", "Z1", "2024-03-01", "szenekontakt"),
        ("P1", "Z1", "2024-06-30", "straftat_gewalt"),
        ("P1", "Z1", "2024-09-28", "straftat_extremistisch"),
        ("P2", "Z2", "2024-08-10", "straftat_sonstige"),
        ("P1", "Q1", "2024-07-10", "straftat_gewalt"),
        ("P1", "C1", "2026-01-05", "straftat_gewalt"),  # after as_of: not counted
    ]
    insert(
        staging_con,
        "relapses",
        [{"provider_id": p, "case_id": c, "event_on": d, "kind": k} for p, c, d, k in relapses],
    )
    build(staging_con, AS_OF)
    return staging_con


def get(con, case_id, provider="P1"):
    return one(
        con,
        "select followup_days, reentry_days, reentry_via, transfer_days, relapse_days,"
        " relapses_during, person_key_present from mart.reentry"
        " where provider_id = ? and case_id = ?",
        [provider, case_id],
    )


def test_one_row_per_closed_case(con):
    got = [r["case_id"] for r in rows(con, "select case_id from mart.reentry order by 1")]
    assert got == sorted(["C1", "C3", "Q1", "T1", "U1", "V1", "W1", "Y1", "Y2", "Z1", "Z2"])


def test_transfer_on_day_14_is_not_a_reentry(con):
    t1 = get(con, "T1")
    assert (t1["transfer_days"], t1["reentry_days"], t1["reentry_via"]) == (14, None, None)


def test_new_case_on_day_15_is_a_reentry(con):
    u1 = get(con, "U1")
    assert (u1["transfer_days"], u1["reentry_days"], u1["reentry_via"]) == (
        None,
        15,
        "personen_pseudonym",
    )


def test_reentry_via_person_key_at_another_provider(con):
    v1 = get(con, "V1")
    assert (v1["reentry_days"], v1["reentry_via"]) == (100, "personen_pseudonym")


def test_reentry_via_previous_case_id_same_provider_only(con):
    w1 = get(con, "W1")
    assert w1["person_key_present"] is False  # empty string counts as no person key
    assert (w1["reentry_days"], w1["reentry_via"], w1["transfer_days"]) == (
        30,
        "vorheriger_fall",
        None,
    )


def test_parallel_case_opened_before_closure_is_neither(con):
    y1 = get(con, "Y1")
    assert (y1["reentry_days"], y1["transfer_days"]) == (None, None)
    assert get(con, "Y2", "P2")["followup_days"] == 365


def test_relapse_during_and_after_support(con):
    z1 = get(con, "Z1")
    assert z1["relapses_during"] == 2  # 2024-03-01 and the closure day 2024-06-30
    assert z1["relapse_days"] == 41  # recorded on the person's other case Z2
    assert (z1["reentry_days"], z1["reentry_via"]) == (32, "personen_pseudonym")
    z2 = get(con, "Z2", "P2")
    assert (z2["relapses_during"], z2["relapse_days"]) == (1, 39)
    q1 = get(con, "Q1")  # no person key: only its own relapses
    assert (q1["relapses_during"], q1["relapse_days"]) == (0, 10)


def test_censoring_and_cut_at_as_of(con):
    c1 = get(con, "C1")
    assert (c1["followup_days"], c1["reentry_days"], c1["relapse_days"]) == (30, None, None)
    c3 = get(con, "C3")  # closed on as_of; the follow-up case opens after as_of
    assert (c3["followup_days"], c3["reentry_days"], c3["transfer_days"]) == (0, None, None)
    assert rows(con, "select * from mart.reentry where case_id = 'C2'") == []


def test_transfer_limit_comes_from_settings(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "A", "2024-01-01", "2024-03-01", person_key="pa"),
            case("P1", "B", "2024-03-21", person_key="pa"),  # 20 days later
        ],
    )
    build(staging_con, AS_OF)
    assert get(staging_con, "A")["reentry_days"] == 20
    build(staging_con, AS_OF, transfer_max_days=30)
    assert (get(staging_con, "A")["reentry_days"], get(staging_con, "A")["transfer_days"]) == (
        None,
        20,
    )


def test_many_cases_of_one_person_do_not_multiply(staging_con):
    """A bogus person key shared by many cases (e.g. 'unbekannt') stays linear (ASOF join)."""
    staging_con.execute(
        """insert into staging.cases (provider_id, case_id, person_key, program, region_code,
             caseworker_id, opened_on, closed_on, intensity, close_reason)
           select 'P1', 'c' || i, 'unbekannt', 'kim', '05111', 'w1',
             date '2020-01-01' + i::INTEGER, date '2020-01-01' + i::INTEGER + 10,
             'information', 'ziel_erreicht'
           from range(2000) t(i)"""
    )
    build(staging_con, AS_OF)
    assert one(staging_con, "select count(*) n from mart.reentry")["n"] == 2000
    # c(i) runs from day i to day i + 10; c(i + 11) opens 1 day after its closure (transfer),
    # c(i + 25) opens 15 days after it: the re-entry
    c0 = one(staging_con, "select * from mart.reentry where case_id = 'c0'")
    assert (c0["transfer_days"], c0["reentry_days"]) == (1, 15)


def own(con, case_id, provider="P1"):
    return one(
        con,
        "select own_reentry_days, own_transfer_days, own_relapse_days, own_relapses_during"
        " from mart.reentry where provider_id = ? and case_id = ?",
        [provider, case_id],
    )


def test_own_columns_hold_only_what_the_closing_provider_recorded(con):
    """A provider's case table shows the own_* figures: never a date or event that another
    provider recorded for the same person (here P2's cases and P2's relapse report)."""
    z1 = own(con, "Z1")  # network: re-entry at P2 after 32 days, relapse at P2 after 41
    assert (z1["own_reentry_days"], z1["own_relapse_days"]) == (None, 90)
    assert z1["own_relapses_during"] == 2
    assert own(con, "V1")["own_reentry_days"] is None  # re-entry only at P2
    assert own(con, "Y1")["own_transfer_days"] is None
    t1, u1, w1 = own(con, "T1"), own(con, "U1"), own(con, "W1")  # all at P1 itself
    assert (t1["own_transfer_days"], u1["own_reentry_days"], w1["own_reentry_days"]) == (14, 15, 30)
    z2 = own(con, "Z2", "P2")  # P2's own relapse during support; P1's later one is not P2's
    assert (z2["own_relapses_during"], z2["own_relapse_days"]) == (1, None)
