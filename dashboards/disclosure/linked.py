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
   (non-zero duals), preferring cells binding several failures; repeat from 2. Suppressing
   more cells only widens intervals, so cells once safe stay safe and only failures and
   new suppressions are audited again. Each round suppresses at least one cell, so it ends.

The result is deterministic (no random choices; ties broken by cell position).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dashboards.disclosure.audit import (
    DEFAULT_K,
    AttackModel,
    AttackSession,
    AuditResult,
    Equations,
    audit,
    widths,
)

ROOT = "__all__"
ALL_LEVELS = "*"
SHOWN, PRIMARY, SECONDARY = "", "primary", "secondary"


@dataclass(eq=False)
class Dimension:
    """A dimension with its hierarchy as child -> parent (roots map to None).

    All leaves must sit at the same depth (levels are depths: 0 = roots). `additive` is
    False for a distinct count over this dimension (a case active in Q1 and Q2 counts once
    in H1). `level_names` optionally name the depths, e.g. ("year", "half", "quarter").
    """

    name: str
    parent: Mapping[str, str | None]
    additive: bool = True
    level_names: tuple[str, ...] = ()
    codes: tuple[str, ...] = field(init=False)
    index: dict[str, int] = field(init=False, repr=False)
    depth: np.ndarray = field(init=False, repr=False)
    up: np.ndarray = field(init=False, repr=False)
    ancestors: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        parent = {str(c): (None if p is None else str(p)) for c, p in self.parent.items()}
        for p in list(parent.values()):
            if p is not None and p not in parent:
                parent[p] = None
        depth: dict[str, int] = {}
        for code in parent:
            chain, c = [], code
            while c is not None and c not in depth:
                chain.append(c)
                if len(chain) > len(parent):
                    raise ValueError(f"dimension {self.name!r}: cycle at {code!r}")
                c = parent[c]
            base = -1 if c is None else depth[c]
            for i, cc in enumerate(reversed(chain)):
                depth[cc] = base + 1 + i
        order = sorted(parent, key=lambda c: depth[c])  # stable: keeps the given order
        self.codes = tuple(order)
        self.index = {c: i for i, c in enumerate(order)}
        self.depth = np.array([depth[c] for c in order], dtype=np.int64)
        self.up = np.array([-1 if parent[c] is None else self.index[parent[c]] for c in order])
        n_levels = int(self.depth.max()) + 1
        has_child = np.zeros(len(order), dtype=bool)
        has_child[self.up[self.up >= 0]] = True
        if (self.depth[~has_child] != n_levels - 1).any():
            raise ValueError(f"dimension {self.name!r}: all leaves must be at the same depth")
        anc = np.full((len(order), n_levels), -1, dtype=np.int64)
        cur = np.arange(len(order))
        while (cur >= 0).any():
            ok = cur >= 0
            anc[np.flatnonzero(ok), self.depth[cur[ok]]] = cur[ok]
            cur = np.where(ok, self.up[np.maximum(cur, 0)], -1)
        self.ancestors = anc

    @property
    def n_levels(self) -> int:
        return self.ancestors.shape[1]

    def level(self, spec: int | str) -> int:
        """A level given as depth, as one of `level_names`, or as "leaf"."""
        if spec == "leaf":
            return self.n_levels - 1
        if isinstance(spec, str):
            return self.level_names.index(spec)
        if not 0 <= spec < self.n_levels:
            raise ValueError(f"dimension {self.name!r} has no level {spec}")
        return int(spec)

    def encode(self, values: pd.Series) -> np.ndarray:
        idx = pd.Index(self.codes).get_indexer(values.astype(str))
        if (idx < 0).any():
            bad = values[idx < 0].iloc[0]
            raise ValueError(f"dimension {self.name!r}: unknown code {bad!r}")
        return idx


def flat_dimension(
    name: str, codes: Sequence[str], *, root: str = ROOT, additive: bool = True
) -> Dimension:
    """A one-level classification under a total, e.g. programme: ``__all__`` -> codes."""
    return Dimension(name, {root: None, **{c: root for c in codes}}, additive, ("all", "code"))


def period_dimension(years: Sequence[int | str], *, name="period", additive=True) -> Dimension:
    """Year -> halves ``YYYY-H1/H2`` -> quarters ``YYYY-Q1..Q4``."""
    parent: dict[str, str | None] = {}
    for y in map(str, years):
        parent[y] = None
        for h in (1, 2):
            parent[f"{y}-H{h}"] = y
            for q in (2 * h - 1, 2 * h):
                parent[f"{y}-Q{q}"] = f"{y}-H{h}"
    return Dimension(name, parent, additive, ("year", "half", "quarter"))


# ---------------------------------------------------------------------------------------------
# the grid


