"""Supply gaps, referral waits and structural closures, from `transforms.gaps` (the one
definition of these figures), scoped and suppressed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, rollup_filters
from transforms import gaps as figures
from transforms.survival import wilson_interval

GAP_COUNTS = ["goals_set", "goals_without_offer", "cases_with_gap"]


def _gap_rows(
    source: Source, viewer: Viewer, filters: Filters, group_by: Sequence[str]
) -> pd.DataFrame:
    """goals_set, goals_without_offer, cases_with_gap (distinct cases, exact over any span),
    gap_rate for the viewer's scope."""
    with source.read() as con:
        df = figures.supply_gaps(
            con,
            filters.period_from,
            filters.period_to,
            group_by=list(group_by),
            filters=rollup_filters(viewer, filters),
        )
    cols = [*group_by, *GAP_COUNTS, "gap_rate"]
    if df.empty and not group_by:
        return pd.DataFrame(
            [{"goals_set": 0, "goals_without_offer": 0, "cases_with_gap": 0, "gap_rate": np.nan}]
        )
    return df[cols]


@query()
def gaps(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    group_by: Sequence[str] = ("domain",),
    interval: bool = False,
) -> Published:
    """Supply gaps by the given dimensions, with a total row (Gesamt); `interval` adds the
    Wilson 95 % interval of the gap rate."""
    group_by = list(group_by)
    df = _gap_rows(source, viewer, filters, group_by)
    total = _gap_rows(source, viewer, filters, []) if group_by else df
    df = label_codes(df)
    is_total = None
    if group_by:
        total_row = {c: "Gesamt" if i == 0 else "" for i, c in enumerate(group_by)}
        for c in GAP_COUNTS:
            total_row[c] = int(total[c].iloc[0]) if len(total) else 0
        total_row["gap_rate"] = (
            total_row["goals_without_offer"] / total_row["goals_set"]
            if total_row["goals_set"]
            else np.nan
        )
        df = pd.concat([df, pd.DataFrame([total_row])], ignore_index=True)
        is_total = pd.Series([False] * (len(df) - 1) + [True])
    if interval:
        low, high = wilson_interval(df["goals_without_offer"], df["goals_set"])
        df = df.assign(gap_rate_ci_low=low, gap_rate_ci_high=high)
    margins = [[c] for c in group_by[:-1]] if len(group_by) > 1 else [()]
    if len(group_by) == 2:
        margins = [[group_by[0]], [group_by[1]]]
    return publish(df, viewer.suppress_k, margins=margins, total_mask=is_total)


@query()
def gap_matrix(source: Source, viewer: Viewer, filters: Filters) -> Published:
    """Domain × region: the heatmap's cells (long form, margins per domain and per region)."""
    df = label_codes(_gap_rows(source, viewer, filters, ["domain", "region_code"]))
    return publish(df, viewer.suppress_k, margins=[["domain"], ["region_code"]])


@query()
def waits(source: Source, viewer: Viewer, filters: Filters) -> Published:
    """Referrals by service type over the filtered quarters: requested, no offer, rejected;
    started with median and 90th percentile wait; waiting at the span's last counted day."""
    with source.read() as con:
        df = figures.referral_waits(
            con,
            filters.period_from,
            filters.period_to,
            group_by=["service_type"],
            filters=rollup_filters(viewer, filters),
        )
    df = df[
        [
            "service_type",
            "referrals",
            "no_offer",
            "rejected",
            "started",
            "wait_days_median",
            "wait_days_p90",
            "waiting_at_end",
        ]
    ]
    df = label_codes(df).reset_index(drop=True)
    return publish(df, viewer.suppress_k)


@query()
def structural_closures(
    source: Source, viewer: Viewer, filters: Filters, *, group_by: Sequence[str] = ("period",)
) -> Published:
    """Closures and structural closures, with their share."""
    group_by = list(group_by)
    with source.read() as con:
        df = figures.structural_closures(
            con,
            filters.period_from,
            filters.period_to,
            group_by=group_by,
            filters=rollup_filters(viewer, filters),
        )
    if df.empty and not group_by:
        df = pd.DataFrame([{"closures": 0, "structural_closures": 0, "structural_share": np.nan}])
    df = label_codes(df[[*group_by, "closures", "structural_closures", "structural_share"]])
    return publish(df, viewer.suppress_k)
