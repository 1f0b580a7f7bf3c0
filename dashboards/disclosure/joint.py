"""Closed cases and closures by reason: one figure, one suppression.

"Abgeschlossene Fälle" (the caseload's closed cases, every grouping) and "Abschlüsse" (the
closures by reason per programme, `transforms.gaps.structural_closures`) count the same cases:
a case closed on a counted day of the span. Suppressed as two families, the same programme
figure came out shown in one view and hidden in the other — 61 of the demo's 155 programme
cells; a hidden partner shown elsewhere protects nothing, and with it a funder had a count of
2 (review of 2026-12-06, docs/decisions.md). Here both are one family: the closed cases by
group with a `measure` dimension that splits them by reason, published per programme; its
cells are split into the two tables afterwards, each with its columns as before (`split`).
"""

from __future__ import annotations

import pandas as pd

from dashboards.disclosure.families import (
    ALL,
    CASES_SOURCES,
    EVERY,
    GROUPS,
    Context,
    Family,
    _closures_leaves,
    by_group,
)

NAME = "closed_cases"  # the memo's name for the pair
MEASURE = "measure"
MEMBERS = ("closed", "closures")
CLOSED, STRUCTURAL, OTHER = "closed", "strukturell", "other"
MEASURES = {ALL: None, CLOSED: ALL, STRUCTURAL: CLOSED, OTHER: CLOSED}
PART = {CLOSED: ALL, STRUCTURAL: STRUCTURAL, OTHER: OTHER}


def leaves(ctx: Context) -> pd.DataFrame:
    """Closed cases per quarter and group, by reason (structural or other)."""
    df = _closures_leaves(ctx)
    return df.rename(columns={"part": MEASURE})


def family() -> Family:
    """The one family both are suppressed as: the closed cases' groupings, and the split by
    reason per programme."""
    pubs = [{**pub, MEASURE: 1} for pub in by_group("flow", with_region_program=True)]
    pubs.append({"period": EVERY, "program": EVERY, MEASURE: "leaf"})
    return Family(
        NAME,
        "Abgeschlossene Fälle und Abschlüsse",
        "cases_closed",
        ("period", *GROUPS, MEASURE),
        "flow",
        {MEASURE: MEASURES},
        tuple(pubs),
        leaves,
        sources=CASES_SOURCES,
    )


def split(cells: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The pair's cells as the two families' tables, with their columns as before."""
    rest = [c for c in cells.columns if c not in (*GROUPS, "period", MEASURE)]
    closed = cells[cells[MEASURE] == CLOSED].drop(columns=MEASURE)
    by_program = (cells["provider_id"] == ALL) & (cells["region_code"] == ALL)
    closures = cells[by_program].assign(part=cells[MEASURE].map(PART))
    return {
        "closed": closed.reset_index(drop=True),
        "closures": closures[["period", "program", "part", *rest]].reset_index(drop=True),
    }
