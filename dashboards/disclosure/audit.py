"""Protection audit by linear programming: what can a reader derive about a hidden cell?

The attacker knows every published (shown) cell, that each cell is a sum of non-negative
unknowns and every published relation between cells (additivity equations, and for a
distinct count over time the links ``max(children) <= parent <= sum(children)``). For each
suppressed cell we compute the interval an attacker can derive:

    lo = min c·x,  hi = max c·x   s.t.  A_shown x = b_shown,  E x = 0,  G x <= 0,  x >= 0

where ``c`` is the cell's row of the cell-by-variable incidence matrix. Variables are the
non-empty leaf cells of a grid (`linked.Grid.attack_model`) or, for hand-written tables, the
cells themselves (`audit_tables`). Protection (../shared/spec/metrics.md, "Small numbers"):
the cell is protected when ``width = floor(hi) - ceil(lo) >= k``; the attacker knows the
cell is an integer, so the LP bounds are rounded inwards before the width is taken, and an
unbounded ``hi`` counts as protected. The LP is the relaxation the spec prescribes; in
tables that are not totally unimodular (three or more linked dimensions) the integer
interval can be narrower than the LP one.

Speed matters because the grid audit runs as a blocking check at 1,000,000 cases; see
`dashboards.disclosure.lp` for the engine. In short:

* the problem splits into independent blocks, the connected components of the graph
  "variable -- row it appears in" (one per year for an additive period, one per measure);
* within a block one solver instance is kept and only the objective changes, so HiGHS
  restarts from the previous optimal basis (a few simplex iterations instead of a solve);
* every LP solution and the true data are feasible points, so they give inner bounds for
  all cells of the block at once: a cell whose inner interval is already ``>= k`` wide is
  certified without its own LPs (``exact=False``, the default). Its reported lo/hi are then
  inner bounds: the true interval is at least as wide, so the verdict is exact either way.

"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dashboards.disclosure.lp import (
    _TOL,
    DEFAULT_K,
    AttackModel,
    AttackSession,
    Equations,
    attack_intervals,
    widths,
)

__all__ = [
    "DEFAULT_K",
    "AttackModel",
    "AttackSession",
    "AuditResult",
    "Equations",
    "attack_intervals",
    "audit",
    "audit_tables",
    "equations_from_pairs",
    "simple_attacks",
    "simple_attacks_tables",
    "widths",
]


@dataclass
class AuditResult:
    """Intervals of the audited cells (`table`) and the figures a check reports."""

    table: pd.DataFrame  # key columns..., value, lo, hi, width, protected, exact, reason
    k: int
    seconds: float
    lp_solves: int
    components: int
    binding: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def cells_audited(self) -> int:
        return len(self.table)

    @property
    def narrowest_width(self) -> float:
        return float(self.table["width"].min()) if len(self.table) else math.inf

    @property
    def passed(self) -> bool:
        return bool(self.table["protected"].all())

    def summary(self) -> dict:
        return {
            "cells_audited": self.cells_audited,
            "unprotected": int((~self.table["protected"]).sum()),
            "narrowest_width": self.narrowest_width,
            "lp_solves": self.lp_solves,
            "components": self.components,
            "seconds": round(self.seconds, 3),
        }


def audit(
    model: AttackModel,
    suppressed: np.ndarray,
    k: int = DEFAULT_K,
    *,
    keys: pd.DataFrame | None = None,
    implied: np.ndarray | None = None,
    exact: bool = False,
    backend: str = "auto",
    nonzero: bool = False,
) -> AuditResult:
    """Audit every suppressed cell of `model`; `keys` (one row per cell) labels the table.
    `nonzero`: the reader knows every hidden cell holds at least 1 (`attack_intervals`)."""
    t0 = time.perf_counter()
    r = attack_intervals(
        model, suppressed, k, implied=implied, exact=exact, backend=backend, nonzero=nonzero
    )
    t = r["targets"]
    w = widths(r["lo"], r["hi"], r["floor"])
    table = keys.iloc[t].reset_index(drop=True) if keys is not None else pd.DataFrame({"cell": t})
    insider = r["floor"] > r["lo"] + _TOL  # judged from a provider's own part
    table = table.assign(
        value=model.values[t],
        lo=np.ceil(np.maximum(r["lo"], r["floor"]) - _TOL) + 0.0,
        hi=np.where(np.isinf(r["hi"]), math.inf, np.floor(r["hi"] + _TOL)),
        width=w,
        protected=w >= k,
        exact=r["exact"],
    )
    table["reason"] = np.where(
        table["protected"],
        "",
        [
            f"Geheim gehaltener Wert ist aus den veröffentlichten Zahlen"
            f"{' und dem eigenen Anteil eines Trägers' if own else ''} auf {lo:.0f} bis "
            f"{hi:.0f} eingrenzbar (Spannweite {wd:.0f}, verlangt mindestens {k})"
            for lo, hi, wd, own in zip(
                table["lo"], table["hi"], table["width"], insider, strict=True
            )
        ],
    )
    return AuditResult(
        table,
        k,
        time.perf_counter() - t0,
        r["lp_solves"],
        r["components"],
        r["binding"],
    )


# ---------------------------------------------------------------------------------------------
# tables given as cells and equations


def _index(cells: pd.DataFrame, key: str) -> dict[Hashable, int]:
    pos = {c: i for i, c in enumerate(cells[key])}
    if len(pos) != len(cells):
        raise ValueError(f"duplicate keys in column {key!r}")
    return pos


def equations_from_pairs(
    pairs: Sequence[tuple[Sequence[Hashable], Hashable]], pos: dict[Hashable, int]
) -> Equations:
    """``[(parts, total), ...]`` with cell keys -> `Equations` over cell positions."""
    rows, cols = [], []
    for i, (parts, _) in enumerate(pairs):
        rows += [i] * len(parts)
        cols += [pos[p] for p in parts]
    children = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pairs), len(pos)))
    return Equations(np.array([pos[t] for _, t in pairs], dtype=int), children)


def suppressed_mask(status: pd.Series) -> np.ndarray:
    """'' or NaN is shown; any other status ('primary', 'secondary', a mark) is hidden."""
    return (status.fillna("").astype(str) != "").to_numpy()


def audit_tables(
    cells: pd.DataFrame,
    equations: Sequence[tuple[Sequence[Hashable], Hashable]],
    k: int = DEFAULT_K,
    *,
    distinct: Sequence[tuple[Sequence[Hashable], Hashable]] = (),
    key: str = "cell",
    exact: bool = True,
    backend: str = "auto",
) -> AuditResult:
    """Audit any published tables given as cells and relations (no grid needed).

    cells      columns `key`, ``value`` (true, non-negative) and ``status`` ('' = shown)
    equations  ``(parts, total)``: total = sum of parts
    distinct   ``(parts, total)`` for a distinct count: each part <= total <= sum of parts
    Every cell is a non-negative unknown to the attacker unless shown.
    """
    pos = _index(cells, key)
    n = len(cells)
    eq = equations_from_pairs(equations, pos)
    e_rows = eq.children - sp.csr_matrix(
        (np.ones(len(eq.parent)), (np.arange(len(eq.parent)), eq.parent)), shape=eq.children.shape
    )
    links = None
    if distinct:
        rows, cols, vals, r = [], [], [], 0
        for parts, total in distinct:
            for p in parts:  # part - total <= 0
                rows += [r, r]
                cols += [pos[p], pos[total]]
                vals += [1.0, -1.0]
                r += 1
            rows += [r] * (len(parts) + 1)  # total - sum(parts) <= 0
            cols += [pos[total], *(pos[p] for p in parts)]
            vals += [1.0, *([-1.0] * len(parts))]
            r += 1
        links = sp.csr_matrix((vals, (rows, cols)), shape=(r, n))
    values = cells["value"].to_numpy(dtype=float)
    model = AttackModel(sp.identity(n, format="csr"), values, values, e_rows.tocsr(), links)
    return audit(
        model,
        suppressed_mask(cells["status"]),
        k,
        keys=cells[[key]],
        exact=exact,
        backend=backend,
    )


def simple_attacks(values: np.ndarray, shown: np.ndarray, equations: Equations) -> np.ndarray:
    """Hidden cells a reader recovers exactly by differencing published sums.

    Repeatedly takes every equation with exactly one unknown cell (a margin minus its
    visible parts, a part from its margin, a year minus visible quarters when the equations
    include the transitive ones) and solves it, until nothing changes. Returns the indices
    of the suppressed cells so determined. Linear programming sees at least this much.
    """
    known = np.asarray(shown, dtype=bool).copy()
    initially = known.copy()
    members = equations.children.tocsr().astype(bool).astype(float)
    parent = equations.parent
    while True:
        unknown = (~known).astype(float)
        n_unknown = members @ unknown + unknown[parent]
        solvable = np.flatnonzero(n_unknown == 1)
        if not len(solvable):
            break
        # the single unknown: the parent, or the one unknown child
        sub = members[solvable].multiply(unknown).tocsr()
        sub.eliminate_zeros()
        child = np.where(sub.getnnz(axis=1) > 0, np.asarray(sub.argmax(axis=1)).ravel(), -1)
        target = np.where(child >= 0, child, parent[solvable])
        if known[target].all():  # pragma: no cover - defensive: no progress
            break
        known[target] = True
    return np.flatnonzero(known & ~initially)


def simple_attacks_tables(
    cells: pd.DataFrame,
    equations: Sequence[tuple[Sequence[Hashable], Hashable]],
    *,
    key: str = "cell",
) -> pd.DataFrame:
    """`simple_attacks` on cells given as a table: the recovered cells with their values."""
    pos = _index(cells, key)
    eq = equations_from_pairs(equations, pos)
    hit = simple_attacks(
        cells["value"].to_numpy(dtype=float), ~suppressed_mask(cells["status"]), eq
    )
    return cells.iloc[hit][[key, "value"]].reset_index(drop=True)
