"""The publication grid: dimensions with hierarchies, published cells and leaf unknowns.

A grid is the set of published cells of one measure family in long form: one column per
dimension (a leaf or an aggregate code of its hierarchy) and the true count. Underneath are
the leaf unknowns an attacker reasons about: the non-empty leaf combinations. Empty leaf
combinations count as known zeros, the stricter choice (a reader often knows that a
provider does not work in a region). A cell of an additive dimension is the sum of the
leaves under it; a non-additive dimension (a distinct count such as "cases active in the
period") keeps one block of unknowns per level, linked by
``max(children) <= parent <= sum(children)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dashboards.disclosure.lp import AttackModel, Equations

ROOT = "__all__"
ALL_LEVELS = "*"


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


def enclosing_periods(quarters: Iterable[str]) -> set[str]:
    """The quarters with their half-years and years, e.g. 2026-Q4 -> 2026-Q4, 2026-H2, 2026:
    the periods a quarter not yet complete leaves incomplete."""
    out: set[str] = set()
    for q in quarters:
        out |= {q, f"{q[:4]}-H{1 if int(q[-1]) <= 2 else 2}", q[:4]}
    return out


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
        self.incidence = self.incidence_of(self.leaf_codes)
        sums = self.incidence @ self.leaf_values
        if (bad := np.flatnonzero(np.abs(sums - self.cell_values) > 1e-9)).size:
            raise ValueError(
                f"{len(bad)} cells are not the sum of their leaves, first: "
                f"{self.cells.iloc[bad[0]].to_dict()} vs {sums[bad[0]]}"
            )
        self.links = _links(self.leaf_codes, dims, self.radix)
        if self.links is not None and (self.links @ self.leaf_values > 1e-9).any():
            raise ValueError("the leaf counts violate max(children) <= parent <= sum(children)")

    def incidence_of(self, leaf_codes: np.ndarray) -> sp.csr_matrix:
        """(cells × rows) 0/1: which published cells each row of leaf codes falls in (the
        grid's own leaves, or another table at leaf level such as one provider's part)."""
        rows, cols = [], []
        for pattern, idx in self.patterns.items():
            proj, ok = _project(leaf_codes, self.dimensions, pattern)
            cell_keys = pd.Index(_keys(self.cell_codes[idx], self.radix))
            if not cell_keys.is_unique:
                raise ValueError("the grid holds the same cell twice")
            hit = cell_keys.get_indexer(_keys(proj[ok], self.radix))
            found = hit >= 0
            rows.append(idx[hit[found]])
            cols.append(np.flatnonzero(ok)[found])
        r, c = np.concatenate(rows), np.concatenate(cols)
        return sp.csr_matrix(
            (np.ones(len(r)), (r, c)), shape=(len(self.cell_codes), len(leaf_codes))
        )

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

    def attack_model(self, floor: np.ndarray | None = None) -> AttackModel:
        return AttackModel(
            self.incidence, self.cell_values, self.leaf_values, links=self.links, floor=floor
        )


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
    withheld: Mapping[str, Collection[str]] | None = None,
) -> Grid:
    """Aggregate the leaf table to the declared cross-classifications.

    leaves        one row per leaf combination with its count ``value``; additive
                  dimensions at leaf level, a non-additive one at every level that is
                  published (its counts cannot be derived by summing)
    publications  one mapping per cross-classification: dimension -> level (depth, level
                  name, "leaf" or ``ALL_LEVELS`` = every level); omitted dimensions are at
                  level 0 (their total)
    withheld      dimension -> codes whose cells are not published at all (the periods not
                  yet complete); the set must hold every ancestor of a code in it, so that no
                  published margin misses a part (grid_equations reads absent parts as zeros)
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
    codes, values = np.vstack(codes_out), np.concatenate(values_out)
    keep = np.ones(len(codes), dtype=bool)
    for name, withheld_codes in (withheld or {}).items():
        j = next(i for i, d in enumerate(dims) if d.name == name)
        out = np.isin(np.asarray(dims[j].codes, dtype=object), list(withheld_codes))
        keep &= ~out[codes[:, j]]
    return Grid(dims, codes[keep], values[keep], leaf_codes, leaf_values)


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
