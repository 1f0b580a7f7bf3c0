"""Caseload per FTE and cases per quarter, from `transforms.caseload.rollup` (the one
implementation); counts are suppressed for readers outside the office, the ratios with them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.disclosure.tables import from_grid
from dashboards.read import grid
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


# the caseload figures a table shows, in their order (unsuppressed and from the grid alike)
CASELOAD_FIGURES = (
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
)
# what the publication grid holds of them: the cases of a quarter are its one caseload count;
# active cases at the quarter's end, new and closed cases would give hidden counts away by
# subtraction (dashboards.disclosure.families, docs/decisions.md)
GRID_FIGURES = tuple(c for c in CASELOAD_FIGURES if c not in ("active_cases_end", "caseload_end"))


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
    (Settings.benchmarks). A suppressed reader gets the cells of the publication grid."""
    if viewer.suppress_k is not None:
        return _caseload_from_grid(source, viewer, filters, group_by, scope, by_period, benchmarks)
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
    cols = [*gb, *CASELOAD_FIGURES]
    if not by_period:
        cols.insert(0, "period")
    df = df[[c for c in cols if c in df.columns]]
    bands = source.settings.benchmarks if benchmarks else ()
    if bands:
        df = df.assign(benchmark=[benchmark_label(v, bands) for v in df["avg_caseload"]])
    df = label_codes(df)
    margins = [["period"]] if by_period else [()]
    return publish(df, viewer.suppress_k, margins=margins)


def _caseload_from_grid(source, viewer, filters, group_by, scope, by_period, benchmarks):
    group_by = list(group_by)
    if scope != "alle":
        raise grid.NotInGrid(
            "„Nur Case Management“ gibt es in der internen Ansicht; veröffentlicht werden alle"
            " Intensitäten."
        )
    where = grid.conditions(viewer, filters, group_by, grid.CASELOAD_GROUPS)
    wanted = grid.quarter_list(source, filters, by_period)
    keys = ["period", *group_by]
    cases = grid.cells(source, "cases", {**where, "period": wanted})
    df = grid.keyed(cases, keys, "cases_in_period").merge(
        cases[[*keys, "days", "case_days", "fte_days", "fte_end"]], on=keys
    )
    df["avg_caseload"] = df["case_days"] / df["fte_days"].where(df["fte_days"] > 0)
    df["throughput_per_fte"] = df["cases_in_period"] / (df["fte_days"] / df["days"]).where(
        df["fte_days"] > 0
    )
    df["fte_missing"] = (df["case_days"] > 0) & (df["fte_days"] == 0)
    if benchmarks:
        bands = source.settings.benchmarks
        df["benchmark"] = [benchmark_label(v, bands) for v in df["avg_caseload"]]
    df = df.sort_values(keys).reset_index(drop=True)
    status = {"cases_in_period": df.pop("cases_in_period__status")}
    columns = [*keys, *GRID_FIGURES]
    df = label_codes(df[[*columns, *(["benchmark"] if benchmarks else [])]])
    return from_grid(df, viewer.suppress_k, status)


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
    if viewer.suppress_k is not None:
        return _case_counts_from_grid(source, viewer, filters)
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


def _case_counts_from_grid(source: Source, viewer: Viewer, filters: Filters) -> Published:
    """Per quarter of the chosen grid period: the cases (the grid's one caseload count; new,
    closed and active cases stay internal, GRID_FIGURES)."""
    where = {
        **grid.conditions(viewer, filters, ()),
        "period": grid.period_list(source, filters, True),
    }
    df = grid.keyed(grid.cells(source, "cases", where), ["period"], "cases_in_period")
    partial = set(grid.periods(source)["partial"])
    df["partial"] = df["period"].isin(partial)
    df = df.sort_values("period").reset_index(drop=True)
    status = {"cases_in_period": df.pop("cases_in_period__status")}
    return from_grid(df[["period", "partial", "cases_in_period"]], viewer.suppress_k, status)
