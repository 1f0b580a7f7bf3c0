"""Kaplan–Meier and Wilson: the two statistics SQL cannot do well, vectorised with numpy.

- `wilson_interval`: the Wilson score interval of a binomial proportion (as
  statsmodels' `proportion_confint(method="wilson")`).
- `kaplan_meier_at`: the Kaplan–Meier survival S(W), the cumulative incidence 1 - S(W) and its
  confidence interval at given horizons, with the number at risk at W. Variance by Greenwood's
  formula, interval by the log(-log) transform ("exponential Greenwood", R's `conf.type =
  "log-log"`, lifelines' default), so the interval stays within [0, 1].

Both are cross-checked against lifelines and statsmodels in tests/unit/test_survival.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import numpy as np
import pandas as pd


def z_value(confidence: float = 0.95) -> float:
    """Two-sided standard-normal quantile: 1.959963984540054 for 95 %."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for successes / trials (arrays or scalars).

    Returns (low, high) as float arrays; NaN where trials == 0.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def case_weights(weights, size: int) -> np.ndarray | None:
    """Whole non-negative case counts per value (None: each value is one case)."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.shape != (size,):
        raise ValueError("weights must have one entry per value")
    out = w.astype(np.int64)
    if (out < 0).any() or not np.array_equal(out, w):
        raise ValueError("weights are case counts: whole and non-negative")
    return out


class CumulativeCounts:
    """How many of `values` are <= x (or < x), for many x; `weights`: how many cases each
    value stands for (closed cases grouped by their day numbers in SQL).

    Day counts are whole numbers: one `bincount` and its running sum answer every question in
    O(1), where sorting the 660,000 closed cases of 1,000,000 took 40 ms per sort (a re-entry
    view sorted them 13 times). Anything else (NaN, fractions, negatives) is sorted once and
    searched, as before."""

    MAX_WHOLE = 1_000_000  # a longer range of days is no day count: sort instead

    def __init__(self, values, weights=None):
        v = np.asarray(values, dtype=float)
        w = case_weights(weights, v.size)
        self.n = v.size if w is None else int(w.sum())
        self._sorted = self._cum = self._sorted_cum = None
        whole = v.size and v.min() >= 0 and v.max() < self.MAX_WHOLE
        if whole and np.array_equal(v, np.floor(v)):
            self._cum = np.cumsum(np.bincount(v.astype(np.int64), weights=w))
            if w is not None:  # bincount sums weights as floats: whole again, exactly
                self._cum = np.rint(self._cum).astype(np.int64)
        elif w is None:
            self._sorted = np.sort(v)
        else:
            order = np.argsort(v, kind="stable")
            self._sorted = v[order]
            self._sorted_cum = np.concatenate([[0], np.cumsum(w[order])])

    def _searched(self, x, side: str) -> np.ndarray:
        if not self.n:
            return np.zeros_like(x)
        i = np.searchsorted(self._sorted, x, side=side)
        return i if self._sorted_cum is None else self._sorted_cum[i]

    def at_most(self, x) -> np.ndarray:
        """#(values <= x)."""
        if self._cum is not None and isinstance(x, int | float):  # one day: no array
            i = math.floor(x)
            return 0 if i < 0 else int(self._cum[min(i, len(self._cum) - 1)])
        x = np.asarray(x, dtype=float)
        if self._cum is None:
            return self._searched(x, "right")
        i = np.clip(np.floor(x), -1, len(self._cum) - 1).astype(np.int64)
        return np.where(i < 0, 0, self._cum[np.maximum(i, 0)])

    def below(self, x) -> np.ndarray:
        """#(values < x)."""
        if self._cum is not None:
            if isinstance(x, int | float):
                return self.at_most(math.ceil(x) - 1)
            return self.at_most(np.ceil(np.asarray(x, dtype=float)) - 1)
        return self._searched(np.asarray(x, dtype=float), "left")


def kaplan_meier_at(
    durations, observed, horizons: Iterable[int], confidence: float = 0.95, weights=None
) -> pd.DataFrame:
    """Kaplan–Meier estimate at each horizon W.

    durations: time to the event or to censoring (days, >= 0); observed: True where the event
    happened at that time. Returns one row per horizon with

    - `survival` S(W) = prod over event times t <= W of (1 - d_t / n_t)
    - `cumulative_incidence` 1 - S(W) with `ci_low` / `ci_high` (log-log Greenwood interval)
    - `at_risk` subjects with time >= W (still observed and event-free just before W)
    - `events` events at times <= W.

    `weights`: how many cases each row stands for (rows grouped by their days); the estimate
    is that of the expanded rows, exactly.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if t.shape != e.shape:
        raise ValueError("durations and observed must have the same length")
    horizons = np.asarray(list(horizons), dtype=float)
    w = case_weights(weights, t.size)
    times = CumulativeCounts(t, w)
    n_total = times.n

    if w is None:
        event_times, deaths = np.unique(t[e], return_counts=True)
    else:
        event_times, where = np.unique(t[e], return_inverse=True)
        deaths = np.bincount(where, weights=w[e], minlength=event_times.size)
        deaths = np.rint(deaths).astype(np.int64)
        event_times, deaths = event_times[deaths > 0], deaths[deaths > 0]
    # at risk at an event time: everyone whose time is >= it
    at_risk_events = n_total - times.below(event_times)
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = 1 - deaths / at_risk_events
        greenwood_terms = np.where(
            at_risk_events > deaths, deaths / (at_risk_events * (at_risk_events - deaths)), 0.0
        )
    survival_steps = np.cumprod(factors) if event_times.size else np.array([])
    greenwood_steps = np.cumsum(greenwood_terms) if event_times.size else np.array([])

    idx = np.searchsorted(event_times, horizons, side="right") - 1
    has_step = idx >= 0
    safe_idx = np.where(has_step, idx, 0)
    survival = np.where(has_step, survival_steps[safe_idx] if event_times.size else 1.0, 1.0)
    variance = np.where(has_step, greenwood_steps[safe_idx] if event_times.size else 0.0, 0.0)

    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival)
        s_low = np.exp(-np.exp(np.log(-log_s) - z * np.sqrt(variance) / log_s))
        s_high = np.exp(-np.exp(np.log(-log_s) + z * np.sqrt(variance) / log_s))
    # S = 1 (no event yet): the interval is the point; S = 0: likewise (lifelines does the same)
    s_low = np.where(np.isnan(s_low), survival, s_low)
    s_high = np.where(np.isnan(s_high), survival, s_high)

    at_risk = n_total - times.below(horizons)
    events = np.where(has_step, np.cumsum(deaths)[safe_idx] if event_times.size else 0, 0)
    return pd.DataFrame(
        {
            "horizon": horizons.astype(int),
            "survival": survival,
            "cumulative_incidence": 1 - survival,
            "ci_low": 1 - s_high,
            "ci_high": 1 - s_low,
            "at_risk": at_risk.astype(int),
            "events": events.astype(int),
        }
    )
