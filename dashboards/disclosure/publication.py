"""The publication grid: built once per run, stored in the published copy (schema `grid`),
and the only source of the figures a suppressed reader sees.

For every family (dashboards/disclosure/families.py) the leaf counts are aggregated to the
declared cross-classifications, primary and secondary suppression are decided jointly over
all of them (dashboards/disclosure/linked.py) and the pattern is audited by linear
programming (dashboards/disclosure/audit.py): for every suppressed cell, an attacker who
knows all published cells of the family and that all counts are non-negative integers must
not narrow it to an interval narrower than k. One table per family, `grid.<family>`: its
dimension columns (totals as `__all__`), `level` of the period, `value`, `status` ('',
'primary', 'secondary') and the family's additive components (caseload days, FTE, wait
quantiles); `grid.audit` holds the audit of each family.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pandas as pd

from dashboards.disclosure.families import ALL, GROUPS, Context, Family, families
from dashboards.disclosure.grid import Dimension, build_grid, flat_dimension, period_dimension
from dashboards.disclosure.insiders import PROVIDER, insiders
from dashboards.disclosure.linked import audit_grid
from dashboards.disclosure.linked import suppress as suppress_grid
from kernel.settings import Settings


def period_level(label: str) -> str:
    return "year" if len(label) == 4 else ("half" if label[5] == "H" else "quarter")


def _dimensions(family: Family, leaves: pd.DataFrame) -> list[Dimension]:
    dims = []
    for name in family.dims:
        if name == "period":
            years = sorted({str(p)[:4] for p in leaves["period"]})
            dims.append(period_dimension(years, additive=family.period != "distinct"))
        elif name in family.breakdowns:
            dims.append(Dimension(name, dict(family.breakdowns[name])))
        else:
            codes = sorted({str(c) for c in leaves[name] if c != ALL})
            dims.append(
                flat_dimension(name, codes, root=ALL, additive=name not in family.non_additive)
            )
    return dims


def build_family(ctx: Context, family: Family) -> tuple[pd.DataFrame, dict]:
    """The family's published cells with their suppression status, and the audit figures."""
    t0 = time.perf_counter()
    by_provider = family.leaves(ctx).astype({d: str for d in (*family.dims, PROVIDER)})
    # groups the family is never published by are summed away (fewer unknowns, same LP)
    leaves = by_provider.groupby(list(family.dims), as_index=False, sort=False)["value"].sum()
    leaves = leaves[leaves["value"] > 0]
    k = ctx.settings.suppression_k
    if leaves.empty:
        # the same columns as with cells: readers select them whatever the network's size
        level = ["level"] if "period" in family.dims else []
        cells = pd.DataFrame(
            columns=[*family.dims, "value", "status", *level, *family.extra_columns]
        )
        return cells, {
            "family": family.name,
            "cells": 0,
            "primary": 0,
            "insider_primary": 0,
            "secondary": 0,
            "cells_audited": 0,
            "unprotected": 0,
            "narrowest_width": None,
            "seconds": round(time.perf_counter() - t0, 3),
        }
    dims = _dimensions(family, leaves)
    grid = build_grid(leaves, dims, family.publications)
    known = None
    if family.known is not None:
        known = family.known(ctx).astype({d: str for d in (*family.dims, PROVIDER)})
    inside = insiders(grid, by_provider, known, k)
    cells = suppress_grid(grid, k, insiders=inside)
    result = audit_grid(grid, cells["status"], k, insiders=inside)
    stats = cells.attrs.get("suppression", {})
    summary = {
        "family": family.name,
        "cells": len(cells),
        "primary": int((cells["status"] == "primary").sum()),
        "insider_primary": stats.get("insider"),
        "secondary": int((cells["status"] == "secondary").sum()),
        **result.summary(),
        "suppression_rounds": stats.get("rounds"),
    }
    if "period" in family.dims:
        cells["level"] = [period_level(p) for p in cells["period"]]
    if family.extras is not None:
        extras = family.extras(ctx)
        for col in set(GROUPS) - set(family.dims):  # cells are totals over such groups
            if col in extras.columns:
                extras = extras[extras[col] == ALL]
        keys = [d for d in family.dims if d in extras.columns]
        extras = extras.astype(dict.fromkeys(keys, str))
        cells = cells.merge(
            extras[[*keys, *family.extra_columns]].drop_duplicates(keys), on=keys, how="left"
        )
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return cells, summary


def build(
    con: duckdb.DuckDBPyConnection, settings: Settings, workers: int | None = None
) -> dict[str, tuple]:
    """Every family of the grid from the marts on `con`: {family: (cells, summary)}.

    The families are independent: they are built side by side, each reading over a cursor of
    its own, `workers` at a time (default: the cores). DuckDB and HiGHS work without Python's
    lock, the suppression's pandas and Python do not: on two cores 1.2-1.3x faster (10,000
    cases 5.8 -> 4.5 s, docs/performance.md), the same cells and audit."""
    fams = families(settings)
    workers = max(1, min(workers or os.cpu_count() or 1, len(fams)))

    def one(family: Family) -> tuple:
        cursor = con.cursor()
        try:
            return build_family(Context(cursor, settings), family)
        finally:
            cursor.close()

    with ThreadPoolExecutor(workers, thread_name_prefix="lagebild-grid") as pool:
        built = list(pool.map(one, fams))
    return {f.name: result for f, result in zip(fams, built, strict=True)}


def write(con: duckdb.DuckDBPyConnection, built: dict, schema: str = "grid") -> None:
    """Store the grid as `<schema>.<family>` and `<schema>.audit` (on an attached database
    pass e.g. ``published.grid``)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    audits = []
    for name, (cells, summary) in built.items():
        frame = cells.copy()
        frame["value"] = frame["value"].astype(np.int64)
        con.register("grid_frame", frame)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT * FROM grid_frame")
        finally:
            con.unregister("grid_frame")
        audits.append(summary)
    con.register("grid_audit", pd.DataFrame(audits))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {schema}.audit AS SELECT * FROM grid_audit")
    finally:
        con.unregister("grid_audit")
