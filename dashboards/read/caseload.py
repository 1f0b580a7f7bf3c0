"""Caseload per FTE and cases per quarter, from `transforms.caseload.rollup` (the one
implementation); counts are suppressed for readers outside the office, the ratios with them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, rollup_filters
from transforms.caseload import rollup


def benchmark_label(value: float, benchmarks) -> str:
    if value is None or np.isnan(value):
        return "—"
    for b in sorted(benchmarks, key=lambda b: b.low):
        if b.low <= value <= b.high:
            return b.label
    if value > max(b.high for b in benchmarks):
        return "über allen Vergleichswerten"
    return "zwischen den Vergleichswerten"


@query()
def caseload(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    group_by: Sequence[str] = ("provider_id",),
    scope: str = "alle",
    by_period: bool = False,
    benchmarks: bool = False,
) -> Published:
    """Caseload per FTE for the filtered quarters; `benchmarks` adds the band of each value
    (Settings.benchmarks)."""
    gb = (["period"] if by_period else []) + list(group_by)
    with source.read() as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=gb,
            filters=rollup_filters(viewer, filters),
            scope=scope,
        )
    cols = [
        *gb,
        "days",
        "cases_in_period",
        "active_cases_end",
        "fte_end",
        "case_days",
        "fte_days",
        "avg_caseload",
        "caseload_end",
        "throughput_per_fte",
        "fte_missing",
    ]
    if not by_period:
        cols.insert(0, "period")
    df = df[[c for c in cols if c in df.columns]]
    bands = source.settings.benchmarks if benchmarks else ()
    if bands:
        df = df.assign(benchmark=[benchmark_label(v, bands) for v in df["avg_caseload"]])
    df = label_codes(df)
    margins = [["period"]] if by_period else [()]
    return publish(df, viewer.suppress_k, margins=margins)


@query(
    roles=("koordination", "evaluation", "traeger"),
    denied="Fallzahlen je Fachkraft sind für Förderer nicht freigegeben.",
)
def caseload_by_caseworker(
    source: Source, viewer: Viewer, filters: Filters, *, scope: str = "alle"
) -> Published:
    """Caseload per caseworker (pseudonymous): not for funders."""
    with source.read() as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=["provider_id", "caseworker_id"],
            filters=rollup_filters(viewer, filters),
            scope=scope,
            by_caseworker=True,
        )
    df = df[
        [
            "provider_id",
            "caseworker_id",
            "cases_in_period",
            "active_cases_end",
            "fte_end",
            "avg_caseload",
            "caseload_end",
            "fte_missing",
        ]
    ]
    return publish(df, viewer.suppress_k, margins=[["provider_id"]])


@query()
def case_counts(
    source: Source, viewer: Viewer, filters: Filters, *, group_by: Sequence[str] = ("period",)
) -> Published:
    """Cases in period per quarter (caseload roll-up, scope alle), for the overview trend."""
    with source.read() as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=list(group_by),
            filters=rollup_filters(viewer, filters),
        )
    df = df[
        [
            *group_by,
            "partial",
            "cases_in_period",
            "cases_opened",
            "cases_closed",
            "active_cases_end",
        ]
    ]
    df = label_codes(df)
    return publish(df, viewer.suppress_k, margins=[])