def _keys(codes: np.ndarray, radix: np.ndarray) -> np.ndarray:
    return codes @ radix


@dataclass(eq=False)
class Grid:
    """Published cells and the leaf unknowns beneath them, with the relations between them.

    `cell_codes` / `leaf_codes` are (n, n_dims) indices into each dimension's `codes`; for
    a non-additive dimension a leaf may sit at any level. Build with `build_grid` or
    `Grid.from_frames`.
    """

    dimensions: tuple[Dimension, ...]
    cell_codes: np.ndarray
    cell_values: np.ndarray
    leaf_codes: np.ndarray
    leaf_values: np.ndarray

    def __post_init__(self):
        dims = self.dimensions
        self.radix = np.cumprod([1] + [len(d.codes) for d in dims[:-1]]).astype(np.int64)
        self.cell_depth = np.column_stack(
            [d.depth[self.cell_codes[:, j]] for j, d in enumerate(dims)]
        )
        self.n_aggregated = (self.cell_depth < np.array([d.n_levels - 1 for d in dims])).sum(axis=1)
        self.patterns = {
            tuple(int(x) for x in p): np.flatnonzero((self.cell_depth == p).all(axis=1))
            for p in np.unique(self.cell_depth, axis=0)
        }
        rows, cols = [], []
        for pattern, idx in self.patterns.items():
            proj, ok = _project(self.leaf_codes, dims, pattern)
            cell_keys = pd.Index(_keys(self.cell_codes[idx], self.radix))
            if not cell_keys.is_unique:
                raise ValueError("the grid holds the same cell twice")
            hit = cell_keys.get_indexer(_keys(proj[ok], self.radix))
            found = hit >= 0
            rows.append(idx[hit[found]])
            cols.append(np.flatnonzero(ok)[found])
        r, c = np.concatenate(rows), np.concatenate(cols)
        self.incidence = sp.csr_matrix(
            (np.ones(len(r)), (r, c)), shape=(len(self.cell_codes), len(self.leaf_codes))
        )
        sums = self.incidence @ self.leaf_values
        if (bad := np.flatnonzero(np.abs(sums - self.cell_values) > 1e-9)).size:
            raise ValueError(
                f"{len(bad)} cells are not the sum of their leaves, first: "
                f"{self.cells.iloc[bad[0]].to_dict()} vs {sums[bad[0]]}"
            )
        self.links = _links(self.leaf_codes, dims, self.radix)
        if self.links is not None and (self.links @ self.leaf_values > 1e-9).any():
            raise ValueError("the leaf counts violate max(children) <= parent <= sum(children)")

    @classmethod
    def from_frames(
        cls, cells: pd.DataFrame, leaves: pd.DataFrame, dimensions: Sequence[Dimension]
    ) -> Grid:
        """A grid from published cells and the leaf table (columns: dimensions + value)."""
        dims = tuple(dimensions)
        leaf_codes, leaf_values = _leaf_table(leaves, dims)
        codes = np.column_stack([d.encode(cells[d.name]) for d in dims])
        return cls(dims, codes, cells["value"].to_numpy(dtype=float), leaf_codes, leaf_values)

    @property
    def cells(self) -> pd.DataFrame:
        """The published cells: one column per dimension (codes) and ``value``."""
        out = {
            d.name: np.asarray(d.codes, dtype=object)[self.cell_codes[:, j]]
            for j, d in enumerate(self.dimensions)
        }
        return pd.DataFrame({**out, "value": self.cell_values.astype(np.int64)})

    def attack_model(self) -> AttackModel:
        return AttackModel(self.incidence, self.cell_values, self.leaf_values, links=self.links)


def _project(codes: np.ndarray, dims: Sequence[Dimension], pattern: Sequence[int]):
    """Leaf codes mapped to their cell at `pattern` (depths); `ok` marks leaves inside it."""
    proj = np.empty_like(codes)
    ok = np.ones(len(codes), dtype=bool)
    for j, (d, t) in enumerate(zip(dims, pattern, strict=True)):
        if d.additive:
            proj[:, j] = d.ancestors[codes[:, j], t]
        else:
            ok &= d.depth[codes[:, j]] == t
            proj[:, j] = codes[:, j]
    return proj, ok


