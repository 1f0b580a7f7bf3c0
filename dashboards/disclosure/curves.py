"""Kaplan–Meier curves a suppressed reader may see: coarsened so that no step rests on fewer
than k events or fewer than k persons at risk (metrics.md, "Small numbers").

The exact curve steps at every event day, and its step sizes together with the numbers at risk
give the events back. The protected curve is shown only at chosen days: between two of them
lie at least k events, and at least k persons are still at risk at each of them (so every
event inside rests on at least k at risk). The windows of the rate table are preferred as
such days, so the chart and the table show the same values; where the counts do not allow a
day, the table hides that window's curve value too. The curve ends at the last chosen day.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from transforms.survival import CumulativeCounts, case_weights

# What a suppressed reader gets of a curve value: the incidence in whole percent, no 95 %
# interval. At full precision the values between two shown days are exact products
# (1 − d₁/n₁)(1 − d₂/n₂)…, and with their Greenwood intervals a reader could solve for the
# numbers at risk at every event day (review of 2026-12-07, morning); at 0.1 % the incidence
# and its interval still gave a step's events and persons at risk: pcve, day 105, (1.8 %,
# 0.6 %, 5.5 %) is 3 events among 166 (second review, same day). An estimate alone, in
# whole percent, fits many pairs of counts.
CURVE_DECIMALS = 2
CURVE_VALUES = ("cumulative_incidence", "ci_low", "ci_high")
INTERVAL_VALUES = ("ci_low", "ci_high")


def coarse(values):
    """Curve values as a suppressed reader gets them: rounded; the interval bounds (columns
    ending in ``ci_low``, ``ci_high``) are withheld by the caller (`interval_columns`)."""
    return values.round(CURVE_DECIMALS)


def interval_columns(columns) -> list[str]:
    """The columns of a curve's 95 % interval, which a suppressed reader does not get."""
    return [c for c in columns if str(c).endswith(INTERVAL_VALUES)]


def protected_days(
    durations, observed, k: int, windows: Sequence[int], step: int = 7, known=None, weights=None
) -> list[int]:
    """Day 0 and the days at which the cumulative incidence may be shown.

    `known`: per case, whether the reader knows its event already (a provider: the events it
    recorded itself). Then the events it does not know, between two shown days, are 0 or at
    least k too — else the curve against its own records would pin how many of its clients
    another provider saw. `weights`: how many cases each row stands for (grouped rows)."""
    t = np.asarray(durations, dtype=float)
    happened = np.asarray(observed, dtype=bool)
    w = case_weights(weights, t.size)

    def counts(rows: np.ndarray) -> CumulativeCounts:
        return CumulativeCounts(t[rows], None if w is None else w[rows])

    event_days = counts(happened)
    unknown = happened if known is None else happened & ~np.asarray(known, dtype=bool)
    unknown_days = counts(unknown) if known is not None else None
    all_days = CumulativeCounts(t, w)

    def count(days: CumulativeCounts, a: float, b: float) -> int:  # in (a, b]
        return int(days.at_most(b) - days.at_most(a))

    def events(a: float, b: float) -> int:
        e = count(event_days, a, b)
        hidden = count(unknown_days, a, b) if unknown_days is not None else 0
        return e if hidden == 0 or hidden >= k else 0  # 0: the step is not allowed

    def at_risk(d: float) -> int:
        return int(all_days.n - all_days.below(d))

    def allowed(a: float, b: float) -> bool:
        return events(a, b) >= k and at_risk(b) >= k

    chosen = [0]
    for w in sorted(windows):  # windows first: the table shows exactly these values
        if allowed(chosen[-1], w):
            chosen.append(int(w))
    horizon = max(windows)
    points = [0]
    anchors = [*chosen[1:], None]  # subdivide between anchors, and the tail after the last
    for anchor in anchors:
        end = horizon if anchor is None else anchor
        for day in range(points[-1] + step, end + (anchor is None), step):
            if allowed(points[-1], day) and (anchor is None or events(day, anchor) >= k):
                points.append(day)
        if anchor is not None:
            points.append(anchor)
    return points
