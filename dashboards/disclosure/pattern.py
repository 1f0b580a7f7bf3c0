"""A grid family's suppression pattern: primary and secondary suppression of its cells,
protected against readers who subtract an earlier publication, and audited by LP.

A function of its arguments alone (of the family its dimensions and publications, no query):
`publication.build_family` reads the leaves and calls it, in the run's process or, for the
longest suppression of a run, in a helper process (`pipelines.grid_worker`) with the same
result.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from dashboards.disclosure.families import ALL, Family
from dashboards.disclosure.grid import (
    Dimension,
    Grid,
    build_grid,
    flat_dimension,
    period_dimension,
)
from dashboards.disclosure.insiders import PROVIDER, Insiders, insiders, shown_then
from dashboards.disclosure.linked import audit_grid
from dashboards.disclosure.linked import suppress as suppress_grid


def _dimensions(family: Family, leaves: pd.DataFrame) -> list[Dimension]:
    dims = []
    for name in family.dims:
        if name == "period":
            years = sorted({str(p)[:4] for p in leaves["period"].unique()})
            dims.append(period_dimension(years, additive=family.period != "distinct"))
        elif name in family.breakdowns:
            dims.append(Dimension(name, dict(family.breakdowns[name])))
        else:
            codes = sorted({str(c) for c in leaves[name].unique() if c != ALL})
            dims.append(flat_dimension(name, codes, root=ALL))
    return dims


NEWCOMER_ROUNDS = 20


def suppress_for_newcomers(
    grid: Grid,
    inside: Insiders,
    by_provider: pd.DataFrame,
    k: int,
    coalitions: tuple,
    publications: tuple,
    periods: dict | None,
) -> tuple[pd.DataFrame, Insiders, int]:
    """`suppress_grid` with the insiders, then, while a reader who subtracts an earlier
    publication could still narrow the newcomers' part of a hidden cell
    (`_newcomers_exposed`), again with those cells primary, starting from the round before's
    pattern: each round only adds cells (chosen anew each time, a pattern moved about and the
    demo network's referrals took 10 rounds and 14 s instead of 2 and 2.5 s, for 2 % fewer
    hidden cells). It ends when none is added. Returns the cells, the insiders as finally
    used and how many cells would still have to be hidden after NEWCOMER_ROUNDS (normally 0;
    counted as unprotected, so the grid's check fails rather than publish them)."""
    cells = suppress_grid(grid, k, insiders=inside)
    for round_ in range(NEWCOMER_ROUNDS + 1 if coalitions else 0):
        hidden = cells["status"].to_numpy() != ""
        more = _newcomers_exposed(grid, hidden, by_provider, k, coalitions, publications, periods)
        if not more.any():
            break
        if round_ == NEWCOMER_ROUNDS:
            return cells, inside, int(more.sum())
        inside = dataclasses.replace(inside, primary=inside.primary | more)
        cells = suppress_grid(grid, k, insiders=inside, hidden=hidden)
    return cells, inside, 0


def _newcomers_exposed(
    grid: Grid,
    hidden: np.ndarray,
    by_provider: pd.DataFrame,
    k: int,
    coalitions: tuple,
    publications: tuple,
    withheld: dict | None,
) -> np.ndarray:
    """Cells to hide so that no reader who subtracts an earlier publication narrows the part
    of the providers that joined since in any cell it cannot see to less than k.

    Per earlier publication: the grid of the newcomers' parts alone (the same dimensions and
    cells), each cell known to the reader where it is shown now and could be shown then
    (shown minus the earlier value, taken to be the others' part now: the safe side), all of
    them together in one LP (`audit_grid`). Where that fails, the suppression of that grid
    with the hidden cells as given says which further cells to hide."""
    more = np.zeros(len(hidden), dtype=bool)
    names = [d.name for d in grid.dimensions]
    keys = pd.Index(grid.cell_codes @ grid.radix)
    for members, as_of in coalitions:
        new = by_provider[~by_provider[PROVIDER].isin(members)]
        new = new.groupby(names, as_index=False, sort=False)["value"].sum()
        new = new[new["value"] > 0]
        if new.empty:
            continue
        sub = build_grid(new, grid.dimensions, publications, withheld)
        at = keys.get_indexer(sub.cell_codes @ sub.radix)
        unseen = hidden[at] | ~shown_then(sub, ((members, as_of),))[:, 0].astype(bool)
        if audit_grid(sub, np.where(unseen, "x", ""), k).passed:
            continue
        forced = dataclasses.replace(Insiders.none(len(at)), primary=unseen)
        hide = suppress_grid(sub, k, insiders=forced)["status"].to_numpy() != ""
        more[at[hide & ~unseen]] = True
    return more & ~hidden


Pattern = tuple  # (cells, suppression figures, audit summary, cells still exposed)


def suppression_pattern(
    family: Family,
    leaves: pd.DataFrame,
    by_provider: pd.DataFrame,
    known: pd.DataFrame | None,
    k: int,
    withheld: set[str],
    coalitions: tuple = (),
) -> Pattern:
    """Primary and secondary suppression of the family's cells, audited by LP: a function of
    its arguments alone (of the family its dimensions and publications, no query), so it can
    be computed in a helper process (`pipelines.grid_worker`) with the same result."""
    periods = {"period": withheld} if withheld else None
    grid = build_grid(leaves, _dimensions(family, leaves), family.publications, periods)
    inside = insiders(grid, by_provider, known, k, coalitions)
    cells, inside, exposed = suppress_for_newcomers(
        grid, inside, by_provider, k, coalitions, family.publications, periods
    )
    result = audit_grid(grid, cells["status"], k, insiders=inside)
    stats = cells.attrs.get("suppression", {})
    cells.attrs = {}
    return cells, stats, result.summary(), exposed


def pattern_spec(family: Family) -> Family:
    """What `suppression_pattern` reads of a family, without its queries and filters (which
    are closures: a helper process gets the family as data)."""
    return dataclasses.replace(family, leaves=None, extras=None, known=None, shown=None)
