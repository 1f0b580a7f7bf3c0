"""Kaplan–Meier and Wilson (transforms/survival.py) and the re-entry rates
(transforms/reentry.py): by hand on a small table, and against lifelines and statsmodels on
generated data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from transforms.reentry import RESULT_COLUMNS, reentry_rates
from transforms.survival import CumulativeCounts, kaplan_meier_at, wilson_interval

# Eight closed cases: (followup_days, reentry_days)
#   1 (400, 20)  2 (400, –)  3 (400, 200)  4 (100, –)  5 (300, 250)  6 (200, –)
#   7 (50, 30)   8 (800, 700)
# KM over (time, event): 20E 30E 100C 200E 200C 250E 400C 700E, N = 8
#   t=20  n=8 d=1  S = 7/8
#   t=30  n=7 d=1  S = 7/8 · 6/7 = 0.75
#   t=200 n=5 d=1  S = 0.75 · 4/5 = 0.6     (at risk: 200E, 200C, 250, 400, 700)
#   t=250 n=3 d=1  S = 0.6 · 2/3 = 0.4
#   t=700 n=1 d=1  S = 0
# W=183: 1 − S = 0.25, at risk (time ≥ 183) 5, events ≤ 183: 2
#        observed: eligible (followup ≥ 183) = cases 1, 2, 3, 5, 6, 8 = 6; re-entered by 183: 1
# W=365: 1 − S = 0.6, at risk 2 (400, 800→700); eligible 1, 2, 3, 8 = 4; re-entered: 1, 3 = 2
# W=730: 1 − S = 1.0, at risk 0; eligible: 8 only = 1; re-entered by 730: 8 (700) = 1
HAND = pd.DataFrame(
    {
        "followup_days": [400, 400, 400, 100, 300, 200, 50, 800],
        "reentry_days": [20, None, 200, None, 250, None, 30, 700],
        "relapse_days": [None] * 8,
        "person_key_present": [True, True, False, True, True, True, False, True],
        "program": ["kim"] * 4 + ["jmd"] * 4,
        "intensity": ["case_management"] * 8,
        "close_reason": ["ziel_erreicht"] * 8,
    }
)


def test_kaplan_meier_by_hand():
    t = np.where(HAND.reentry_days.notna(), HAND.reentry_days, HAND.followup_days)
    km = kaplan_meier_at(t, HAND.reentry_days.notna(), [183, 365, 730])
    assert km.cumulative_incidence.tolist() == pytest.approx([0.25, 0.6, 1.0])
    assert km.at_risk.tolist() == [5, 2, 0]
    assert km.events.tolist() == [2, 4, 5]


def test_reentry_rates_by_hand():
    got = reentry_rates(HAND, events=["reentry"], as_of=date(2025, 12, 31))
    assert list(got.columns) == RESULT_COLUMNS
    assert got.window_days.tolist() == [183, 365, 730]
    assert got.eligible.tolist() == [6, 4, 1]
    assert got.events_observed.tolist() == [1, 2, 1]
    assert got.observed_rate.tolist() == pytest.approx([1 / 6, 0.5, 1.0])
    # Wilson 1/6: centre (1/6 + z²/12) / (1 + z²/6), half-width z·√(p(1−p)/6 + z²/144)/(1 + z²/6)
    assert got.observed_ci_low[0] == pytest.approx(0.0301, abs=1e-4)
    assert got.observed_ci_high[0] == pytest.approx(0.5635, abs=1e-4)
    assert got.km_cumulative_incidence.tolist() == pytest.approx([0.25, 0.6, 1.0])
    assert got.km_at_risk.tolist() == [5, 2, 0]
    assert got.person_key_share.iloc[0] == pytest.approx(6 / 8)
    text = got.definition.iloc[1]
    for part in (
        "Wiederaufnahme",
        "15 Tage nach dem Fallabschluss",
        "Übergabe",
        "Quelle: Fallexporte",
        "Fensterbeginn: Tag des Fallabschlusses",
        "Fensterlänge: 365 Tage",
        "Grundgesamtheit: 8 abgeschlossene Fälle bis zum Datenstand 31.12.2025",
        "Programme: Jugendmigrationsdienst (JMD), KIM-Case-Management",
        "Intensitäten: Case Management",
        "Abschlussgründe: Ziel erreicht",
        "Wilson",
        "Kaplan–Meier",
        "75 %",
    ):
        assert part in text, part


def test_the_population_text_from_the_distinct_codes_is_the_text_from_every_case():
    """A dashboard fetches the codes present (distinct values), not one code per case: the
    definition must not change by that."""
    days = HAND.drop(columns=["program", "intensity", "close_reason"])
    present = {c: list(HAND[c].dropna().unique()) for c in ("program", "intensity", "close_reason")}
    whole = reentry_rates(HAND, windows=[365], as_of=date(2025, 12, 31))
    from_codes = reentry_rates(days, windows=[365], as_of=date(2025, 12, 31), present_codes=present)
    assert from_codes.definition.tolist() == whole.definition.tolist()
    assert from_codes.drop(columns="definition").equals(whole.drop(columns="definition"))
    only_kim = {**present, "program": ["kim", None]}
    text = reentry_rates(days, windows=[365], present_codes=only_kim).definition.iloc[0]
    assert "Programme: KIM-Case-Management;" in text
    assert "Programme: nicht angegeben" in reentry_rates(days, windows=[365]).definition.iloc[0]


def test_relapse_definition_names_kinds_and_source():
    got = reentry_rates(HAND, windows=[365], events=["relapse"], base_population="nur PCVE")
    text = got.definition.iloc[0]
    assert "Rückfall" in text and "Szenekontakt" in text and "Tabelle Rückfälle" in text
    assert "Grundgesamtheit: nur PCVE" in text
    assert got.events_observed.iloc[0] == 0 and got.km_cumulative_incidence.iloc[0] == 0


def test_empty_subgroup():
    got = reentry_rates(HAND.iloc[:0])
    assert (got.eligible == 0).all() and got.observed_rate.isna().all()


def test_accepts_a_duckdb_relation():
    import duckdb

    con = duckdb.connect()
    con.register("r", HAND)
    got = reentry_rates(con.sql("select * from r where program = 'kim'"), events=["reentry"])
    assert got.closed_cases.iloc[0] == 4
    assert "Programme: KIM-Case-Management" in got.definition.iloc[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wilson_matches_statsmodels(seed):
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(seed)
    n = rng.integers(1, 500, size=200)
    k = rng.binomial(n, rng.uniform(0, 1, size=200))
    k[:3] = [0, n[1], 1]  # the edges 0 and n
    low, high = wilson_interval(k, n)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_kaplan_meier_matches_lifelines(seed):
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(seed)
    n = 3000
    followup = rng.integers(0, 1100, size=n)  # days since closure at as_of
    event_time = rng.exponential(600, size=n).astype(int) + 15  # re-entry from day 15
    happened = event_time <= followup
    durations = np.where(happened, event_time, followup)
    horizons = [183, 365, 730]
    ours = kaplan_meier_at(durations, happened, horizons)

    kmf = KaplanMeierFitter().fit(durations, happened)
    ref_s = kmf.survival_function_at_times(horizons).to_numpy()
    np.testing.assert_allclose(ours.survival, ref_s, rtol=1e-10)
    ci = kmf.confidence_interval_survival_function_
    idx = ci.index.searchsorted(horizons, side="right") - 1
    ref_low, ref_high = ci.iloc[idx, 0].to_numpy(), ci.iloc[idx, 1].to_numpy()
    np.testing.assert_allclose(ours.ci_low, 1 - ref_high, rtol=1e-8)
    np.testing.assert_allclose(ours.ci_high, 1 - ref_low, rtol=1e-8)
    table = kmf.event_table
    for h, at_risk in zip(horizons, ours.at_risk, strict=True):
        # lifelines: at_risk at a time = subjects with duration >= that time
        later = table[table.index >= h]
        expected = int(later.at_risk.iloc[0]) if len(later) else 0
        assert at_risk == expected


def test_reentry_rates_match_peer_libraries_on_generated_data():
    from lifelines import KaplanMeierFitter
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(7)
    n = 5000
    followup = rng.integers(0, 1200, size=n)
    t = rng.exponential(900, size=n).astype(int) + 15
    df = pd.DataFrame(
        {
            "followup_days": followup,
            "reentry_days": np.where(t <= followup, t, np.nan),
            "relapse_days": np.nan,
            "person_key_present": rng.uniform(size=n) < 0.8,
        }
    )
    got = reentry_rates(df, events=["reentry"]).set_index("window_days")
    kmf = KaplanMeierFitter().fit(
        np.where(df.reentry_days.notna(), df.reentry_days, df.followup_days),
        df.reentry_days.notna(),
    )
    for w in (183, 365, 730):
        eligible = int((df.followup_days >= w).sum())
        events = int(((df.followup_days >= w) & (df.reentry_days <= w)).sum())
        low, high = proportion_confint(events, eligible, method="wilson")
        row = got.loc[w]
        assert (row.eligible, row.events_observed) == (eligible, events)
        assert row.observed_ci_low == pytest.approx(low, abs=1e-12)
        assert row.observed_ci_high == pytest.approx(high, abs=1e-12)
        assert row.km_cumulative_incidence == pytest.approx(
            1 - kmf.survival_function_at_times([w]).iloc[0], abs=1e-12
        )


@pytest.mark.parametrize(
    "values",
    [
        [0, 3, 3, 7, 730, 731, 2000],  # day counts: the counting path
        [0.5, 3, 3, 7.25, 730],  # fractions: sorted and searched
        [np.nan, 3, 7],  # a missing value: sorted and searched
        [-2, 3, 7],
        [],
    ],
)
def test_cumulative_counts_agree_with_searching_the_sorted_values(values):
    """The counting shortcut (whole day numbers) answers exactly what searchsorted on the
    sorted values answers, for whole and fractional days, before, inside and after them."""
    counts = CumulativeCounts(values)
    ordered = np.sort(np.asarray(values, dtype=float))
    xs = [-5, -1, 0, 0.5, 2.999, 3, 3.5, 7, 100, 729.5, 730, 731, 5000]
    expect_le = np.searchsorted(ordered, xs, side="right")
    expect_lt = np.searchsorted(ordered, xs, side="left")
    assert counts.at_most(np.asarray(xs)).tolist() == expect_le.tolist()
    assert counts.below(np.asarray(xs)).tolist() == expect_lt.tolist()
    assert [counts.at_most(x) for x in xs] == expect_le.tolist()  # one day at a time
    assert [counts.below(x) for x in xs] == expect_lt.tolist()


@pytest.mark.parametrize(
    "values",
    [
        [0, 3, 3, 7, 730, 731, 2000],  # day counts: the counting path
        [0.5, 3, 7.25, 730],  # fractions: sorted and searched
        [np.nan, 3, 7],
        [],
    ],
)
def test_cumulative_counts_of_grouped_values_are_those_of_the_expanded_values(values):
    """A dashboard groups the closed cases by their day numbers in SQL; each value then
    stands for `weights` cases, and every count is that of the repeated values."""
    v = np.asarray(values, dtype=float)
    weights = np.arange(1, v.size + 1) * 3
    grouped, expanded = CumulativeCounts(v, weights), CumulativeCounts(np.repeat(v, weights))
    xs = np.asarray([-1, 0, 0.5, 3, 3.5, 7, 729.5, 730, 5000])
    assert grouped.n == expanded.n
    assert grouped.at_most(xs).tolist() == expanded.at_most(xs).tolist()
    assert grouped.below(xs).tolist() == expanded.below(xs).tolist()
    assert [grouped.at_most(x) for x in xs] == [expanded.at_most(x) for x in xs]


def _closed_cases(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    followup = rng.integers(0, 900, size=n)
    t = rng.integers(20, 1200, size=n)
    r = rng.integers(1, 800, size=n)
    return pd.DataFrame(
        {
            "followup_days": followup,
            "reentry_days": np.where(t <= followup, t, np.nan),
            "relapse_days": np.where((r <= followup) & (rng.uniform(size=n) < 0.1), r, np.nan),
            "person_key_present": rng.uniform(size=n) < 0.7,
        }
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_rates_from_cases_grouped_by_their_days_are_the_rates_of_the_cases(seed):
    """Grouped rows with a `cases` column give the same table, to the last bit: counts, rates,
    intervals, Kaplan–Meier values and the definition text."""
    df = _closed_cases(seed)
    cols = list(df.columns)
    grouped = df.groupby(cols, dropna=False).size().rename("cases").reset_index()
    assert len(grouped) < len(df)
    windows = (183, 365, 730)
    pd.testing.assert_frame_equal(
        reentry_rates(grouped, windows), reentry_rates(df, windows), check_exact=True
    )
    days = [0, 30, 183, 365, 500, 730]
    for column in ("reentry_days", "relapse_days"):
        happened = df[column].notna()
        durations = np.where(happened, df[column], df["followup_days"])
        g_happened = grouped[column].notna()
        g_durations = np.where(g_happened, grouped[column], grouped["followup_days"])
        pd.testing.assert_frame_equal(
            kaplan_meier_at(g_durations, g_happened, days, weights=grouped["cases"]),
            kaplan_meier_at(durations, happened, days),
            check_exact=True,
        )


def test_protected_curve_days_of_grouped_cases_are_those_of_the_cases():
    from dashboards.disclosure.curves import protected_days

    df = _closed_cases(3, n=1500)
    grouped = df.groupby(list(df.columns), dropna=False).size().rename("cases").reset_index()
    for frame, weights in ((df, None), (grouped, grouped["cases"])):
        happened = frame["reentry_days"].notna().to_numpy()
        durations = np.where(happened, frame["reentry_days"], frame["followup_days"])
        known = (frame["person_key_present"] & happened).to_numpy()
        got = protected_days(durations, happened, 5, (183, 365, 730), 7, known, weights=weights)
        if weights is None:
            expected = got
    assert got == expected and len(got) > 3


def test_case_counts_must_be_whole_and_not_negative():
    with pytest.raises(ValueError):
        CumulativeCounts([1, 2], [1, -1])
    with pytest.raises(ValueError):
        kaplan_meier_at([1, 2], [True, False], [1], weights=[1.5, 1])


def test_a_grouped_duckdb_relation_keeps_its_case_counts():
    """A relation grouped by the days (with `cases`) gives the rates of its cases, like the
    grouped DataFrame: the column is not dropped on the way into pandas."""
    import duckdb

    df = _closed_cases(4, n=600)
    con = duckdb.connect()
    con.register("r", df)
    grouped = con.sql("select *, count(*) as cases from r group by all")
    pd.testing.assert_frame_equal(
        reentry_rates(grouped, (183, 365)), reentry_rates(df, (183, 365)), check_exact=True
    )
