"""mart.supply_gaps, mart.referral_waits, mart.structural_closures and the roll-ups of
transforms.gaps on a hand-worked fixture. as_of = 2024-05-15 (2024-Q2 partial).

Cases: G1, G2, R1, S1..S3 at P1 / kim / 05111; G3 at P2 / jmd / 05315; R1 opened 2023-12-01
(so 2023-Q4 is the first quarter).

Goals (supply gaps)
  G1 g1 wohnen 2024-01-10 no offer | g2 wohnen 2024-02-10 no offer | g3 sprache 2024-03-31 offer
     g4 wohnen 2024-04-01 no offer (Q2) | g5 wohnen 2024-05-16 no offer (after as_of: ignored)
  G2 g1 wohnen 2024-03-01 offer | g2 wohnen 2024-03-02 no offer
  G3 g1 gesundheit_psychisch 2024-02-01 no offer
  → Q1 P1 wohnen: set 4 (G1g1, G1g2, G2g1, G2g2), without offer 3, cases with gap 2 (G1, G2)
  → Q1 P1 sprache: 1, 0, 0 | Q2 P1 wohnen: 1, 1, 1 | Q1 P2 gesundheit_psychisch: 1, 1, 1
  → Q1..Q2 P1 wohnen: set 5, without offer 4, cases with gap 2 (G1 counted once)

Referrals of R1 (wait = started_on − requested_on)
  r9  wohnraum 2023-12-20 → 2024-01-04 (15)      r1 wohnraum 2024-01-05 → 2024-01-15 (10)
  r2  wohnraum 2024-01-10 → 2024-02-09 (30)      r3 wohnraum 2024-02-01 → 2024-04-10 (69)
  r4  wohnraum 2024-02-15 warteliste             r5 wohnraum 2024-03-01 kein_angebot
  r6  wohnraum 2024-03-10 abgelehnt              r7 wohnraum 2024-03-20 nicht_wahrgenommen
  r8  wohnraum 2024-03-25 → 2024-05-20 (after as_of: not started)
  r10 psychotherapie 2024-04-02 offen
  → 2023-Q4 wohnraum: referrals 1, started 0, waiting at 31 Dec 1 (r9)
  → 2024-Q1 wohnraum: referrals 8 (r1..r8), no offer 1, rejected 1; started 3 (r9, r1, r2):
    waits [10, 15, 30] → median 15, p90 = 15 + 0.8 × (30 − 15) = 27 (linear interpolation
    at rank 0.9 × (3 − 1) = 1.8); waiting at 31 Mar 3 (r3, r4, r8)
  → 2024-Q2 wohnraum: referrals 0, started 1 (r3, 69), waiting at 15 May 2 (r4, r8)
  → 2024-Q2 psychotherapie: referrals 1, waiting 1
  → Q1..Q2 wohnraum: referrals 8, started 4, waits [10, 15, 30, 69]: median 22.5,
    p90 = 30 + 0.7 × 39 = 57.3 (rank 2.7); waiting at 15 May 2

Closures: S1 2024-02-01 strukturelle_hindernisse, S2 2024-03-15 ziel_erreicht,
  S3 2024-04-01 strukturelle_hindernisse, S4 2024-06-01 (after as_of: open)
  → Q1: 2 closures, 1 structural (0.5); Q2: 1, 1 (1.0)
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.marts_helpers import build, case, insert, one, rows
from transforms.gaps import (
    closed_cases,
    gap_goals,
    referral_rows,
    referral_waits,
    structural_closures,
    supply_gaps,
    wait_quantiles,
)

AS_OF = date(2024, 5, 15)


@pytest.fixture
def con(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "G1", "2024-01-05"),
            case("P1", "G2", "2024-02-01"),
            case("P2", "G3", "2024-01-20", program="jmd", region_code="05315"),
            case("P1", "R1", "2023-12-01"),
            case("P1", "S1", "2024-01-02", "2024-02-01", close_reason="strukturelle_hindernisse"),
            case("P1", "S2", "2024-01-02", "2024-03-15", close_reason="ziel_erreicht"),
            case("P1", "S3", "2024-01-02", "2024-04-01", close_reason="strukturelle_hindernisse"),
            case("P1", "S4", "2024-01-02", "2024-06-01", close_reason="strukturelle_hindernisse"),
        ],
    )
    goals = [
        ("P1", "G1", "g1", "wohnen", "2024-01-10", False),
        ("P1", "G1", "g2", "wohnen", "2024-02-10", False),
        ("P1", "G1", "g3", "sprache", "2024-03-31", True),
        ("P1", "G1", "g4", "wohnen", "2024-04-01", False),
        ("P1", "G1", "g5", "wohnen", "2024-05-16", False),
        ("P1", "G2", "g1", "wohnen", "2024-03-01", True),
        ("P1", "G2", "g2", "wohnen", "2024-03-02", False),
        ("P2", "G3", "g1", "gesundheit_psychisch", "2024-02-01", False),
    ]
    insert(
        staging_con,
        "goals",
        [
            {
                "provider_id": p,
                "case_id": c,
                "goal_id": g,
                "domain": d,
                "set_on": s,
                "status": "offen",
                "offer_available": o,
            }
            for p, c, g, d, s, o in goals
        ],
    )
    referrals = [
        ("r9", "wohnraum", "2023-12-20", "2024-01-04", "begonnen"),
        ("r1", "wohnraum", "2024-01-05", "2024-01-15", "begonnen"),
        ("r2", "wohnraum", "2024-01-10", "2024-02-09", "begonnen"),
        ("r3", "wohnraum", "2024-02-01", "2024-04-10", "begonnen"),
        ("r4", "wohnraum", "2024-02-15", None, "warteliste"),
        ("r5", "wohnraum", "2024-03-01", None, "kein_angebot"),
        ("r6", "wohnraum", "2024-03-10", None, "abgelehnt"),
        ("r7", "wohnraum", "2024-03-20", None, "nicht_wahrgenommen"),
        ("r8", "wohnraum", "2024-03-25", "2024-05-20", "begonnen"),
        ("r10", "psychotherapie", "2024-04-02", None, "offen"),
    ]
    insert(
        staging_con,
        "referrals",
        [
            {
                "provider_id": "P1",
                "case_id": "R1",
                "referral_id": i,
                "service_type": t,
                "requested_on": q,
                "started_on": s,
                "outcome": o,
            }
            for i, t, q, s, o in referrals
        ],
    )
    build(staging_con, AS_OF)
    return staging_con


def gap(con, period, domain, provider="P1"):
    return one(
        con,
        "select goals_set, goals_without_offer, cases_with_gap, gap_rate from mart.supply_gaps"
        " where period = ? and domain = ? and provider_id = ?",
        [period, domain, provider],
    )


def test_supply_gaps_per_quarter(con):
    assert gap(con, "2024-Q1", "wohnen") == {
        "goals_set": 4,
        "goals_without_offer": 3,
        "cases_with_gap": 2,
        "gap_rate": 0.75,
    }
    assert gap(con, "2024-Q1", "sprache") == {
        "goals_set": 1,
        "goals_without_offer": 0,
        "cases_with_gap": 0,
        "gap_rate": 0.0,
    }
    assert gap(con, "2024-Q2", "wohnen")["goals_set"] == 1  # g5 lies after as_of
    assert gap(con, "2024-Q1", "gesundheit_psychisch", "P2")["cases_with_gap"] == 1
    assert rows(con, "select distinct partial from mart.supply_gaps where period = '2024-Q2'") == [
        {"partial": True}
    ]


def test_supply_gaps_rollup_counts_cases_once(con):
    got = supply_gaps(con, "2024-Q1", "2024-Q2", group_by=["domain"], filters={"provider_id": "P1"})
    wohnen = got[got.domain == "wohnen"].iloc[0]
    assert (wohnen.goals_set, wohnen.goals_without_offer, wohnen.cases_with_gap) == (5, 4, 2)
    assert wohnen.gap_rate == pytest.approx(0.8)
    everything = supply_gaps(con, "2024-Q1", "2024-Q1", group_by=[])
    assert everything.iloc[0].cases_with_gap == 3  # G1, G2, G3 across providers and domains


def wait(con, period, service="wohnraum"):
    return one(
        con,
        "select referrals, no_offer, rejected, started, wait_days_median, wait_days_p90,"
        " waiting_at_end from mart.referral_waits where period = ? and service_type = ?",
        [period, service],
    )


def test_referral_waits_per_quarter(con):
    assert wait(con, "2023-Q4") == {
        "referrals": 1,
        "no_offer": 0,
        "rejected": 0,
        "started": 0,
        "wait_days_median": None,
        "wait_days_p90": None,
        "waiting_at_end": 1,
    }
    q1 = wait(con, "2024-Q1")
    assert (q1["referrals"], q1["no_offer"], q1["rejected"], q1["started"]) == (8, 1, 1, 3)
    assert q1["wait_days_median"] == 15
    assert q1["wait_days_p90"] == pytest.approx(27.0)
    assert q1["waiting_at_end"] == 3
    q2 = wait(con, "2024-Q2")
    assert (q2["referrals"], q2["started"], q2["wait_days_median"], q2["waiting_at_end"]) == (
        0,
        1,
        69,
        2,
    )
    assert wait(con, "2024-Q2", "psychotherapie")["waiting_at_end"] == 1


def test_referral_waits_rollup_recomputes_quantiles(con):
    got = referral_waits(con, "2024-Q1", "2024-Q2", group_by=["service_type"])
    w = got[got.service_type == "wohnraum"].iloc[0]
    assert (w.referrals, w.started, w.waiting_at_end) == (8, 4, 2)
    assert w.wait_days_median == pytest.approx(22.5)
    assert w.wait_days_p90 == pytest.approx(57.3)


def test_wait_quantiles_are_the_started_part_of_referral_waits(con):
    """The grid's wait quantiles skip the costly "waiting at the end"; same rows, same figures
    (hand-computed above: wohnraum over 2024-Q1..Q2, 4 started, median 22.5, p90 57.3)."""
    got = wait_quantiles(con, "2024-Q1", "2024-Q2", group_by=["service_type"])
    w = got[got.service_type == "wohnraum"].iloc[0]
    assert w.started == 4
    assert w.wait_days_median == pytest.approx(22.5)
    assert w.wait_days_p90 == pytest.approx(57.3)
    for group_by in (["period", "service_type"], ["year", "provider_id"]):
        full = referral_waits(con, group_by=group_by)
        part = wait_quantiles(con, group_by=group_by)
        cols = list(part.columns)
        expected = full[full.started > 0][cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.reset_index(drop=True), expected, check_dtype=False)


def test_structural_closures(con):
    got = rows(
        con,
        "select period, closures, structural_closures, structural_share"
        " from mart.structural_closures order by period",
    )
    assert got == [
        {"period": "2024-Q1", "closures": 2, "structural_closures": 1, "structural_share": 0.5},
        {"period": "2024-Q2", "closures": 1, "structural_closures": 1, "structural_share": 1.0},
    ]
    total = structural_closures(con, "2024-Q1", "2024-Q2").iloc[0]
    assert (total.closures, total.structural_closures) == (3, 2)


@pytest.mark.parametrize(
    ("func", "table", "keys", "values"),
    [
        (
            supply_gaps,
            "supply_gaps",
            ["domain"],
            ["goals_set", "goals_without_offer", "cases_with_gap", "gap_rate"],
        ),
        (
            referral_waits,
            "referral_waits",
            ["service_type"],
            [
                "referrals",
                "no_offer",
                "rejected",
                "started",
                "wait_days_median",
                "wait_days_p90",
                "waiting_at_end",
            ],
        ),
        (
            structural_closures,
            "structural_closures",
            [],
            ["closures", "structural_closures", "structural_share"],
        ),
    ],
)
def test_rollup_at_the_mart_grain_equals_the_mart(con, func, table, keys, values):
    """The quarter marts are the roll-up queries at their grain: the same rows exactly."""
    group = ["period", "provider_id", "program", "region_code", *keys]
    got = func(con, group_by=group).sort_values(group).reset_index(drop=True)
    mart = con.execute(f"select * from mart.{table}").df().sort_values(group)
    mart = mart.reset_index(drop=True)
    assert len(got) == len(mart) > 0
    for column in group + values:
        assert got[column].astype(object).where(got[column].notna(), None).tolist() == (
            mart[column].astype(object).where(mart[column].notna(), None).tolist()
        ), column


def test_referral_rows_are_what_the_wait_figures_count(con):
    """Lineage: Q1..Q2 wohnraum lists r1..r8 as requested, r9, r1, r2, r3 as started and r4,
    r8 as waiting at 15 May; the figures recount from exactly these rows."""
    from dashboards.read.lineage import wait_counts

    got = referral_rows(con, "2024-Q1", "2024-Q2", filters={"service_type": "wohnraum"})
    flagged = got.set_index("referral_id")
    assert sorted(flagged.index[flagged["requested_in_span"]]) == [f"r{i}" for i in range(1, 9)]
    assert sorted(flagged.index[flagged["started_in_span"]]) == ["r1", "r2", "r3", "r9"]
    assert sorted(flagged.index[flagged["waiting_at_end"]]) == ["r4", "r8"]
    counts = wait_counts(got)
    assert counts["wait_days_median"] == pytest.approx(22.5)
    assert counts["wait_days_p90"] == pytest.approx(57.3)
    assert {k: counts[k] for k in ("referrals", "no_offer", "rejected", "started")} == {
        "referrals": 8,
        "no_offer": 1,
        "rejected": 1,
        "started": 4,
    }
    assert counts["waiting_at_end"] == 2


def test_closed_cases_are_what_the_closure_figures_count(con):
    got = closed_cases(con, "2024-Q1", "2024-Q2")
    assert len(got) == 3 and int(got["structural"].sum()) == 2
    assert got.groupby("quarter").size().to_dict() == {"2024-Q1": 2, "2024-Q2": 1}


@pytest.mark.parametrize(
    ("period_from", "period_to", "filters"),
    [
        (None, None, {}),
        ("2024-Q1", "2024-Q2", {"provider_id": "P1"}),
        ("2024-Q1", "2024-Q1", {}),
        ("2024-Q2", "2024-Q2", {"domain": ["wohnen", "sprache"]}),
        (None, None, {"program": "jmd"}),
    ],
)
@pytest.mark.parametrize("group", [["domain"], [], ["provider_id", "domain"], ["region_code"]])
def test_supply_gaps_recount_from_the_goals_lineage_lists(
    con, period_from, period_to, filters, group
):
    """Lineage: the goals `gap_goals` lists for a span are what `supply_gaps` counts. The
    figures no longer read those rows through the same query (counts per quarter summed per
    span, distinct cases over the goals without an offer), so this recount guards that the two
    stay one definition."""
    listed = gap_goals(con, period_from, period_to, filters=filters)
    assert len(listed) > 0
    gap = listed[~listed["offer_available"]]
    keys = group or (lambda _: 0)
    expected = pd.DataFrame(
        {
            "goals_set": listed.groupby(keys).size(),
            "goals_without_offer": gap.groupby(keys).size(),
            "cases_with_gap": gap.groupby(keys)[["provider_id", "case_id"]].apply(
                lambda g: len(g.drop_duplicates())
            ),
        }
    ).fillna(0)
    got = supply_gaps(con, period_from, period_to, group_by=group, filters=filters)
    assert len(got) == len(expected)
    got = got.set_index(group) if group else got.set_index(pd.Index([0] * len(got)))
    for column in expected.columns:
        assert got[column].astype(int).to_dict() == expected[column].astype(int).to_dict(), column