def _links(codes: np.ndarray, dims: Sequence[Dimension], radix: np.ndarray):
    """Rows ``G x <= 0``: child <= parent and parent <= sum(children), non-additive dims."""
    keys = pd.Index(_keys(codes, radix))
    rows, cols, vals, r = [], [], [], 0
    for j, d in enumerate(dims):
        if d.additive:
            continue
        up = d.up[codes[:, j]]
        child = np.flatnonzero(up >= 0)
        pcodes = codes[child].copy()
        pcodes[:, j] = up[child]
        par = keys.get_indexer(_keys(pcodes, radix))
        child, par = child[par >= 0], par[par >= 0]
        n = len(child)
        rows += [np.arange(r, r + n)] * 2  # child - parent <= 0
        cols += [child, par]
        vals += [np.ones(n), -np.ones(n)]
        r += n
        parents, inv = np.unique(par, return_inverse=True)
        rows += [r + np.arange(len(parents)), r + inv]  # parent - sum(children) <= 0
        cols += [parents, child]
        vals += [np.ones(len(parents)), -np.ones(n)]
        r += len(parents)
    if r == 0:
        return None
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(r, len(codes)),
    )


def _leaf_table(leaves: pd.DataFrame, dims: Sequence[Dimension]):
    codes = np.column_stack([d.encode(leaves[d.name]) for d in dims])
    for j, d in enumerate(dims):
        if d.additive and (d.depth[codes[:, j]] != d.n_levels - 1).any():
            raise ValueError(f"additive dimension {d.name!r}: leaves must be at leaf level")
    values = leaves["value"].to_numpy(dtype=float)
    if (values < 0).any():
        raise ValueError("counts must be non-negative")
    radix = np.cumprod([1] + [len(d.codes) for d in dims[:-1]]).astype(np.int64)
    uniq, first, inv = np.unique(_keys(codes, radix), return_index=True, return_inverse=True)
    summed = np.bincount(inv, weights=values, minlength=len(uniq))
    keep = summed > 0
    return codes[first][keep], summed[keep]


def build_grid(
    leaves: pd.DataFrame,
    dimensions: Sequence[Dimension],
    publications: Sequence[Mapping[str, int | str]],
) -> Grid:
    """Aggregate the leaf table to the declared cross-classifications.

    leaves        one row per leaf combination with its count ``value``; additive
                  dimensions at leaf level, a non-additive one at every level that is
                  published (its counts cannot be derived by summing)
    publications  one mapping per cross-classification: dimension -> level (depth, level
                  name, "leaf" or ``ALL_LEVELS`` = every level); omitted dimensions are at
                  level 0 (their total)
    Cells with value 0 are not part of the grid: like empty leaves they are known zeros.
    """
    dims = tuple(dimensions)
    names = {d.name for d in dims}
    leaf_codes, leaf_values = _leaf_table(leaves, dims)
    patterns: set[tuple[int, ...]] = set()
    for pub in publications:
        if unknown := set(pub) - names:
            raise ValueError(f"unknown dimensions {sorted(unknown)}")
        choices = []
        for d in dims:
            spec = pub.get(d.name, 0)
            choices.append(range(d.n_levels) if spec == ALL_LEVELS else [d.level(spec)])
        patterns.update(itertools.product(*choices))
    radix = np.cumprod([1] + [len(d.codes) for d in dims[:-1]]).astype(np.int64)
    codes_out, values_out = [], []
    for pattern in sorted(patterns):
        proj, ok = _project(leaf_codes, dims, pattern)
        uniq, first, inv = np.unique(_keys(proj[ok], radix), return_index=True, return_inverse=True)
        codes_out.append(proj[ok][first])
        values_out.append(np.bincount(inv, weights=leaf_values[ok], minlength=len(uniq)))
    return Grid(dims, np.vstack(codes_out), np.concatenate(values_out), leaf_codes, leaf_values)


def grid_equations(grid: Grid, *, transitive: bool = False) -> Equations:
    """Sum relations among published cells along additive dimensions.

    For each published cell and additive dimension, one equation margin = sum of its
    descendants at the next lower level that is published with the same other levels
    (with `transitive`: at every published lower level, e.g. year = its four quarters
    beside year = its halves). Absent descendants are known zeros.
    """
    dims, codes = grid.dimensions, grid.cell_codes
    parents, members_r, members_c, n_eq = [], [], [], 0
    for pattern, idx in grid.patterns.items():
        parent_keys = pd.Index(_keys(codes[idx], grid.radix))
        for j, d in enumerate(dims):
            if not d.additive:
                continue
            found = False
            for u in range(pattern[j] + 1, d.n_levels):
                child_pattern = (*pattern[:j], u, *pattern[j + 1 :])
                if child_pattern not in grid.patterns or (found and not transitive):
                    continue
                found = True
                kids = grid.patterns[child_pattern]
                up = codes[kids].copy()
                up[:, j] = d.ancestors[up[:, j], pattern[j]]
                par = parent_keys.get_indexer(_keys(up, grid.radix))
                kids, par = kids[par >= 0], idx[par[par >= 0]]
                uniq, inv = np.unique(par, return_inverse=True)
                parents.append(uniq)
                members_r.append(n_eq + inv)
                members_c.append(kids)
                n_eq += len(uniq)
    if not n_eq:
        return Equations(np.zeros(0, dtype=int), sp.csr_matrix((0, len(codes))))
    r, c = np.concatenate(members_r), np.concatenate(members_c)
    children = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_eq, len(codes)))
    return Equations(np.concatenate(parents), children)


