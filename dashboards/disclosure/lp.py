"""The attacker's linear programmes: intervals of hidden cells, solved block by block.

Engine behind `audit` and `linked.suppress`. The problem splits into independent blocks,
the connected components of the graph "variable -- row it appears in" (one per year for an
additive period, one per measure). Within a block one HiGHS instance is kept and only the
objective changes, so each bound restarts from the previous optimal basis with the primal
simplex (the basis stays primal feasible; dual simplex was >20x slower here). Every LP
solution, and the true data, is a feasible point: it gives inner bounds for all cells of
the block at once, so a cell whose inner interval is already wide enough needs no LP of
its own (``exact=False``). Before solving, rows implied by other shown rows are dropped
and variables pinned by an equation with one unknown are fixed (exact reductions).
`AttackSession` keeps the LPs alive while the suppression hides cells round by round:
hiding a cell frees its row, which keeps the basis feasible, so no round starts cold.

The solver is HiGHS: the public ``highspy`` package when installed, else the same HiGHS
class that scipy ships (``scipy.optimize._highspy``, private but pinned with scipy), else
``scipy.optimize.linprog`` (one cold solve per bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

DEFAULT_K = 3
_TOL = 1e-6


class Equations(NamedTuple):
    """Published sum relations between cells: ``cells[parent[i]] = sum(cells[children[i]])``."""

    parent: np.ndarray  # (n_eq,) cell index
    children: sp.csr_matrix  # (n_eq, n_cells) 0/1


@dataclass(eq=False)
class AttackModel:
    """Everything the attacker's LP needs; cells are linear in non-negative variables.

    cells       (n_cells, n_vars) incidence: a cell's value is ``cells @ x``
    values      true cell values (published ones are the attacker's right-hand sides)
    truth       the true variables, a feasible point (used for inner bounds)
    equalities  optional rows ``E x = 0`` (relations between cells in `audit_tables`)
    links       optional rows ``G x <= 0`` (non-additive dimensions)
    floor       optional, per cell: what an insider knows the cell holds at least (a
                provider's own part of it, `dashboards.disclosure.insiders`); a cell's
                interval is judged from max(lo, floor), so the part of it that rests on
                the others' records must still be k wide
    """

    cells: sp.csr_matrix
    values: np.ndarray
    truth: np.ndarray
    equalities: sp.csr_matrix | None = None
    links: sp.csr_matrix | None = None
    floor: np.ndarray | None = None

    def __post_init__(self):
        self.cells = sp.csr_matrix(self.cells, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        self.truth = np.asarray(self.truth, dtype=float)
        n = self.cells.shape[0]
        self.floor = np.zeros(n) if self.floor is None else np.asarray(self.floor, dtype=float)
        if self.floor.shape != (n,) or (self.floor > self.values + _TOL).any():
            raise ValueError("an insider's floor must be at most the cell's value")
        if np.abs(self.cells @ self.truth - self.values).max(initial=0) > _TOL:
            raise ValueError("cell values are not the sums of their variables")
        for rows, name in ((self.equalities, "equalities"), (self.links, "links")):
            if rows is None:
                continue
            r = sp.csr_matrix(rows, dtype=float) @ self.truth
            bad = np.abs(r) > _TOL if name == "equalities" else r > _TOL
            if bad.any():
                raise ValueError(f"the true data violate {int(bad.sum())} {name}")


# ---------------------------------------------------------------------------------------------
# solvers: one instance per block, objective changed between solves


def _highs_core():
    try:
        import highspy

        return highspy, highspy.Highs
    except ImportError:
        pass
    try:
        from scipy.optimize._highspy import _core

        return _core, _core._Highs
    except ImportError:  # pragma: no cover - depends on the scipy build
        return None, None


class _Persistent:
    """A HiGHS instance whose basis survives objective changes (warm start)."""

    def __init__(self, a_eq, b_eq, a_ub=None, b_ub=None):
        hc, highs_cls = _highs_core()
        self.hc = hc
        a = a_eq if a_ub is None else sp.vstack([a_eq, a_ub])
        a = sp.csc_matrix(a, dtype=float)
        n_ub = 0 if a_ub is None else a_ub.shape[0]
        self.n_eq = a_eq.shape[0]
        lp = hc.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.zeros(a.shape[1])
        lp.col_lower_ = np.zeros(a.shape[1])
        lp.col_upper_ = np.full(a.shape[1], hc.kHighsInf)
        lp.row_lower_ = np.concatenate([b_eq, np.full(n_ub, -hc.kHighsInf)])
        lp.row_upper_ = np.concatenate([b_eq, np.zeros(n_ub) if b_ub is None else b_ub])
        lp.a_matrix_.format_ = hc.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
        lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr, a.indices
        lp.a_matrix_.value_ = a.data
        self.h = highs_cls()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("threads", 1)
        # after an objective change the basis stays primal feasible: primal simplex goes on
        # from it (dual simplex restarts from dual phase 1, >20x slower here)
        self.h.setOptionValue("simplex_strategy", 4)
        # with presolve on, HiGHS at times presolved again although the basis was valid (no
        # simplex iteration, 0.5 s each; 1,000,000 cases: re-entry grid 68 s, now 32 s)
        self.h.setOptionValue("presolve", "off")
        self.h.passModel(lp)
        self.last = np.zeros(0, dtype=np.int32)

    def free_rows(self, rows, lower=None) -> None:
        """Rows no longer equal to their value: free above, and below free or `lower` (per
        row: what a reader still knows of a hidden cell, `AttackSession`)."""
        inf = self.hc.kHighsInf
        rows = np.asarray(rows, dtype=int)
        lower = np.full(len(rows), -inf) if lower is None else np.asarray(lower, dtype=float)
        lower = np.maximum(lower, -inf)  # -np.inf: HiGHS's own infinity
        for r, lo in zip(rows.tolist(), lower.tolist(), strict=True):
            self.h.changeRowBounds(r, lo, inf)

    def optimize(self, cols: np.ndarray, coefs: np.ndarray, maximize: bool):
        hc, h = self.hc, self.h
        if len(self.last):
            h.changeColsCost(len(self.last), self.last, np.zeros(len(self.last)))
        cols = cols.astype(np.int32)
        h.changeColsCost(len(cols), cols, coefs.astype(float))
        self.last = cols
        h.changeObjectiveSense(hc.ObjSense.kMaximize if maximize else hc.ObjSense.kMinimize)
        for attempt in range(2):
            h.run()
            status = h.getModelStatus()
            if status == hc.HighsModelStatus.kOptimal:
                sol = h.getSolution()
                dual = np.asarray(sol.row_dual)[: self.n_eq]
                return "optimal", h.getInfo().objective_function_value, sol.col_value, dual
            if status in (
                hc.HighsModelStatus.kUnbounded,
                hc.HighsModelStatus.kUnboundedOrInfeasible,
            ):
                return "unbounded", math.inf if maximize else -math.inf, None, None
            if attempt == 0:
                h.clearSolver()  # numerical trouble: retry once from scratch
        raise RuntimeError(f"attacker LP not solved: {status}")


class _Linprog:
    """scipy.optimize.linprog, one cold HiGHS solve per bound (the portable fallback)."""

    def __init__(self, a_eq, b_eq, a_ub=None, b_ub=None):
        self.a_eq, self.b_eq, self.a_ub = a_eq, b_eq, a_ub
        self.b_ub = None if a_ub is None else (np.zeros(a_ub.shape[0]) if b_ub is None else b_ub)
        self.active = np.ones(a_eq.shape[0], dtype=bool)
        self.lower = np.full(a_eq.shape[0], -np.inf)  # of a row no longer active

    def free_rows(self, rows, lower=None) -> None:
        rows = np.asarray(rows, dtype=int)
        self.active[rows] = False
        self.lower[rows] = -np.inf if lower is None else lower

    def _inequalities(self):
        """The links and the lower bounds of freed rows as ``A_ub x <= b_ub``."""
        parts = [] if self.a_ub is None else [self.a_ub]
        rhs = [] if self.a_ub is None else [self.b_ub]
        rows = np.flatnonzero(~self.active & np.isfinite(self.lower))
        if len(rows):
            parts.append(-self.a_eq[rows])
            rhs.append(-self.lower[rows])
        if not parts:
            return {}
        return {"A_ub": sp.vstack(parts).tocsr(), "b_ub": np.concatenate(rhs)}

    def optimize(self, cols: np.ndarray, coefs: np.ndarray, maximize: bool):
        c = np.zeros(self.a_eq.shape[1])
        c[cols] = -coefs if maximize else coefs
        kw = self._inequalities()
        if self.active.any():
            kw |= {"A_eq": self.a_eq[self.active], "b_eq": self.b_eq[self.active]}
        res = linprog(c, bounds=(0, None), method="highs", **kw)
        if res.status == 0:
            fun = -res.fun if maximize else res.fun
            dual = np.zeros(len(self.active))
            if self.active.any():
                dual[self.active] = res.eqlin.marginals
            return "optimal", fun, res.x, dual
        if res.status == 3:
            return "unbounded", math.inf if maximize else -math.inf, None, None
        raise RuntimeError(f"attacker LP not solved: {res.message}")


def _backend(name: str):
    if name == "linprog" or (name == "auto" and _highs_core()[0] is None):
        return _Linprog
    if name in ("auto", "highs"):
        return _Persistent
    raise ValueError(f"unknown LP backend {name!r}")


# ---------------------------------------------------------------------------------------------
# the audit


def _groups(labels: np.ndarray) -> dict[int, np.ndarray]:
    if not len(labels):
        return {}
    order = np.argsort(labels, kind="stable")
    keys, starts = np.unique(labels[order], return_index=True)
    return dict(zip(keys.tolist(), np.split(order, starts[1:]), strict=True))


def _wide_enough(lo: float, hi: float, floor: float, k: int) -> bool:
    """A hidden cell is protected when a reader cannot narrow it to fewer than k values above
    what an insider knows of it (`floor`)."""
    return hi == math.inf or math.floor(hi + _TOL) - math.ceil(max(lo, floor) - _TOL) >= k


def needs_lower_bound(cells: sp.csr_matrix, hidden: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Of the `new` hidden cells, those whose "at least 1" another hidden cell does not imply
    already: one made of a subset of its leaves (a hidden part of a hidden total). Fewer rows
    bounded, the same LP (demo, referrals: of 5,000 hidden cells, most are totals of hidden
    parts)."""
    new = np.asarray(new, dtype=int)
    others = np.flatnonzero(hidden)
    if not len(new) or not len(others):
        return np.ones(len(new), dtype=bool)
    pattern = sp.csr_matrix(cells, dtype=float, copy=True)
    pattern.data[:] = 1.0
    size = pattern.getnnz(axis=1)
    overlap = (pattern[new] @ pattern[others].T).tocoo()
    row, col = overlap.row, others[overlap.col]
    inside = (overlap.data == size[col]) & (col != new[row]) & (size[col] > 0)
    # a cell with the same leaves implies it only when it comes first (one of them bounded)
    inside &= (size[col] < size[new[row]]) | (col < new[row])
    implied = np.zeros(len(new), dtype=bool)
    implied[row[inside]] = True
    return ~implied


def _fix_singletons(a: sp.csr_matrix, b: np.ndarray):
    """Variables pinned by an equation with one unknown left, repeatedly (exact presolve)."""
    ind = a.copy()
    ind.data[:] = 1.0
    fixed = np.zeros(a.shape[1], dtype=bool)
    x = np.zeros(a.shape[1])
    while True:
        single = np.flatnonzero(ind @ (~fixed) == 1)
        if not len(single):
            return fixed, x
        sub = a[single].multiply((~fixed)[None, :]).tocsr()
        sub.eliminate_zeros()
        cols = sub.indices  # exactly one per row
        x[cols] = (b[single] - a[single] @ x) / sub.data
        fixed[cols] = True


def attack_intervals(
    model: AttackModel,
    suppressed: np.ndarray,
    k: int = DEFAULT_K,
    *,
    targets: np.ndarray | None = None,
    implied: np.ndarray | None = None,
    exact: bool = False,
    backend: str = "auto",
    nonzero: bool = False,
):
    """LP intervals of the target cells (default: every suppressed cell).

    `nonzero`: the reader knows that every hidden cell holds at least 1 (a grid has no zero
    cells: an absent one is shown as 0, so "x" says "1 or more").

    `implied` marks shown cells whose row is the sum of other shown rows (a margin whose
    parts are all shown); leaving them out changes nothing but the size of the LP.
    Returns a dict with float arrays ``lo``, ``hi`` (LP values; inner bounds where
    ``exact`` is False), ``exact`` (both bounds solved), ``binding`` (target -> shown cells
    with a non-zero dual in its LPs: the constraints that pin it, used to choose secondary
    suppressions), ``lp_solves`` and ``components``.
    """
    suppressed = np.asarray(suppressed, dtype=bool)
    targets = np.flatnonzero(suppressed) if targets is None else np.asarray(targets, dtype=int)
    solver_cls = _backend(backend)
    cells = model.cells
    drop = suppressed if implied is None else suppressed | implied
    shown = np.flatnonzero(~drop & (cells.getnnz(axis=1) > 0))
    n_eq_rows = 0 if model.equalities is None else model.equalities.shape[0]
    a_eq = sp.vstack([cells[shown], *([model.equalities] if n_eq_rows else [])]).tocsr()
    b_eq = np.concatenate([model.values[shown], np.zeros(n_eq_rows)])
    row_cell = np.concatenate([shown, np.full(n_eq_rows, -1)])
    # exact presolve: pinned variables become constants
    fixed, x_fixed = _fix_singletons(a_eq, b_eq)
    free = np.flatnonzero(~fixed)
    b_eq = b_eq - a_eq @ x_fixed
    a_eq = a_eq[:, free].tocsr()
    keep = a_eq.getnnz(axis=1) > 0
    a_eq, b_eq, row_cell = a_eq[keep], b_eq[keep], row_cell[keep]
    a_ub = b_ub = None
    ub_parts, ub_rhs = [], []
    if model.links is not None:
        ub_parts.append(model.links)
        ub_rhs.append(np.zeros(model.links.shape[0]))
    if nonzero:  # every hidden cell at least 1 (-c·x <= -1) where no hidden part implies it
        hidden = np.flatnonzero(suppressed & (cells.getnnz(axis=1) > 0))
        hidden = hidden[needs_lower_bound(cells, suppressed, hidden)]
        ub_parts.append(-cells[hidden])
        ub_rhs.append(-np.minimum(1.0, model.values[hidden]))
    if ub_parts:
        full = sp.vstack(ub_parts).tocsr()
        b_ub = np.concatenate(ub_rhs) - full @ x_fixed
        a_ub = full[:, free].tocsr()
        keep = a_ub.getnnz(axis=1) > 0
        a_ub, b_ub = a_ub[keep], b_ub[keep]
    t_all = cells[targets]
    offset = t_all @ x_fixed
    t_all = t_all[:, free].tocsr()
    truth = model.truth[free]

    graph = sp.vstack([a_eq, t_all, *([a_ub] if a_ub is not None else [])]).tocsr()
    graph.data[:] = 1.0
    n_rows = graph.shape[0]
    _, labels = connected_components(sp.bmat([[None, graph], [graph.T, None]]), directed=False)
    row_lab, var_lab = labels[:n_rows], labels[n_rows:]
    n_a, n_t = a_eq.shape[0], len(targets)
    eq_by = _groups(row_lab[:n_a])
    ub_by = _groups(row_lab[n_a + n_t :]) if a_ub is not None else {}
    var_by = _groups(var_lab)
    has_vars = t_all.getnnz(axis=1) > 0
    t_lab = np.where(has_vars, row_lab[n_a : n_a + n_t], -1)

    lo = t_all @ truth
    hi = lo.copy()
    floor = model.floor[targets]
    exact_lo = ~has_vars  # everything under it is pinned: the cell is known
    exact_hi = exact_lo.copy()
    binding: dict[int, np.ndarray] = {}
    solves = comps = 0
    for lab, t_idx in _groups(t_lab).items():
        if lab < 0:
            continue
        comps += 1
        cols = var_by[lab]
        rows = eq_by.get(lab, np.zeros(0, dtype=int))
        ub_rows = ub_by.get(lab)
        solver = solver_cls(
            a_eq[rows][:, cols].tocsr(),
            b_eq[rows],
            None if ub_rows is None else a_ub[ub_rows][:, cols].tocsr(),
            None if ub_rows is None else b_ub[ub_rows],
        )
        tcells = t_all[t_idx][:, cols].tocsr()
        solves += _solve_targets(
            solver,
            tcells,
            t_idx,
            (lo, hi, exact_lo, exact_hi),
            offset,
            floor,
            k,
            exact,
            lambda d, rows=rows: row_cell[rows[np.abs(d) > 1e-9]],
            binding,
            targets,
        )
    return {
        "lo": lo + offset,
        "hi": hi + offset,
        "floor": floor,
        "exact": exact_lo & exact_hi,
        "binding": binding,
        "lp_solves": solves,
        "components": comps,
        "targets": targets,
    }


def _solve_targets(
    solver, tcells, t_idx, state, offset, floor, k, exact, dual_cells, binding, targets
):
    """Bounds of the targets of one block; every LP solution widens the inner bounds of all.
    A target is wide enough when its interval above `floor` is (an insider's own part)."""
    lo, hi, exact_lo, exact_hi = state
    solves = 0 if exact else _widen(solver, tcells, t_idx, state, offset, floor, k)
    indptr, indices, data = tcells.indptr, tcells.indices, tcells.data
    for pos, i in enumerate(t_idx):
        row = slice(indptr[pos], indptr[pos + 1])  # not tcells[pos]: scipy's row copy was
        hit = []  # a fifth of the suppression's time at 10,000 cases
        for maximize in (True, False):
            if not exact and _wide_enough(lo[i] + offset[i], hi[i] + offset[i], floor[i], k):
                break
            status, value, x, dual = solver.optimize(indices[row], data[row], maximize)
            solves += 1
            if maximize:
                hi[i], exact_hi[i] = value, True
            else:
                lo[i], exact_lo[i] = value, True
            if status == "optimal":
                reached = tcells @ np.asarray(x)
                h, low = hi[t_idx], lo[t_idx]
                hi[t_idx] = np.where(exact_hi[t_idx], h, np.maximum(h, reached))
                lo[t_idx] = np.where(exact_lo[t_idx], low, np.minimum(low, reached))
                hit.append(dual_cells(dual))
        if hit:
            cells_hit = np.unique(np.concatenate(hit))
            binding[int(targets[i])] = cells_hit[cells_hit >= 0]
    return solves


WIDEN_MIN_TARGETS = 8  # below this, one LP per target is as cheap
WIDEN_MAX_SOLVES = 40
WIDEN_MIN_GAIN = 3  # targets a widening LP must certify to be worth another


def _widen(solver, tcells, t_idx, state, offset, floor, k) -> int:
    """Inner bounds for many targets at once: maximise a random positive mix of the targets
    not yet wide enough, a few times. Every solution is a point the attacker cannot rule out,
    so each widens the inner interval of all targets; those it makes k wide need no LP of
    their own. With every hidden cell at least 1 (`nonzero`) one LP per target found little
    beyond the target itself (demo, referrals: 3,577 solves against 280 before). Seeded: the
    same targets, the same points, the same pattern."""
    lo, hi, exact_lo, exact_hi = state
    rng = np.random.default_rng(len(t_idx))
    solves = 0

    def still_open() -> np.ndarray:
        return widths(lo[t_idx] + offset[t_idx], hi[t_idx] + offset[t_idx], floor[t_idx]) < k

    for _ in range(WIDEN_MAX_SOLVES):
        open_ = still_open()
        if open_.sum() < WIDEN_MIN_TARGETS:
            break
        weights = np.zeros(len(t_idx))
        weights[open_] = rng.uniform(0.5, 1.5, int(open_.sum()))
        mix = sp.csr_matrix(weights) @ tcells
        status, _, x, _ = solver.optimize(mix.indices, mix.data, True)
        solves += 1
        if status != "optimal":
            break  # unbounded: some target is; the per-target LPs say which
        reached = tcells @ np.asarray(x)
        h, low = hi[t_idx], lo[t_idx]
        hi[t_idx] = np.where(exact_hi[t_idx], h, np.maximum(h, reached))
        lo[t_idx] = np.where(exact_lo[t_idx], low, np.minimum(low, reached))
        if (open_ & ~still_open()).sum() < WIDEN_MIN_GAIN:
            break  # few certified by this point: the rest need their own LP
    return solves


class AttackSession:
    """Attacker LPs kept alive while cells are hidden one batch after another.

    Used by the secondary suppression: every cell's row stays in its block's LP, and hiding
    a cell frees its row, so HiGHS restarts from the last basis (still feasible: freeing a
    row only enlarges the feasible set) instead of solving each round from scratch. Blocks
    are the components of the whole grid, fixed at the start.
    """

    def __init__(self, model: AttackModel, suppressed: np.ndarray, backend: str = "auto"):
        self.model = model
        self.hidden = np.asarray(suppressed, dtype=bool).copy()
        cells = model.cells
        n_cells = cells.shape[0]
        n_eq = 0 if model.equalities is None else model.equalities.shape[0]
        a_eq = sp.vstack([cells, *([model.equalities] if n_eq else [])]).tocsr()
        self.row_cell = np.concatenate([np.arange(n_cells), np.full(n_eq, -1)])
        graph = sp.vstack([a_eq, *([model.links] if model.links is not None else [])]).tocsr()
        graph.data[:] = 1.0
        n_rows = graph.shape[0]
        adj = sp.bmat([[None, graph], [graph.T, None]])
        _, labels = connected_components(adj, directed=False)
        self.cell_lab = np.where(cells.getnnz(axis=1) > 0, labels[:n_cells], -1)
        eq_by = _groups(labels[: a_eq.shape[0]])
        ub_by = _groups(labels[a_eq.shape[0] : n_rows]) if model.links is not None else {}
        self.var_by = _groups(labels[n_rows:])
        self.blocks: dict[int, tuple] = {}
        solver_cls = _backend(backend)
        b_eq = np.concatenate([model.values, np.zeros(n_eq)])
        for lab, cols in self.var_by.items():
            rows = eq_by.get(lab, np.zeros(0, dtype=int))
            ub = ub_by.get(lab)
            solver = solver_cls(
                a_eq[rows][:, cols].tocsr(),
                b_eq[rows],
                None if ub is None else model.links[ub][:, cols].tocsr(),
            )
            local = {int(c): j for j, c in enumerate(self.row_cell[rows]) if c >= 0}
            self.blocks[lab] = (solver, rows, cols, local)
            self._free(solver, local, [c for c in np.flatnonzero(self.hidden) if c in local])

    def _free(self, solver, local: dict, cells) -> None:
        """A hidden cell's row: at least 1 (a grid has no zero cell), as `attack_intervals`
        with `nonzero`, where no hidden part implies it (else free); the basis stays
        feasible, the cell's value satisfies it."""
        cells = np.asarray(cells, dtype=int)
        lower = np.where(
            needs_lower_bound(self.model.cells, self.hidden, cells),
            np.minimum(1.0, self.model.values[cells]),
            -np.inf,
        )
        solver.free_rows([local[int(c)] for c in cells], lower)

    def hide(self, cells: np.ndarray) -> None:
        cells = np.asarray(cells, dtype=int)
        cells = cells[~self.hidden[cells]]
        self.hidden[cells] = True
        for lab, group in _groups(self.cell_lab[cells]).items():
            if lab >= 0:
                solver, _, _, local = self.blocks[lab]
                self._free(solver, local, cells[group])

    def intervals(self, targets: np.ndarray, k: int = DEFAULT_K, exact: bool = False):
        """Like `attack_intervals` with `nonzero` for the current hidden cells, from the kept
        bases."""
        targets = np.asarray(targets, dtype=int)
        t_all = self.model.cells[targets]
        lo = t_all @ self.model.truth
        hi = lo.copy()
        exact_lo = self.cell_lab[targets] < 0
        exact_hi = exact_lo.copy()
        binding: dict[int, np.ndarray] = {}
        solves = 0
        offset = np.zeros(len(targets))
        floor = self.model.floor[targets]
        groups = _groups(self.cell_lab[targets])
        for lab, t_idx in groups.items():
            if lab < 0:
                continue
            solver, rows, cols, _ = self.blocks[lab]
            cell_of = self.row_cell[rows]

            def dual_cells(d, cell_of=cell_of, hidden=self.hidden):
                c = cell_of[np.abs(d) > 1e-9]
                return c[(c >= 0) & ~hidden[np.maximum(c, 0)]]

            tcells = t_all[t_idx][:, cols].tocsr()
            state = (lo, hi, exact_lo, exact_hi)
            solves += _solve_targets(
                solver,
                tcells,
                t_idx,
                state,
                offset,
                floor,
                k,
                exact,
                dual_cells,
                binding,
                targets,
            )
        return {
            "lo": lo,
            "hi": hi,
            "floor": floor,
            "exact": exact_lo & exact_hi,
            "binding": binding,
            "lp_solves": solves,
            "components": len([g for g in groups if g >= 0]),
            "targets": targets,
        }


def widths(lo: np.ndarray, hi: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
    """Width of the integer interval inside [max(lo, floor), hi]; inf when hi is unbounded."""
    lo = lo if floor is None else np.maximum(lo, floor)
    with np.errstate(invalid="ignore"):
        w = np.floor(hi + _TOL) - np.ceil(lo - _TOL)
    return np.where(np.isinf(hi), math.inf, w)
