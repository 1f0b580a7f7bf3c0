"""Joint primary and secondary cell suppression over linked hierarchical tables.

A *grid* is the set of published cells of one measure family (e.g. case counts), in long
form: one column per dimension, each value a leaf or an aggregate code of that dimension's
hierarchy, and the true count. Tables of the grid share margins and, underneath, the same
leaf cells, so suppression must be decided for all of them together.

Attacker model (see `audit`): the unknowns are the non-empty leaf combinations (value > 0).
Empty leaf combinations count as *known zeros*: the stricter, conservative choice, since a
reader often knows that a provider does not work in a region. A cell of an additive
dimension is the sum of the leaves under it; a non-additive dimension (a distinct count
such as "cases active in the period") keeps one block of unknowns per level, linked by
``max(children) <= parent <= sum(children)``.

Algorithm, and why. No maintained Python package protects linked hierarchical tables with
non-additive dimensions: tau-argus (Java/C++) and sdcTable / GaussSuppression (R) do not run
here; ``pytauargus`` 0.6 (PyPI, beta, EUPL) wraps the tau-argus engine with HiGHS, but
protects each table on its own (OPT/MOD; the hypercube GH is disabled), needs batch files
and cannot express the distinct-count links. Tau-argus' OPTIMAL (Fischetti-Salazar
branch-and-cut) is exact but a MIP far too large for ~50,000 linked cells; HITAS splits the
hierarchy into 2-D subtables and backtracks, and the hypercube method over-suppresses and
knows nothing of cells outside one table. We follow sdcTable's SIMPLEHEURISTIC (cheap
constraint-based suppression, then attacker LPs until every cell is safe), with a
stronger safety notion (interval width >= k for every suppressed cell, not just "not
exact"):

1. primary: published cells with 1 <= value < k (zeros are not sensitive);
2. structural pass, vectorised over all published equations of additive dimensions
   (a margin and its children in the grid): no equation may hold exactly one suppressed
   cell, and where the margin is shown its suppressed children must add up to >= k; cells
   with the same set of leaves (one figure published in two tables) share one status;
   partners are the visible cells with the lowest cost ``value / (problem equations they
   fix)``, then the fewest aggregated dimensions (interior before margins), then position;
3. LP audit of the suppressed cells not yet known to be safe; for every cell still narrower
   than k, suppress the cheapest shown cell among the constraints that bind its LP bounds
   (non-zero duals), preferring cells binding several failures; a cell still too narrow
   after two rounds gets 2, 4, … 16 such cells at once, the further ones no more aggregated
   than itself (some cells need many: 1,000,000 cases, re-entry grid 39 → 26 s, 2,696 →
   2,758 secondary cells; docs/decisions.md); repeat from 2. Suppressing
   more cells only widens intervals, so cells once safe stay safe and only failures and
   new suppressions are audited again (in LPs kept warm across rounds, `AttackSession`).
   Each round suppresses at least one cell, so it ends.

The pattern is then checked by `audit_grid`, the same LP audit the product runs as its
blocking check. `benchmark()` times grid build, suppression and audit on synthetic data
(``python -m dashboards.disclosure.linked [n_cases] [--active]``).

The result is deterministic (no random choices; ties broken by cell position).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dashboards.disclosure.audit import AuditResult, audit
from dashboards.disclosure.grid import (
    ALL_LEVELS,
    ROOT,
    Dimension,
    Grid,
    build_grid,
    flat_dimension,
    grid_equations,
    period_dimension,
)
from dashboards.disclosure.insiders import Insiders, owned_hidden
from dashboards.disclosure.lp import DEFAULT_K, AttackSession, Equations, widths

__all__ = [
    "ALL_LEVELS",
    "BENCH_PUBLICATIONS",
    "PRIMARY",
    "ROOT",
    "SECONDARY",
    "SHOWN",
    "Dimension",
    "Grid",
    "audit_grid",
    "benchmark",
    "build_grid",
    "flat_dimension",
    "grid_equations",
    "period_dimension",
    "suppress",
    "synthetic_leaves",
]

SHOWN, PRIMARY, SECONDARY = "", "primary", "secondary"
STUBBORN_MAX = 4  # at most 2**4 cells added at once for one cell that keeps failing


# ---------------------------------------------------------------------------------------------
# suppression


def _choose(
    rows: np.ndarray,
    cols: np.ndarray,
    cost: np.ndarray,
    grid: Grid,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """For every problem (`rows`), the candidate (`cols`) of least cost; ties: interior, index.

    Cost is the cell value divided by the number of problems the candidate takes part in,
    so one cell that fixes several problems is preferred. `extra` = (take, level) per
    problem: up to `take` candidates, the further ones aggregated no more than `level`."""
    if not len(rows):
        return np.zeros(0, dtype=int)
    score = np.bincount(cols, minlength=len(cost))
    c = cost[cols] / score[cols]
    order = np.lexsort((cols, grid.n_aggregated[cols], c, rows))
    r, picked = rows[order], cols[order]
    first = np.r_[True, r[1:] != r[:-1]]
    keep = first
    if extra is not None:
        take, level = extra
        starts = np.flatnonzero(first)
        rank = np.arange(len(r)) - np.repeat(starts, np.diff(np.r_[starts, len(r)]))
        keep = first | ((rank < take[r]) & (grid.n_aggregated[picked] <= level[r]))
    return np.unique(picked[keep])


def _structural(
    sup: np.ndarray,
    grid: Grid,
    eqs: Equations,
    dup: np.ndarray,
    k: int,
    insiders: Insiders | None = None,
):
    """Cheap rules before any LP: no single hidden cell in an equation, enough hidden mass —
    for every reader, and for every provider counting the hidden cells it owns as known."""
    values = grid.cell_values
    members = eqs.children
    parent = eqs.parent
    owner = None if insiders is None or not insiders.providers else insiders.owner
    while True:
        # one figure in two tables: same leaves, same status
        hidden_group = np.bincount(dup, weights=sup, minlength=dup.max(initial=0) + 1) > 0
        sup = sup | hidden_group[dup]
        s = sup.astype(float)
        n_child = members @ s
        mass = members @ (s * values)
        single = (n_child + s[parent]) == 1
        # every hidden cell is at least 1 (a reader knows: zeros are shown), so of the hidden
        # mass only mass - n_child is open: a hidden part lies in [1, 1 + that]
        short = ~sup[parent] & (n_child >= 1) & (mass - n_child < k)
        problem = np.flatnonzero(single | short)
        against = np.full(len(problem), -1)  # the provider a problem is one for (-1: anyone)
        if owner is not None:
            extra, by = _insider_problems(sup, values, owner, eqs, k, len(insiders.providers))
            problem, against = np.r_[problem, extra], np.r_[against, by]
        if not len(problem):
            chosen = _widen_narrow(sup, values, eqs, k, grid)
            if not len(chosen):
                return sup
            sup[chosen] = True
            continue
        sub = members[problem].tocoo()
        ok = ~sup[sub.col] & (values[sub.col] > 0)
        if owner is not None:  # a cell its owner knows does not help against it
            ok &= (against[sub.row] < 0) | (owner[sub.col] != against[sub.row])
        rows, cols = sub.row[ok], sub.col[ok]
        orphan = np.setdiff1d(np.arange(len(problem)), rows)  # no visible child: the margin
        top = parent[problem[orphan]]
        orphan = orphan[
            ~sup[top] & ((against[orphan] < 0) | (_owner_of(owner, top) != against[orphan]))
        ]
        rows = np.concatenate([rows, orphan])
        cols = np.concatenate([cols, parent[problem[orphan]]])
        chosen = _choose(rows, cols, values, grid)
        if not len(chosen):
            return sup
        sup[chosen] = True


PROPAGATION_ROUNDS = 20
NARROW_STEP = 0.03  # the share of the partners for narrow cells hidden before propagating again


def propagated_bounds(
    sup: np.ndarray, values: np.ndarray, eqs: Equations
) -> tuple[np.ndarray, np.ndarray]:
    """Outer bounds of every cell from the published sums alone: shown cells are their value,
    a hidden one at least 1 (zeros are shown) and as far as parent = sum(children) lets it be
    (interval propagation, a few rounds). The LP's interval lies inside, so a hidden cell
    narrower than k here fails the LP too: found without an LP, and with its equations to
    choose a partner from (at the demo, three in four cells the first LP round found too
    narrow had one)."""
    lo = np.where(sup, np.minimum(1.0, values), values)
    hi = np.where(sup, np.inf, values)
    coo = eqs.children.tocoo()
    e, c = coo.row, coo.col
    par = eqs.parent
    n_eq = len(par)
    to_parent, to_child = _Into(par), _Into(c)
    for _ in range(PROPAGATION_ROUNDS):
        before = (lo.copy(), hi.copy())
        inf = np.isinf(hi[c])
        sum_lo = np.bincount(e, weights=lo[c], minlength=n_eq)
        sum_hi = np.bincount(e, weights=np.where(inf, 0.0, hi[c]), minlength=n_eq)
        n_inf = np.bincount(e, weights=inf, minlength=n_eq)
        # the parent: between the sums of its children's bounds
        to_parent.max(lo, sum_lo)
        to_parent.min(hi, np.where(n_inf > 0, np.inf, sum_hi))
        # a child: the parent minus what the others hold at least / at most
        to_child.min(hi, hi[par[e]] - (sum_lo[e] - lo[c]))
        others_inf = (n_inf[e] - inf) > 0
        others_hi = sum_hi[e] - np.where(inf, 0.0, hi[c])
        to_child.max(lo, np.where(others_inf, -np.inf, lo[par[e]] - others_hi))
        if np.array_equal(before[0], lo) and np.array_equal(before[1], hi):
            break
    return lo, hi


class _Into:
    """`np.maximum.at(out, index, values)` (and minimum) with the index sorted once: the
    propagation applies the same indices every round, and `ufunc.at` is slow."""

    def __init__(self, index: np.ndarray):
        self.order = np.argsort(index, kind="stable")
        ordered = index[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(index) else []
        self.targets = ordered[self.starts] if len(index) else ordered

    def max(self, out: np.ndarray, values: np.ndarray) -> None:
        if len(self.order):
            best = np.maximum.reduceat(values[self.order], self.starts)
            out[self.targets] = np.maximum(out[self.targets], best)

    def min(self, out: np.ndarray, values: np.ndarray) -> None:
        if len(self.order):
            best = np.minimum.reduceat(values[self.order], self.starts)
            out[self.targets] = np.minimum(out[self.targets], best)


def _widen_narrow(
    sup: np.ndarray, values: np.ndarray, eqs: Equations, k: int, grid: Grid
) -> np.ndarray:
    """For every hidden cell the published sums already pin to fewer than k values
    (`propagated_bounds`), the cheapest shown cell of an equation it is part of."""
    lo, hi = propagated_bounds(sup, values, eqs)
    narrow = np.flatnonzero(sup & (np.floor(hi + 1e-6) - np.ceil(lo - 1e-6) < k))
    if not len(narrow):
        return np.zeros(0, dtype=int)
    n_eq, n_cells = eqs.children.shape
    owner_of_eq = sp.csr_matrix(
        (np.ones(n_eq), (np.arange(n_eq), eqs.parent)), shape=(n_eq, n_cells)
    )
    member = (eqs.children + owner_of_eq).tocsc()  # equations x cells, the parent included
    near = (member[:, narrow].T @ member).tocoo()  # narrow cell x cells sharing an equation
    ok = ~sup[near.col] & (values[near.col] > 0)
    chosen = _choose(near.row[ok], near.col[ok], values, grid)
    # a few at a time, those next to the most narrow cells first, then propagate again: one
    # partner often widens its neighbours too (demo, goals: 2,013 secondary cells when all
    # are taken at once, 1,774 in steps of 3 %, 1,785 with partners chosen by the LP alone)
    score = np.bincount(near.col[ok], minlength=len(values))[chosen]
    keep = max(1, math.ceil(len(chosen) * NARROW_STEP))
    return chosen[np.argsort(-score, kind="stable")[:keep]]


def _owner_of(owner: np.ndarray | None, cells: np.ndarray) -> np.ndarray:
    return np.full(len(cells), -1) if owner is None else owner[cells]


def _insider_problems(sup, values, owner, eqs: Equations, k: int, n_providers: int):
    """Equations a provider can solve with the hidden cells it owns: one hidden cell left
    that it does not own, or (margin shown) less than k hidden mass it does not own.
    Returns (equation, provider) pairs."""
    mine = owned_hidden(sup, owner, eqs, n_providers)
    if not mine.nnz:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    e, p = mine.row, mine.col
    s = sup.astype(float)
    hidden = np.asarray(eqs.children @ s + s[eqs.parent])[e]
    unknown = hidden - mine.data
    mass_known = owned_hidden(sup, owner, eqs, n_providers, weights=values)
    mass = np.asarray(eqs.children @ (s * values))[e]
    own_mass = np.asarray(mass_known.tocsr()[e, p]).ravel()
    own_parent = sup[eqs.parent[e]] & (owner[eqs.parent[e]] == p)
    own_mass -= np.where(own_parent, values[eqs.parent[e]], 0)  # the margin is no child
    short = ~sup[eqs.parent[e]] & (unknown >= 1) & (mass - own_mass - unknown < k)
    bad = (unknown == 1) | short
    return e[bad], p[bad]


def _implied(sup: np.ndarray, eqs: Equations) -> np.ndarray:
    """Shown margins whose parts are all shown: their LP rows are sums of other rows."""
    out = np.zeros(len(sup), dtype=bool)
    complete = (eqs.children @ sup.astype(float)) == 0
    out[eqs.parent[complete]] = True
    return out & ~sup


def _duplicates(grid: Grid) -> np.ndarray:
    """Group id per cell; cells with the same set of leaves share a group."""
    rng = np.random.default_rng(20250101)
    w = rng.random((grid.incidence.shape[1], 2))
    h = grid.incidence @ w
    frame = pd.DataFrame({"a": h[:, 0], "b": h[:, 1], "n": grid.incidence.getnnz(axis=1)})
    return frame.groupby(["a", "b", "n"], sort=False).ngroup().to_numpy()


def suppress(
    grid: Grid,
    k: int = DEFAULT_K,
    *,
    insiders: Insiders | None = None,
    hidden: np.ndarray | None = None,
    backend: str = "auto",
    max_rounds: int = 1000,
) -> pd.DataFrame:
    """Primary and secondary suppression of all cells of the grid, jointly.

    `insiders`: what providers know of the cells (`dashboards.disclosure.insiders`): their
    small remainders are primary, their own parts raise the floor of the LP audit, and no
    equation may be solvable by a provider with the hidden cells it owns.
    `hidden`: cells hidden already (an earlier pattern of the same grid, e.g. the round
    before in `pattern.suppress_for_newcomers`): they stay hidden and only more are
    added, so a pattern grows instead of being chosen anew.
    Returns `grid.cells` with ``status`` ('' shown, 'primary', 'secondary'); ``attrs``
    holds the figures of the run: cells, primary (of them ``insider``: primary only for a
    provider's remainder), secondary, rounds, lp_solves, seconds and ``unverified`` (cells
    still failing when `max_rounds` stopped the loop; normally 0).
    """
    t0 = time.perf_counter()
    values = grid.cell_values
    small = (values >= 1) & (values < k)
    insiders = insiders or Insiders.none(len(values))
    primary = small | insiders.primary
    eqs = grid_equations(grid)
    dup = _duplicates(grid)
    start = primary if hidden is None else primary | hidden
    sup = _structural(start.copy(), grid, eqs, dup, k, insiders)
    session = AttackSession(grid.attack_model(insiders.floor), sup, backend)
    pending = np.flatnonzero(sup)
    rounds = solves = 0
    failing = np.zeros(0, dtype=int)
    streak = np.zeros(len(values), dtype=int)  # rounds in a row a cell was still too narrow
    while len(pending) and rounds < max_rounds:
        rounds += 1
        r = session.intervals(pending, k)
        solves += r["lp_solves"]
        narrow = widths(r["lo"], r["hi"], r["floor"]) < k
        failing = pending[narrow]
        streak[pending[~narrow]] = 0
        streak[failing] += 1
        if not len(failing):
            break
        rows, cols = [], []  # candidates: shown cells in the constraints that bind it
        for i, f in enumerate(failing):
            cand = r["binding"].get(int(f), np.zeros(0, dtype=int))
            cand = cand[~sup[cand] & (values[cand] > 0)]
            if not len(cand):  # fall back to every shown cell sharing a leaf
                near = grid.incidence @ grid.incidence[f].T
                cand = near.nonzero()[0]
                cand = cand[~sup[cand] & (values[cand] > 0)]
            rows.append(np.full(len(cand), i))
            cols.append(cand)
        # a cell still too narrow after two rounds gets 2, 4, … 16 cells at once (some need
        # many: at 1,000,000 cases 9 cells of the re-entry grid failed 30 rounds in a row),
        # the further ones no more aggregated than itself: never a total for a provider cell
        take = 2 ** np.clip(streak[failing] - 2, 0, STUBBORN_MAX)
        extra = (take, grid.n_aggregated[failing])
        chosen = _choose(np.concatenate(rows), np.concatenate(cols), values, grid, extra)
        if not len(chosen):
            break
        before = sup.copy()
        sup[chosen] = True
        sup = _structural(sup, grid, eqs, dup, k, insiders)
        session.hide(np.flatnonzero(sup & ~before))
        pending = np.union1d(failing, np.flatnonzero(sup & ~before))
    status = np.where(primary, PRIMARY, np.where(sup, SECONDARY, SHOWN))
    out = grid.cells.assign(status=status)
    out.attrs["suppression"] = {
        "k": k,
        "cells": len(values),
        "primary": int(primary.sum()),
        "insider": int((primary & ~small).sum()),
        "secondary": int((sup & ~primary).sum()),
        "rounds": rounds,
        "lp_solves": solves,
        "unverified": len(failing),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out


def audit_grid(
    grid: Grid,
    status: pd.Series | np.ndarray,
    k: int = DEFAULT_K,
    *,
    insiders: Insiders | None = None,
    **kwargs,
) -> AuditResult:
    """The LP audit of a suppression pattern on the grid (every non-'' status is hidden),
    with `insiders`: every interval judged from the largest part a provider knows of the cell
    (`lp.AttackModel.floor`). The reader knows that every hidden cell holds at least 1: a
    zero is shown as 0 (review of 2026-12-07)."""
    hidden = (pd.Series(np.asarray(status)).fillna("").astype(str) != "").to_numpy()
    keys = grid.cells[[d.name for d in grid.dimensions]]
    eqs = grid_equations(grid)
    implied = _implied(hidden, eqs)
    floor = None if insiders is None else insiders.floor
    model = grid.attack_model(floor)
    result = audit(model, hidden, k, keys=keys, implied=implied, nonzero=True, **kwargs)
    return result


# ---------------------------------------------------------------------------------------------
# synthetic benchmark (not a test: `python -m dashboards.disclosure.linked`)

BENCH_PUBLICATIONS = (
    {"provider": "leaf", "period": ALL_LEVELS, "domain": ALL_LEVELS},
    {"programme": ALL_LEVELS, "region": ALL_LEVELS, "period": ALL_LEVELS},
    {"programme": ALL_LEVELS, "domain": ALL_LEVELS, "period": ALL_LEVELS},
)


def synthetic_leaves(
    n_cases: int = 1_000_000,
    *,
    providers=100,
    regions=53,
    programmes=5,
    years=4,
    domains=13,
    active: bool = False,
    seed: int = 0,
) -> tuple[pd.DataFrame, list[Dimension]]:
    """Leaf counts of a synthetic network: providers in 1-3 (programme, region) groups.

    ``active=False``: new cases by start quarter (additive in time); ``True``: cases active
    in each quarter, half and year (a distinct count: non-additive in time)."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(providers), rng.integers(1, 4, providers))
    prog, reg = rng.integers(0, programmes, len(owner)), rng.integers(0, regions, len(owner))
    size = rng.lognormal(0.0, 1.2, len(owner))
    group = rng.choice(len(owner), n_cases, p=size / size.sum())
    dom_p = 1.0 / np.arange(1, domains + 1) ** 1.3
    dom = rng.choice(domains, n_cases, p=dom_p / dom_p.sum())
    start = rng.integers(0, 4 * years, n_cases)
    end = start + rng.geometric(0.45, n_cases) - 1
    period = period_dimension(range(2025, 2025 + years), additive=not active)
    cell = group * domains + dom
    nodes = [(c, int(period.depth[i])) for i, c in enumerate(period.codes)]
    counts = []
    for i, (code, depth) in enumerate(nodes):
        if not active and depth < 2:
            continue
        qs = np.flatnonzero(period.ancestors[period.depth == 2][:, depth] == i)
        hit = (start <= qs.max()) & (end >= qs.min()) if active else start == qs[0]
        n = np.bincount(cell[hit], minlength=len(owner) * domains)
        nz = np.flatnonzero(n)
        counts.append(pd.DataFrame({"cell": nz, "period": code, "value": n[nz]}))
    df = pd.concat(counts, ignore_index=True)
    g, d = np.divmod(df.pop("cell").to_numpy(), domains)
    names = {
        "provider": [f"p{i:03d}" for i in range(providers)],
        "programme": [f"g{i}" for i in range(programmes)],
        "region": [f"r{i:02d}" for i in range(regions)],
        "domain": [f"d{i:02d}" for i in range(domains)],
    }
    for col, idx in (("provider", owner[g]), ("programme", prog[g]), ("region", reg[g])):
        df[col] = np.asarray(names[col])[idx]
    df["domain"] = np.asarray(names["domain"])[d]
    dims = [flat_dimension(n, codes) for n, codes in names.items()]
    return df, [*dims, period]


def benchmark(
    n_cases: int = 1_000_000,
    *,
    active: bool = False,
    k: int = DEFAULT_K,
    seed: int = 0,
    backend: str = "auto",
) -> dict:
    """Grid build, joint suppression and a full audit on synthetic data, timed."""
    leaves, dims = synthetic_leaves(n_cases, active=active, seed=seed)
    t0 = time.perf_counter()
    grid = build_grid(leaves, dims, BENCH_PUBLICATIONS)
    t_build = time.perf_counter() - t0
    out = suppress(grid, k, backend=backend)
    result = audit_grid(grid, out["status"], k, backend=backend)
    return {
        "cases": n_cases,
        "active": active,
        "leaves": len(grid.leaf_values),
        "build_seconds": round(t_build, 3),
        **{f"suppression_{n}": v for n, v in out.attrs["suppression"].items()},
        **{f"audit_{n}": v for n, v in result.summary().items()},
    }


if __name__ == "__main__":
    import sys

    print(
        benchmark(
            int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, active="--active" in sys.argv
        )
    )
