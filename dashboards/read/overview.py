"""What needs a decision (overview and steering-group report): the largest gaps, new and
rising themes, overloaded providers — chosen among the values the viewer may see (a
suppressed cell is never ranked)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.disclosure import Published
from dashboards.read.caseload import caseload
from dashboards.read.gaps import gap_matrix, gaps, matrix_across
from dashboards.read.gate import query
from dashboards.read.grid import Incomplete, NotInGrid
from dashboards.read.scope import Filters, Source, Viewer
from dashboards.read.themes import themes

_MATRIX_COUNTS = ["goals_set", "goals_without_offer", "cases_with_gap", "gap_rate"]
MIN_GOALS = 10  # a gap is ranked only with at least this many goals in its cell
TOP_GAPS = 5


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _gaps_by_domain(source: Source, viewer: Viewer, filters: Filters) -> Published:
    """The gap rows by domain alone, as a matrix with one column ("alle Regionen")."""
    try:
        by_domain = gaps(source, viewer, filters, group_by=("domain",))
    except Incomplete:
        raise
    except NotInGrid:  # not published for this selection at all
        empty = pd.DataFrame(columns=["domain", "region_code", *_MATRIX_COUNTS])
        return Published(empty, empty.astype(str), viewer.suppress_k)
    gm = by_domain.rows((by_domain.table["domain"] != "Gesamt").to_numpy())
    return Published(
        gm.table.assign(region_code="alle Regionen"), gm.flags.assign(region_code=""), gm.k
    )


def _largest_gaps(source: Source, viewer: Viewer, filters: Filters) -> Published:
    """The TOP_GAPS cells (domain × region or programme) with the highest gap rate."""
    try:
        gm = gap_matrix(source, viewer, filters)
    except Incomplete:
        raise
    except NotInGrid:  # published figures for one region or provider: by domain only
        gm = _gaps_by_domain(source, viewer, filters)
    across, _ = matrix_across(gm)
    order = ["domain", across, *(c for c in _MATRIX_COUNTS if c in gm.table.columns)]
    gm = Published(gm.table[order], gm.flags[order], gm.k)
    rate = _num(gm.table["gap_rate"])
    ok = rate.notna() & (_num(gm.table["goals_set"]) >= MIN_GOALS)
    ranked = rate.where(ok).sort_values(ascending=False, na_position="last")
    return gm.rows([i for i in ranked.index[:TOP_GAPS] if ok.iat[i]])


@query()
def decisions(source: Source, viewer: Viewer, filters: Filters) -> dict[str, Published]:
    """{"gaps", "themes", "overloaded"}: the published rows that need a decision ("gaps"
    None where the period is not complete yet, "overloaded" None where the selection has no
    caseload cell)."""
    threshold = source.settings.overload_threshold
    try:
        largest = _largest_gaps(source, viewer, filters)
    except Incomplete:  # a suppressed reader's running period: gaps of complete ones only
        largest = None

    try:
        cl = caseload(source, viewer, filters, benchmarks=True)
    except NotInGrid:  # a suppressed reader's half-year or year: the caseload is per quarter
        overloaded = None
    else:
        # at the quarter's end too where the reader has it (the grid holds no active cases)
        figures = [c for c in ("avg_caseload", "caseload_end") if c in cl.table.columns]
        over = pd.concat([_num(cl.table[c]) > threshold for c in figures], axis=1).any(axis=1)
        overloaded = cl.rows((over | cl.table["fte_missing"].astype(bool)).to_numpy())

    th = themes(source, viewer, filters)
    if len(th.table):
        t = th.table
        rising = t["trend"].astype(str).str.startswith("steigend")
        active = t["active"].astype(bool) if "active" in t.columns else True
        chosen = th.rows(((t["status"].astype(str).eq("neu") | rising) & active).to_numpy())
        order = (
            pd.DataFrame(
                {
                    "rising": chosen.table["trend"].astype(str).str.startswith("steigend"),
                    "cases": _num(chosen.table["cases"]).fillna(0),
                }
            )
            .sort_values(["rising", "cases"], ascending=[False, False])
            .index
        )
        new_rising = chosen.rows(np.asarray(order))
    else:
        new_rising = th
    return {"gaps": largest, "themes": new_rising, "overloaded": overloaded}
