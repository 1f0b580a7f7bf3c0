"""Reading the publication grid (schema `grid` of the published copy): the only source of a
suppressed reader's figures. A suppressed reader's filters choose grid cells — one period of
the grid (quarter, half-year or year), and at most one of programme, region and provider —
they never form new unions of cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import pandas as pd

from dashboards.disclosure.families import ALL, GROUPS
from dashboards.disclosure.grid import enclosing_periods
from dashboards.disclosure.publication import period_level
from dashboards.disclosure.tables import Unclassified
from dashboards.read.scope import AccessDenied, Filters, Source, Viewer, effective_providers

# the group combinations the grid publishes (families.by_group); caseload adds the pair
PUBLISHED_GROUPS = ((), ("program",), ("region_code",), ("provider_id",))
CASELOAD_GROUPS = (*PUBLISHED_GROUPS, ("program", "region_code"))


class NotInGrid(AccessDenied):
    """The selection is no cell of the publication grid."""


class Incomplete(NotInGrid):
    """The selection's period is not complete, and the figure is published for complete
    periods only (`complete_period`)."""


def period_label(filters: Filters) -> str | None:
    """The grid period a suppressed reader's filters name: a quarter, a half-year or a year
    (a span of quarters that is exactly one of those names it too)."""
    lo, hi = filters.period_from, filters.period_to
    if lo is None and hi is None:
        return None
    if lo == hi or hi is None or lo is None:
        return lo or hi
    if len(lo) == len(hi) == 7 and lo[:4] == hi[:4] and lo[5] == hi[5] == "Q":
        q1, q2 = int(lo[-1]), int(hi[-1])
        if (q1, q2) == (1, 4):
            return lo[:4]
        if (q1, q2) in ((1, 2), (3, 4)):
            return f"{lo[:4]}-H{1 if q1 == 1 else 2}"
    raise NotInGrid(
        "Für veröffentlichte Zahlen ist der Zeitraum ein Quartal, ein Halbjahr oder ein Jahr."
    )


def grid_period_text(p: str) -> str:
    """A grid period in words: "Jahr 2026", "2. Halbjahr 2026", "4. Quartal 2026"."""
    if len(p) == 4:
        return f"Jahr {p}"
    if p[5] == "H":
        return f"{p[-1]}. Halbjahr {p[:4]}"
    return f"{p[-1]}. Quartal {p[:4]}"


def complete_period(
    source: Source, filters: Filters, known: dict[str, list[str]] | None = None
) -> str | None:
    """`period_label` for a count that adds up over quarters (goals, referrals, closures): the
    grid holds those for complete periods only (disclosure.publication.incomplete_periods).
    `known`: `periods(source)` where the caller has it."""
    label = period_label(filters)
    if label is not None and label in (known or periods(source))["partial"]:
        raise Incomplete(
            "Ziele, Vermittlungen und Abschlüsse werden für abgeschlossene Zeiträume"
            f" veröffentlicht; {grid_period_text(label)} ist noch nicht abgeschlossen. Bitte ein"
            " abgeschlossenes Quartal, Halbjahr oder Jahr wählen."
        )
    return label


def quarters(label: str, available: Iterable[str]) -> list[str]:
    """The quarters of a grid period that have data."""
    if len(label) == 7 and label[5] == "Q":
        wanted = {label}
    elif len(label) == 4:
        wanted = {f"{label}-Q{q}" for q in range(1, 5)}
    else:
        h = int(label[-1])
        wanted = {f"{label[:4]}-Q{q}" for q in (2 * h - 1, 2 * h)}
    return sorted(q for q in available if q in wanted)


def fixed_groups(viewer: Viewer, filters: Filters) -> dict[str, str]:
    """The group codes the filters fix (a provider always its own)."""
    chosen = {
        "provider_id": effective_providers(viewer, filters),
        "program": filters.programs,
        "region_code": filters.regions,
    }
    out = {}
    for dim, values in chosen.items():
        if len(values) > 1:
            raise NotInGrid(
                "Für veröffentlichte Zahlen ist je Filter ein Wert oder „alle“ wählbar."
            )
        if values:
            out[dim] = values[0]
    return out


def conditions(
    viewer: Viewer,
    filters: Filters,
    group_by: Sequence[str],
    allowed: Sequence[Sequence[str]] = PUBLISHED_GROUPS,
) -> dict[str, object]:
    """Column conditions on a family's cells: the breakdown dims in `group_by` vary (not the
    total), dims fixed by the filters are that code, the others their total."""
    fixed = fixed_groups(viewer, filters)
    used = tuple(d for d in GROUPS if d in group_by or d in fixed)
    if used not in {tuple(a) for a in allowed}:
        raise NotInGrid(
            "Diese Kombination von Filtern und Gliederung ist nicht veröffentlicht: wählen Sie"
            " höchstens eines von Programm, Region und Träger."
        )
    out: dict[str, object] = {}
    for d in GROUPS:  # a fixed code wins: a provider grouped by provider is one row, its own
        out[d] = fixed.get(d, NOT_ALL if d in group_by else ALL)
    return out


NOT_ALL = object()  # condition: every code except the total


def cells(source: Source, family: str, where: dict[str, object]) -> pd.DataFrame:
    """The family's cells matching the conditions (a value, a list of values or NOT_ALL)."""
    clauses, params = ["true"], []
    with source.read() as con:  # the family's own columns: duckdb_columns() binds every table
        try:
            columns = {
                d[0] for d in con.execute(f"SELECT * FROM grid.{family} LIMIT 0").description
            }
        except duckdb.CatalogException:  # no such family in this copy
            columns = set()
    for col, value in where.items():
        if col not in columns:  # a group the family is not published by: its total only
            if value == ALL:
                continue
            raise NotInGrid(
                "Diese Zahl wird nicht nach dieser Gliederung veröffentlicht (z. B. je Träger)."
            )
        if value is NOT_ALL:
            clauses.append(f"{col} <> ?")
            params.append(ALL)
        elif isinstance(value, (list, tuple, set)):
            values = list(value)
            clauses.append(f"{col} IN ({', '.join('?' for _ in values)})" if values else "false")
            params += values
        else:
            clauses.append(f"{col} = ?")
            params.append(value)
    with source.read() as con:
        return con.execute(
            f"SELECT * FROM grid.{family} WHERE {' AND '.join(clauses)}", params
        ).df()


