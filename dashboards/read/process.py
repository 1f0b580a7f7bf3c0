"""Process quality (Regelkreis-Treue): the counts of transforms.process per group, with a
total row and the documentation rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.disclosure.families import ALL, CUT_OFF_FLAGS, PROCESS_GROUPS, PROCESS_MARGINS
from dashboards.disclosure.tables import from_grid
from dashboards.read import grid
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, rollup_filters
from transforms.process import CLASS_FLAGS, COUNTS, process_counts

PROCESS_COUNTS = list(COUNTS)
PROCESS_RATES = {
    "assessment_rate": ("with_assessment", "cm_cases"),
    "plan_rate": ("with_plan", "cm_cases"),
    "review_rate": ("with_review", "cm_cases"),
    "evaluation_rate": ("with_evaluation", "closed_cm"),
}


@query()
def process_quality(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    group_by: Sequence[str] = ("provider_id",),
) -> Published:
    """Process-quality flags of mart.cases summed per group, for cases active in the span,
    with a total row. A suppressed reader gets the grid's cells: per programme, for the
    calendar year of the chosen period."""
    group_by = list(group_by)
    if viewer.suppress_k is not None:  # the grid's breakdown: per programme and year
        return _process_from_grid(source, viewer, filters, ["program"])
    with source.read() as con:
        df = process_counts(
            con,
            filters.period_from,
            filters.period_to,
            group_by=group_by,
            filters=rollup_filters(viewer, filters),
        ).drop(columns=["period", "partial"])
    total = df[PROCESS_COUNTS].sum().to_dict()
    total.update({c: ("Gesamt" if i == 0 else "") for i, c in enumerate(group_by)})
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for rate, (num, den) in PROCESS_RATES.items():
        df[rate] = df[num] / df[den].replace(0, np.nan)
    df = label_codes(df)
    is_total = pd.Series([False] * (len(df) - 1) + [True])
    return publish(df, viewer.suppress_k, total_mask=is_total)


def _process_from_grid(
    source: Source, viewer: Viewer, filters: Filters, group_by: list[str]
) -> Published:
    """The counts as margins of the grid's case classes: a row per programme and the total,
    for a year (the grid publishes process quality per programme and year)."""
    where = grid.conditions(viewer, filters, group_by, [(), *[(g,) for g in PROCESS_GROUPS]])
    key = "program"
    if where[key] is grid.NOT_ALL:
        del where[key]  # every programme and the total
    label = grid.period_label(filters) or (grid.periods(source)["year"] or [None])[-1]
    if label is not None and len(label) > 4:  # a quarter or half-year: its calendar year
        label = label[:4]
    if label is None or len(label) != 4:
        raise grid.NotInGrid(
            "Die Prozessqualität wird je Programm und Kalenderjahr veröffentlicht: wählen Sie"
            " ein Jahr."
        )
    where = {k: v for k, v in where.items() if k not in ("provider_id", "region_code")}
    where["period"] = label
    cells = grid.cells(source, "process", where)
    rows = {}
    for count, flags in PROCESS_MARGINS.items():
        chosen = np.ones(len(cells), dtype=bool)
        for flag in CLASS_FLAGS:
            chosen &= (cells[flag] == ("ja" if flag in flags else ALL)).to_numpy()
        rows[count] = grid.keyed(cells[chosen], [key], count).set_index(key)
    df = pd.concat(rows.values(), axis=1).reset_index()
    counts = list(PROCESS_COUNTS)
    if label != grid.periods(source)["year"][-1]:
        # open, due and overdue cases describe the cut-off: published for its year only
        # (families._process_shown); an earlier year has no such cells, which is not 0
        counts = [c for c in counts if c not in CUT_OFF_COUNTS]
        df = df.drop(columns=[c for col in CUT_OFF_COUNTS for c in (col, f"{col}__status")])
    df[counts] = df[counts].fillna(0).astype(int)
    total = df[key] == ALL
    df = pd.concat([df[~total].sort_values(key), df[total]], ignore_index=True)
    for rate, (num, den) in PROCESS_RATES.items():
        df[rate] = df[num] / df[den].where(df[den] > 0)
    status = {c: df.pop(f"{c}__status") for c in counts}
    is_total = df[key] == ALL
    df = label_codes(df.rename(columns={key: key}))
    df[key] = df[key].where(~is_total, "Gesamt")
    return from_grid(df[[key, *counts, *PROCESS_RATES]], viewer.suppress_k, status)


# the counts of cut-off states (open, due, overdue), as families._process_shown publishes them
CUT_OFF_COUNTS = tuple(c for c, flags in PROCESS_MARGINS.items() if set(flags) & set(CUT_OFF_FLAGS))
