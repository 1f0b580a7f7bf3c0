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


def protected_days(durations, observed, k: int, windows: Sequence[int], step: int = 7) -> list[int]:
    """Day 0 and the days at which the cumulative incidence may be shown."""
    t = np.asarray(durations, dtype=float)
    event_days = np.sort(t[np.asarray(observed, dtype=bool)])
    all_days = np.sort(t)

    def events(a: float, b: float) -> int:  # events in (a, b]
        return int(
            np.searchsorted(event_days, b, "right") - np.searchsorted(event_days, a, "right")
        )

    def at_risk(d: float) -> int:
        return int(all_days.size - np.searchsorted(all_days, d, "left"))

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
