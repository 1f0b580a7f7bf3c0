"""What a provider knows of a published cell: its own part of it ("network minus own").

A provider that reads a published report (the steering group's, the funders', a public one)
also knows its own records. From a cell it can subtract its own part; what is left rests on
the other providers' records, and metrics.md asks that this never be a small count. What it
knows is exact for counts of its own cases, goals and referrals, and a lower bound for
re-entries and relapses: it knows the events it recorded itself, not those another provider
recorded for its clients (found through the person key).

Per cell of a grid, from each provider's known and true part:

- `primary`: some provider's known part is > 0 and the cell minus it is 1 … k−1: shown, the
  cell gives that provider a small count of the others (tau-argus treats cells with few
  contributors alike: the contributor is the attacker);
- `floor`: the largest part a provider knows the cell holds, among providers for whom the
  others' part is not 0 — a suppressed cell must be k wide above it (`lp.AttackModel.floor`);
- `owner`: the provider the cell belongs to alone and who knows it exactly (−1: none) — a
  hidden cell is no secret to its owner, so it protects nothing against it
  (`linked._structural`: no published equation may be left with one cell it does not know).

`coalitions`: sets of providers an earlier publication rested on, with its data cut-off
(`kernel.publications`). A reader who subtracts that publication from this one learns what
the providers that joined since hold; each such set counts as one more insider that knows all
its members' parts exactly (more than the earlier cells tell where its members' records
changed since: the safe side), so the newcomers' part is protected like the others' part
against a provider. Only in cells the earlier publication can have shown: periods begun by
its cut-off (every cell of a family without periods).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dashboards.disclosure.grid import Grid
from dashboards.disclosure.lp import Equations

PROVIDER = "provider_id"


@dataclass(frozen=True)
class Insiders:
    primary: np.ndarray  # bool per cell
    floor: np.ndarray  # float per cell
    owner: np.ndarray  # int per cell (index into `providers`), -1: no single owner
    providers: tuple[str, ...]

    @classmethod
    def none(cls, n_cells: int) -> Insiders:
        return cls(np.zeros(n_cells, bool), np.zeros(n_cells), np.full(n_cells, -1), ())


def _parts(grid: Grid, frame: pd.DataFrame, providers: pd.Index) -> sp.csr_matrix:
    """(cells × providers): each provider's part of every published cell."""
    names = [d.name for d in grid.dimensions]
    frame = frame.groupby([*names, PROVIDER], as_index=False, sort=False)["value"].sum()
    frame = frame[frame["value"] > 0]
    codes = np.column_stack([d.encode(frame[d.name]) for d in grid.dimensions])
    by = sp.csr_matrix(
        (
            frame["value"].to_numpy(dtype=float),
            (np.arange(len(frame)), providers.get_indexer(frame[PROVIDER].astype(str))),
        ),
        shape=(len(frame), len(providers)),
    )
    return (grid.incidence_of(codes) @ by).tocsr()


def insiders(
    grid: Grid,
    true: pd.DataFrame,
    known: pd.DataFrame | None,
    k: int,
    coalitions: tuple[tuple[frozenset[str], str | None], ...] = (),
) -> Insiders:
    """`true` and `known`: the family's leaves with `provider_id` (dimension columns and
    ``value``), the second as each provider knows its own (None: the same); `coalitions`:
    provider sets published before (see above)."""
    known = true if known is None else known
    # distinct values first: iterating a column of (Arrow-backed) strings in Python costs
    # ~0.5 µs a row (1,000,000 cases: 0.4 s per build of the grid)
    providers = pd.Index(
        sorted({*true[PROVIDER].astype(str).unique(), *known[PROVIDER].astype(str).unique()})
    )
    t = _parts(grid, true, providers)
    kn = t if known is true else _parts(grid, known, providers)
    values = grid.cell_values
    n = len(values)
    owner = _owner(t, kn, values)
    if coalitions:  # each earlier publication: one more column, its members' true parts
        joint = sp.csr_matrix(
            (t @ _membership(providers, coalitions)).multiply(shown_then(grid, coalitions))
        )
        t, kn = sp.hstack([t, joint]).tocsr(), sp.hstack([kn, joint]).tocsr()
    c = kn.tocoo()
    rest = values[c.row] - c.data  # what the others' records hold, as that provider sees it
    primary = np.zeros(n, dtype=bool)
    primary[c.row[(c.data > 0) & (rest >= 1) & (rest < k)]] = True
    # the floor: what a provider knows for certain the cell holds (the smaller of its known
    # and true part: a re-entry count it recorded can only grow, a count without one shrink)
    sure = np.minimum(c.data, np.asarray(t[c.row, c.col]).ravel())
    floor = np.zeros(n)
    np.maximum.at(floor, c.row[rest >= 1], sure[rest >= 1])
    return Insiders(primary, floor, owner, tuple(providers))


def _owner(t: sp.csr_matrix, kn: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Per cell, the one provider that holds all of it and knows so (−1: none)."""
    owner = np.full(len(values), -1)
    alone = np.flatnonzero(t.getnnz(axis=1) == 1)
    p = t[alone].indices
    mine = (t[alone].data == values[alone]) & (np.asarray(kn[alone, p]).ravel() == values[alone])
    owner[alone[mine]] = p[mine]
    return owner


def _membership(providers: pd.Index, coalitions: tuple) -> sp.csr_matrix:
    """(providers × earlier publications) 0/1: who each rested on."""
    return sp.csr_matrix(
        np.column_stack([providers.isin(list(members)) for members, _ in coalitions]).astype(float)
    )


def shown_then(grid: Grid, coalitions: tuple) -> np.ndarray:
    """(cells × earlier publications) 0/1: the cells each can have shown — those of periods
    begun by its data cut-off (all, without a period or a known cut-off)."""
    shown = np.ones((len(grid.cell_values), len(coalitions)))
    dims = [d.name for d in grid.dimensions]
    if "period" not in dims:
        return shown
    j = dims.index("period")
    starts = [period_start(c) for c in grid.dimensions[j].codes]  # per code, not per cell
    for n, (_, as_of) in enumerate(coalitions):
        if as_of is not None:
            begun = np.array([s is None or s <= as_of for s in starts])
            shown[:, n] = begun[grid.cell_codes[:, j]]
    return shown


def period_start(code: str) -> str | None:
    """The first day of a period code (2024, 2024-H2, 2024-Q3) as an ISO date; None for a
    margin or another code."""
    code = str(code)
    if len(code) == 4 and code.isdigit():
        return f"{code}-01-01"
    if len(code) == 7 and code[:4].isdigit() and code[5] in "HQ" and code[6] in "1234":
        month = (int(code[6]) - 1) * (6 if code[5] == "H" else 3) + 1
        return f"{code[:4]}-{month:02d}-01"
    return None


def owned_hidden(
    hidden: np.ndarray,
    owner: np.ndarray,
    eqs: Equations,
    n_providers: int,
    weights: np.ndarray | None = None,
) -> sp.coo_matrix:
    """(equations × providers): hidden cells of each equation (margin included) that one
    provider owns — known to it, so they protect nothing against it (with `weights`: their
    sum of values instead of their number)."""
    mine = np.flatnonzero(hidden & (owner >= 0))
    w = np.ones(len(mine)) if weights is None else np.asarray(weights, dtype=float)[mine]
    h = sp.csr_matrix((w, (mine, owner[mine])), shape=(len(owner), max(n_providers, 1)))
    return (eqs.children @ h + h[eqs.parent]).tocoo()
