"""Coded themes: window, thresholds, once-per-case rule, trend, labels, exemplary cases."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from kernel.settings import Settings
from tests import themes_data as td
from transforms.themes.build import build_themes, theme_window
from transforms.themes.read import exemplary_cases

WZ = "T-wartezeit-gesundheit_psychisch"


def _settings(tmp_path, **kw) -> Settings:
    return dataclasses.replace(Settings(workspace=tmp_path), **kw)


def _themes(con) -> dict[str, dict]:
    cur = con.execute("SELECT * FROM mart.themes")
    cols = [d[0] for d in cur.description]
    return {row[0]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


@pytest.fixture
def coded_con(staging_con):
    td.set_as_of(staging_con)
    td.build_coded(staging_con)
    td.build_mart_cases(staging_con)
    return staging_con


def test_window_is_four_calendar_quarters_up_to_as_of():
    w = theme_window(date(2026, 9, 30))
    assert (w.start, w.recent_start, w.end) == (
        date(2025, 10, 1),
        date(2026, 4, 1),
        date(2026, 9, 30),
    )
    # as_of inside a quarter: that quarter is the 4th (partial) one
    w = theme_window(date(2026, 10, 15))
    assert (w.start, w.recent_start, w.end) == (
        date(2026, 1, 1),
        date(2026, 7, 1),
        date(2026, 10, 15),
    )
    assert w.days_prev == 181 and w.days_recent == 107
    w = theme_window(date(2026, 2, 1), quarters=6)
    assert (w.start, w.recent_start) == (date(2024, 10, 1), date(2025, 7, 1))


def test_thresholds_default(coded_con, tmp_path):
    build_themes(coded_con, _settings(tmp_path))
    themes = _themes(coded_con)
    # 6 cases from 3 providers: a theme, labelled from the contract
    assert themes[WZ]["active"]
    assert themes[WZ]["label"] == "Wartezeit – Psychische Gesundheit"
    assert (themes[WZ]["cases"], themes[WZ]["providers"], themes[WZ]["regions"]) == (6, 3, 3)
    assert themes[WZ]["kind"] == "code"
    assert themes[WZ]["status"] == "neu"
    # exactly at the thresholds (5 cases, 2 providers): a theme
    zu = themes["T-zustaendigkeit_unklar-lebensunterhalt"]
    assert zu["active"] and (zu["cases"], zu["providers"]) == (5, 2)
    # 7 cases at one provider: local, not a theme
    assert "T-kosten-wohnen" not in themes
    # 4 cases (5 rows): below min_cases
    assert "T-sprachbarriere-sprache" not in themes
    # only 3 of 5 cases in the window
    assert "T-kein_angebot-familie_kinderbetreuung" not in themes
    assert set(themes) == {WZ, "T-zustaendigkeit_unklar-lebensunterhalt"}


def test_thresholds_configurable(coded_con, tmp_path):
    build_themes(coded_con, _settings(tmp_path, theme_min_cases=7, theme_min_providers=1))
    themes = _themes(coded_con)
    assert {t for t, r in themes.items() if r["active"]} == {"T-kosten-wohnen"}
    assert themes["T-kosten-wohnen"]["min_cases"] == 7
    assert themes["T-kosten-wohnen"]["min_providers"] == 1


def test_barrier_noted_twice_in_one_case_counts_once(coded_con, tmp_path):
    build_themes(coded_con, _settings(tmp_path, theme_min_cases=4))
    sp = _themes(coded_con)["T-sprachbarriere-sprache"]
    assert sp["active"]
    assert sp["cases"] == 4  # 5 barrier rows, 4 distinct cases
    # the case noted in both halves counts once in each half
    assert (sp["cases_prev"], sp["cases_recent"]) == (4, 1)


def test_only_the_window_counts(coded_con, tmp_path):
    build_themes(coded_con, _settings(tmp_path, theme_min_cases=3))
    ka = _themes(coded_con)["T-kein_angebot-familie_kinderbetreuung"]
    assert ka["cases"] == 3  # 2025-03-01 and 2025-09-30 lie before 2025-10-01
    assert ka["window_start"] == date(2025, 10, 1) and ka["window_end"] == td.AS_OF
    # first seen covers the history up to as_of, last seen the latest note
    assert ka["first_seen"] == date(2025, 3, 1)
    assert ka["last_seen"] == date(2026, 6, 15)
    # nothing after as_of is counted
    td.add_case(coded_con, "P3", "late", "05315")
    td.add_barrier(
        coded_con, "P3", "late", date(2026, 10, 2), "kein_angebot", "familie_kinderbetreuung"
    )
    build_themes(coded_con, _settings(tmp_path, theme_min_cases=3))
    assert _themes(coded_con)["T-kein_angebot-familie_kinderbetreuung"]["cases"] == 3


def test_catch_all_barrier_is_no_coded_theme(coded_con, tmp_path):
    for i, p in enumerate(["P1", "P2", "P3", "P1", "P2", "P3"]):
        td.add_case(coded_con, p, f"S{i}", td.REGIONS[p])
        td.add_barrier(coded_con, p, f"S{i}", date(2026, 5, 1), "sonstiges", "sonstiges")
    build_themes(coded_con, _settings(tmp_path))
    assert not any(t.startswith("T-sonstiges-") for t in _themes(coded_con))


def test_trend_word_and_numbers(coded_con, tmp_path):
    # 'fallend': 8 cases in the first half, 2 in the second
    for i in range(10):
        p = ["P1", "P2"][i % 2]
        td.add_case(coded_con, p, f"F{i}", td.REGIONS[p])
        noted = date(2026, 1, 10) if i < 8 else date(2026, 5, 10)
        td.add_barrier(coded_con, p, f"F{i}", noted, "digitale_zugangshuerde", "aufenthalt")
    build_themes(coded_con, _settings(tmp_path))
    themes = _themes(coded_con)
    fa = themes["T-digitale_zugangshuerde-aufenthalt"]
    assert (fa["trend"], fa["cases_prev"], fa["cases_recent"]) == ("fallend", 8, 2)
    zu = themes["T-zustaendigkeit_unklar-lebensunterhalt"]
    assert (zu["trend"], zu["cases_prev"], zu["cases_recent"]) == ("steigend", 0, 5)
    wz = themes[WZ]  # 2 -> 4: fewer than 2 cases more per half-year (projected): unchanged
    assert (wz["trend"], wz["cases_prev"], wz["cases_recent"]) == ("gleichbleibend", 2, 4)


def test_trend_accounts_for_the_partial_last_quarter(staging_con, tmp_path):
    # as_of 2026-10-15: the second half has 107 days against 181; 6 vs 6 cases is a rise
    td.set_as_of(staging_con, date(2026, 10, 15))
    for i in range(12):
        p = ["P1", "P2", "P3"][i % 3]
        td.add_case(staging_con, p, f"C{i}", td.REGIONS[p])
        noted = date(2026, 3, 1) if i < 6 else date(2026, 9, 1)
        td.add_barrier(staging_con, p, f"C{i}", noted, "wartezeit", "wohnen")
    build_themes(staging_con, _settings(tmp_path))
    t = _themes(staging_con)["T-wartezeit-wohnen"]
    assert (t["cases_prev"], t["cases_recent"], t["trend"]) == (6, 6, "steigend")
    assert t["cases_recent_projected"] == pytest.approx(6 * 181 / 107, abs=0.05)


def test_exemplary_cases_round_robin_with_mart_cases_rows(coded_con, tmp_path):
    build_themes(coded_con, _settings(tmp_path))
    keys = list(_themes(coded_con)[WZ]["exemplary_cases"])
    assert len(keys) == 5
    # the first three come from three different providers
    assert len({k.split(":")[0] for k in keys[:3]}) == 3
    ex = exemplary_cases(coded_con, WZ)
    assert list(ex["exemplary_rank"]) == [1, 2, 3, 4, 5]
    assert [f"{p}:{c}" for p, c in zip(ex["provider_id"], ex["case_id"], strict=True)] == keys
    # mart.cases columns at hand for the working group, no free text
    assert {"program", "region_code", "barrier_codes"} <= set(ex.columns)
    assert not {"note", "notiz"} & set(ex.columns)
    # a provider sees its own cases of the theme only
    own = exemplary_cases(coded_con, WZ, provider_id="P2")
    assert set(own["provider_id"]) == {"P2"} and len(own) == 2


def test_exemplary_cases_prefer_the_most_frequent_combination(staging_con, tmp_path):
    td.set_as_of(staging_con)
    for i in range(8):
        p = ["P1", "P2"][i % 2]
        td.add_case(staging_con, p, f"K{i}", td.REGIONS[p])
        td.add_barrier(staging_con, p, f"K{i}", date(2026, 5, 1), "wartezeit", "wohnen")
        if i < 6:  # most cases also have a cost barrier in housing
            td.add_barrier(staging_con, p, f"K{i}", date(2026, 5, 2), "kosten", "wohnen")
    td.build_mart_cases(staging_con)
    build_themes(staging_con, _settings(tmp_path, theme_exemplary_cases=4))
    ex = exemplary_cases(staging_con, "T-wartezeit-wohnen")
    assert set(ex["case_id"]) <= {f"K{i}" for i in range(6)}
    assert ex["typicality"].tolist() == [0.75] * 4