# ---------------------------------------------------------------------------------------------
# suppression


def _choose(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, grid: Grid) -> np.ndarray:
    """For every problem (`rows`), the candidate (`cols`) of least cost; ties: interior, index.

    Cost is the cell value divided by the number of problems the candidate takes part in,
    so one cell that fixes several problems is preferred."""
    if not len(rows):
        return np.zeros(0, dtype=int)
    score = np.bincount(cols, minlength=len(cost))
    c = cost[cols] / score[cols]
    order = np.lexsort((cols, grid.n_aggregated[cols], c, rows))
    _, first = np.unique(rows[order], return_index=True)
    return np.unique(cols[order][first])


def _structural(sup: np.ndarray, grid: Grid, eqs: Equations, dup: np.ndarray, k: int):
    """Cheap rules before any LP: no single hidden cell in an equation, enough hidden mass."""
    values = grid.cell_values
    members = eqs.children
    parent = eqs.parent
    while True:
        # one figure in two tables: same leaves, same status
        hidden_group = np.bincount(dup, weights=sup, minlength=dup.max(initial=0) + 1) > 0
        sup = sup | hidden_group[dup]
        s = sup.astype(float)
        n_child = members @ s
        mass = members @ (s * values)
        single = (n_child + s[parent]) == 1
        short = ~sup[parent] & (n_child >= 1) & (mass < k)
        problem = np.flatnonzero(single | short)
        if not len(problem):
            return sup
        sub = members[problem].tocoo()
        ok = ~sup[sub.col] & (values[sub.col] > 0)
        rows, cols = sub.row[ok], sub.col[ok]
        orphan = np.setdiff1d(np.arange(len(problem)), rows)  # no visible child: the margin
        orphan = orphan[~sup[parent[problem[orphan]]]]
        rows = np.concatenate([rows, orphan])
        cols = np.concatenate([cols, parent[problem[orphan]]])
        chosen = _choose(rows, cols, values, grid)
        if not len(chosen):
            return sup
        sup[chosen] = True


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
    grid: Grid, k: int = DEFAULT_K, *, backend: str = "auto", max_rounds: int = 1000
) -> pd.DataFrame:
    """Primary and secondary suppression of all cells of the grid, jointly.

    Returns `grid.cells` with ``status`` ('' shown, 'primary', 'secondary'); ``attrs``
    holds the figures of the run (rounds, LP solves, seconds, unprotected cells left).
    """
    t0 = time.perf_counter()
    values = grid.cell_values
    primary = (values >= 1) & (values < k)
    eqs = grid_equations(grid)
    dup = _duplicates(grid)
    sup = _structural(primary.copy(), grid, eqs, dup, k)
    session = AttackSession(grid.attack_model(), sup, backend)
    pending = np.flatnonzero(sup)
    rounds = solves = 0
    failing = np.zeros(0, dtype=int)
    while len(pending) and rounds < max_rounds:
        rounds += 1
        r = session.intervals(pending, k)
        solves += r["lp_solves"]
        failing = pending[widths(r["lo"], r["hi"]) < k]
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
        chosen = _choose(np.concatenate(rows), np.concatenate(cols), values, grid)
        if not len(chosen):
            break
        before = sup.copy()
        sup[chosen] = True
        sup = _structural(sup, grid, eqs, dup, k)
        session.hide(np.flatnonzero(sup & ~before))
        pending = np.union1d(failing, np.flatnonzero(sup & ~before))
    status = np.where(primary, PRIMARY, np.where(sup, SECONDARY, SHOWN))
    out = grid.cells.assign(status=status)
    out.attrs["suppression"] = {
        "k": k,
        "cells": len(values),
        "primary": int(primary.sum()),
        "secondary": int((sup & ~primary).sum()),
        "rounds": rounds,
        "lp_solves": solves,
        "unverified": len(failing),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out


def audit_grid(
    grid: Grid, status: pd.Series | np.ndarray, k: int = DEFAULT_K, **kwargs
) -> AuditResult:
    """The LP audit of a suppression pattern on the grid (every non-'' status is hidden)."""
    hidden = (pd.Series(np.asarray(status)).fillna("").astype(str) != "").to_numpy()
    keys = grid.cells[[d.name for d in grid.dimensions]]
    implied = _implied(hidden, grid_equations(grid))
    return audit(grid.attack_model(), hidden, k, keys=keys, implied=implied, **kwargs)


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