def periods(source: Source) -> dict[str, list[str]]:
    """The grid periods by level (quarter, half, year), and the partial ones."""
    with source.read() as con:
        rows = con.execute("SELECT period, partial FROM mart.periods ORDER BY 1").fetchall()
    return period_levels([q for q, _ in rows], [q for q, p in rows if p])


def period_levels(qs: Sequence[str], partial_quarters: Iterable[str]) -> dict[str, list[str]]:
    """Quarters, the half-years and years they make up, and which of them are partial."""
    halves = sorted({f"{q[:4]}-H{1 if int(q[-1]) <= 2 else 2}" for q in qs})
    years = sorted({q[:4] for q in qs})
    partial = sorted(enclosing_periods(partial_quarters))
    return {"quarter": list(qs), "half": halves, "year": years, "partial": partial}


def status_of(df: pd.DataFrame) -> list[str]:
    return df["status"].fillna("").astype(str).tolist() if len(df) else []


def period_list(
    source: Source, filters: Filters, by_period: bool, complete: bool = False
) -> list[str]:
    """The grid periods a table shows: the chosen one, or its quarters (one row each); with
    `complete`, those of a count published for complete periods only (`complete_period`)."""
    known = periods(source)
    available = known["quarter"]
    if complete:
        available = [q for q in available if q not in set(known["partial"])]
    lo, hi = filters.period_from, filters.period_to
    if by_period and lo and hi and len(lo) == len(hi) == 7 and lo[5] == hi[5] == "Q":
        return [q for q in available if lo <= q <= hi]
    if complete and not by_period:
        label = complete_period(source, filters, known)
    else:
        label = period_label(filters)
    if label is None:  # the last year (for a count of complete periods: the last complete)
        years = [y for y in known["year"] if not complete or y not in set(known["partial"])]
        label = (available[-1][:4] if by_period else years[-1]) if available and years else None
    if label is None:
        return []
    return quarters(label, available) if by_period else [label]


def quarter_list(source: Source, filters: Filters, by_period: bool) -> list[str]:
    """`period_list` for a figure the grid holds per quarter only (the caseload): a half-year
    or a year is shown quarter by quarter where a table has one row per quarter, else it is
    no cell; without a chosen period, the last quarter."""
    if by_period:
        return period_list(source, filters, by_period)
    label = period_label(filters)
    if label is not None and period_level(label) == "quarter":
        return [label]
    if label is None:
        available = periods(source)["quarter"]
        return available[-1:]
    raise NotInGrid(
        "Fallzahlen werden je Quartal veröffentlicht: bitte ein Quartal wählen (Halbjahre und"
        " Jahre gäben mit ihren Quartalen neue und abgeschlossene Fälle preis)."
    )


def keyed(df: pd.DataFrame, keys: Sequence[str], value: str) -> pd.DataFrame:
    """Cells as value and status columns named after the figure, keyed for merging."""
    return df[[*keys, "value", "status"]].rename(
        columns={"value": value, "status": f"{value}__status"}
    )


def pop_status(df: pd.DataFrame, counts: Sequence[str]) -> dict[str, list | pd.Series]:
    """The grid status of each count column, taken out of `df` (see `keyed`). A count with no
    cell in the grid is a zero cell: status '' for every row (a table made of zeros for a
    selection without any cell, e.g. a network too small for a figure). Default-deny: a
    count without grid status that is not zero throughout raises."""
    status = {}
    for c in counts:
        if f"{c}__status" in df:
            status[c] = df.pop(f"{c}__status")
        elif c in df and (pd.to_numeric(df[c]).fillna(0) != 0).any():
            raise Unclassified(f"Zählung '{c}' ohne Zelle im Veröffentlichungsraster")
        else:
            status[c] = [""] * len(df)
    return status


def group_codes(source: Source, group: str) -> list[str]:
    """The codes of a group dimension in the published data."""
    with source.read() as con:
        return [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {group} FROM mart.cases WHERE {group} IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
