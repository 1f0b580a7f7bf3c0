"""Kaplan–Meier curves for suppressed readers: no step rests on fewer than k events or on
fewer than k persons at risk, and the windows of the table are the chart's own points."""

from __future__ import annotations

import itertools

import numpy as np

from dashboards.disclosure.curves import protected_days


def _check(durations, observed, days, k):
    t = np.asarray(durations, float)
    e = np.asarray(observed, bool)
    for a, b in itertools.pairwise(days):
        assert ((t > a) & (t <= b) & e).sum() >= k, (a, b)
        assert (t >= b).sum() >= k, b


def test_hand_example_windows_and_subdivisions():
    # 12 persons; events on days 10, 20, 30 (one each), 100, 110, 120, 190; censored otherwise
    durations = [10, 20, 30, 100, 110, 120, 190, 400, 400, 400, 400, 400]
    observed = [True] * 7 + [False] * 5
    days = protected_days(durations, observed, k=3, windows=(183, 365), step=7)
    # 183 holds 6 events since 0; a grid day can split them only once 3 events have passed
    # and 3 remain before 183: day 35 (events 10, 20, 30) leaves 100, 110, 120 for 183
    # 365: only one event (190) after 183 -> that window is not a point
    assert days == [0, 35, 183]
    _check(durations, observed, days, 3)


def test_a_window_with_too_few_events_is_not_shown():
    durations = [5, 300, 300, 300, 300]
    observed = [True, False, False, False, False]
    assert protected_days(durations, observed, k=3, windows=(183, 365)) == [0]


def test_too_few_at_risk_ends_the_curve():
    # 6 events early, then only 2 persons left at risk at day 183
    durations = [10, 11, 12, 13, 14, 15, 200, 200]
    observed = [True] * 6 + [False] * 2
    days = protected_days(durations, observed, k=3, windows=(183,), step=7)
    assert 183 not in days
    _check(durations, observed, days, 3)
    assert days == [0, 14]  # 5 events by day 14 with 4 at risk; then only 2 remain


def test_random_curves_never_have_a_thin_step():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 80))
        durations = rng.integers(0, 800, n)
        observed = rng.random(n) < rng.random()
        k = int(rng.integers(2, 6))
        days = protected_days(
            durations, observed, k, (183, 365, 730), step=int(rng.integers(1, 30))
        )
        assert days[0] == 0 and days == sorted(set(days))
        _check(durations, observed, days, k)
