"""The data-quality scorecard (transforms/scorecard.py) on hand-made staging rows, and flags
whose review survives a re-delivery with the same finding and reopens when it worsens."""

from __future__ import annotations

from datetime import date

import pandas as pd

from kernel import decisions
from tests.marts_helpers import build, case, insert, rows
from transforms.scorecard import flag_states

AS_OF = date(2026, 9, 30)
FTE = {"p1": 1.0, "p2": 0.9, "p3": 1.1, "p4": 0.1, "p5": 1.0}


def deliver(con, pid, delivery_id, person_keys=20):
    con.execute("DELETE FROM staging.cases WHERE provider_id = ?", [pid])
    insert(
        con,
        "cases",
        [
            case(pid, f"K{i}", "2026-01-01", person_key=f"pk{i}" if i < person_keys else None,
                 delivery_id=delivery_id)
            for i in range(20)
        ],
    )  # fmt: skip


def contacts(con, pid, cases, day):
    """A monitoring contact on `day` for each of the provider's first `cases` cases."""
    insert(
        con,
        "contacts",
        [{"provider_id": pid, "case_id": f"K{i}", "contact_on": day, "step": "monitoring"}
         for i in range(cases)],
    )  # fmt: skip


def network(con):
    for pid, fte in FTE.items():
        deliver(con, pid, f"{pid}-a")
        insert(
            con,
            "staffing",
            [{"provider_id": pid, "caseworker_id": "w1", "program": "kim",
              "region_code": "05111", "valid_from": "2025-01-01", "fte": fte}],
        )  # fmt: skip
    contacts(con, "p1", 20, "2026-09-01")
    con.execute(
        "INSERT INTO audit.deliveries VALUES ('p3-a', 'p3', 'p3', 'x', '2026-09-30',"
        " '2026-09-30', NULL, '2026-09-30', 'csv', ['cases'], ['cases'], 'partial', 22, 20, 2,"
        " NULL, 'r1')"
    )
    con.execute("INSERT INTO audit.delivery_tables VALUES ('p3-a', 'cases', 'f', 22, 20, 2)")


def flagged(con, pid):
    return {
        (r["rule"], r["table_name"], r["column_name"])
        for r in rows(con, "SELECT * FROM mart.scorecard WHERE flagged AND provider_id = ?", [pid])
    }


def test_scorecard_rules_and_plausibility_against_the_network(staging_con):
    con = staging_con
    network(con)
    deliver(con, "p5", "p5-a", person_keys=0)
    # contacts after the snapshot (30 Sep) do not count: without that cut the median lag of
    # p1 would be -10 days (11 of its 20 open cases contacted on 10 Oct)
    contacts(con, "p1", 11, "2026-10-10")
    build(con, AS_OF)
    assert ("completeness", "cases", "person_key") in flagged(con, "p5")
    assert ("caseload_per_fte", "staffing", "") in flagged(con, "p4")
    assert ("rejected_rate", "cases", "") in flagged(con, "p3")
    assert ("open_without_contact", "contacts", "") not in flagged(con, "p1")
    assert ("open_without_contact", "contacts", "") in flagged(con, "p2")
    p4 = rows(
        con, "SELECT * FROM mart.scorecard WHERE provider_id='p4' AND rule='caseload_per_fte'"
    )
    assert p4[0]["value"] == 200 and p4[0]["network_median"] == 20 and p4[0]["z_score"] > 3.5
    lag = rows(
        con, "SELECT value FROM mart.scorecard WHERE provider_id='p1' AND rule='contact_lag_days'"
    )
    assert lag == [{"value": 29.0}]
    # each flag's key is (provider, rule, table, column): the delivery is not part of it
    assert con.execute(
        "SELECT count(*) = count(DISTINCT (provider_id, rule, table_name, column_name))"
        " FROM mart.scorecard"
    ).fetchone()[0]


def review(tmp_path, con, pid, state="erklaert"):
    flag = rows(
        con,
        "SELECT * FROM mart.scorecard WHERE provider_id = ? AND rule = 'completeness'"
        " AND column_name = 'person_key'",
        [pid],
    )[0]
    decisions.review_flag(
        tmp_path, flag, state, "Pseudonym wird erst ab 2027 erhoben", "tina", "traeger",
        own_provider=pid, badness=flag["badness"],
    )  # fmt: skip


def state(tmp_path, con, pid):
    reviews = pd.DataFrame(decisions.read(tmp_path, "flag"))
    df = flag_states(con, reviews, "s.provider_id = ? AND s.column_name = 'person_key'", [pid])
    return df[["state", "reopened", "trend"]].iloc[0].tolist()


def test_a_review_survives_redelivery_and_reopens_when_the_finding_worsens(staging_con, tmp_path):
    con = staging_con
    network(con)
    deliver(con, "p5", "p5-a", person_keys=10)  # half of the person keys
    build(con, AS_OF)
    assert state(tmp_path, con, "p5") == ["offen", False, None]
    review(tmp_path, con, "p5")
    assert state(tmp_path, con, "p5") == ["erklaert", False, None]
    deliver(con, "p5", "p5-b", person_keys=10)  # re-delivery, same finding
    build(con, AS_OF)
    assert state(tmp_path, con, "p5") == ["erklaert", False, "unverändert"]
    deliver(con, "p5", "p5-c", person_keys=2)  # worse beyond the tolerance
    build(con, AS_OF)
    assert state(tmp_path, con, "p5") == ["offen", True, "schlechter"]


def test_a_provider_reviews_only_its_own_flags(tmp_path):
    import pytest

    key = {"provider_id": "p1", "rule": "gap_rate", "table_name": "goals", "column_name": ""}
    with pytest.raises(decisions.DecisionError):
        decisions.review_flag(tmp_path, key, "erklaert", "x", "tina", "traeger", own_provider="p2")
    with pytest.raises(decisions.DecisionError):  # erklärt needs a reason
        decisions.review_flag(tmp_path, key, "erklaert", "", "anna", "koordination")
