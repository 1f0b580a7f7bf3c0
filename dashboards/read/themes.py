"""Generative themes for the dashboards and reports: the register's themes with their figures
(transforms.themes.read), their trend by quarter and their exemplary cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import code_label, label_codes
from dashboards.disclosure import SECONDARY_MARK, Published, publish
from dashboards.disclosure.families import ALL
from dashboards.disclosure.tables import from_grid
from dashboards.read import grid
from dashboards.read.gate import CASE_LEVEL_ROLES, query
from dashboards.read.scope import Filters, Source, Viewer, has_table
from transforms.themes.read import exemplary_cases, list_themes

THEME_COLUMNS = [
    "theme_id",
    "kind",
    "label",
    "status",
    "owner",
    "cases",
    "providers",
    "regions",
    "first_seen",
    "last_seen",
    "trend",
    "cases_prev",
    "cases_recent",
    "terms",
    "active",
]


@query()
def themes(
    source: Source, viewer: Viewer, filters: Filters, *, include_inactive: bool = False
) -> Published:
    """The register's themes with figures. Network-wide; counts suppressed for the roles that
    need it; a provider additionally sees how many of each theme's cases are its own."""
    if source.db.exists():  # the marts on the query's connection (a second one costs more)
        with source.read() as con:
            df = list_themes(source.workspace, include_inactive=include_inactive, marts=con)
    else:
        df = list_themes(source.workspace, include_inactive=include_inactive)
    # only the published columns, also with no theme (the others have no disclosure class)
    df = df[[c for c in THEME_COLUMNS if c in df.columns]].copy()
    if df.empty:
        return publish(df, viewer.network_k)
    if "terms" in df.columns:
        df["terms"] = [
            ", ".join(t) if isinstance(t, (list, np.ndarray)) else "" for t in df["terms"]
        ]
    df["kind"] = df["kind"].map({"code": "kodiert", "text": "Text"}).fillna(df["kind"])
    df = df.reset_index(drop=True)
    if viewer.network_k is None:
        return publish(df, None, margins=[])
    # a suppressed reader: the network counts are cells of the grid, with its pattern; the
    # first and last sighting by quarter, as the grid counts them: a day would be a date from
    # one provider's records (metrics.md), often the only case of that day
    for column in ("first_seen", "last_seen"):
        if column in df.columns:
            df[column] = _quarter(df[column])
    cells = grid.cells(source, "themes", {})
    status = {}
    for column, fixed in THEME_CELLS.items():
        df = df.drop(columns=column).merge(
            grid.keyed(_theme_margin(cells, fixed), ["theme_id"], column), on="theme_id", how="left"
        )
        df[column] = df[column].fillna(0).astype(int)
        status[column] = df.pop(f"{column}__status").fillna("").tolist()
    if viewer.role == "traeger":  # its own cases: its own data, shown as they are
        own = _own_cells(source, viewer.provider)
        df["own_cases"] = [own.get((t, ALL, ALL, ALL), 0) for t in df["theme_id"]]
        status["own_cases"] = [""] * len(df)
        hidden = _network_minus_own(df, own, viewer.network_k)
        for column in THEME_CELLS:
            status[column] = [
                st or ("secondary" if h else "")
                for st, h in zip(status[column], hidden, strict=True)
            ]
    if "trend" in df.columns:  # the trend compares the two windows' cases: hidden with them
        pairs = zip(status["cases_prev"], status["cases_recent"], strict=True)
        hidden = np.array([bool(p or r) for p, r in pairs], dtype=bool)
        df["trend"] = df["trend"].astype(object).where(~hidden, SECONDARY_MARK)
    return from_grid(df, viewer.network_k, status)


def _quarter(days: pd.Series) -> pd.Series:
    """Dates as their quarter ("2025-Q3"); no date stays empty."""
    when = pd.to_datetime(days, errors="coerce")
    label = (
        when.dt.year.astype("Int64").astype(str)
        + "-Q"
        + when.dt.quarter.astype("Int64").astype(str)
    )
    return label.where(when.notna(), "")


def _hide(status: list[str], hidden: list[bool]) -> list[str]:
    return [st or ("secondary" if h else "") for st, h in zip(status, hidden, strict=True)]


# figure -> the theme cell it is (breakdowns fixed; the others at their total)
THEME_CELLS = {
    "cases": {},
    "cases_prev": {"in_prev": "ja"},
    "cases_recent": {"in_recent": "ja"},
}


def _theme_margin(cells: pd.DataFrame, fixed: dict[str, str]) -> pd.DataFrame:
    mask = np.ones(len(cells), dtype=bool)
    for d in ("first_quarter", "in_prev", "in_recent"):
        mask &= (cells[d] == fixed.get(d, ALL)).to_numpy()
    return cells[mask]


def _own_cells(source: Source, provider: str) -> dict[tuple, int]:
    """The provider's own cases per theme cell (theme, first quarter, first half, second half),
    the totals included: what it knows from its own data."""
    with source.read() as con:
        if not has_table(con, "mart", "theme_cases"):
            return {}
        df = con.execute(
            """SELECT theme_id, year(first_noted) || '-Q' || quarter(first_noted) AS q,
                      CASE WHEN in_prev THEN 'ja' ELSE 'nein' END AS p,
                      CASE WHEN in_recent THEN 'ja' ELSE 'nein' END AS r
               FROM mart.theme_cases WHERE provider_id = ? AND first_noted IS NOT NULL""",
            [provider],
        ).df()
    out: dict[tuple, int] = {}
    for t, q, p, r in df.itertuples(index=False):
        for key in ((t, ALL, ALL, ALL), (t, q, ALL, ALL), (t, ALL, p, ALL), (t, ALL, ALL, r)):
            out[key] = out.get(key, 0) + 1
    return out


def _network_minus_own(df: pd.DataFrame, own: dict[tuple, int], k: int) -> list[bool]:
    """Themes whose network figures would tell a provider small counts of the others: the
    network minus its own is 1 to k-1 (in the total or a half), or the others' cases are so
    few per other provider that each provider's count is pinned (cases − providers < k)."""
    out = []
    for rec in df.itertuples(index=False):
        t = rec.theme_id
        others = {
            "total": rec.cases - own.get((t, ALL, ALL, ALL), 0),
            "prev": rec.cases_prev - own.get((t, ALL, "ja", ALL), 0),
            "recent": rec.cases_recent - own.get((t, ALL, ALL, "ja"), 0),
        }
        other_providers = rec.providers - (1 if own.get((t, ALL, ALL, ALL), 0) else 0)
        small = any(0 < n < k for n in others.values())
        pinned = others["total"] > 0 and others["total"] - other_providers < k
        out.append(small or pinned)
    return out


@query()
def theme_trend(
    source: Source, viewer: Viewer, filters: Filters, *, theme_ids: Sequence[str] = ()
) -> Published:
    """Cases per theme and quarter of their first mention in the theme window."""
    if viewer.network_k is not None:
        return _trend_from_grid(source, viewer, list(theme_ids))
    with source.read() as con:
        if not has_table(con, "mart", "theme_cases"):
            return publish(pd.DataFrame(columns=["theme_id", "period", "cases"]), None)
        ids = list(theme_ids)
        cond = f"AND c.theme_id IN ({', '.join('?' for _ in ids)})" if ids else ""
        df = con.execute(
            f"""SELECT c.theme_id, t.label,
                       year(c.first_noted) || '-Q' || quarter(c.first_noted)
                         || CASE WHEN coalesce(p.partial, false) THEN ' (unvollständig)'
                                 ELSE '' END AS period,
                       count(*)::INTEGER AS cases
                FROM mart.theme_cases c JOIN mart.themes t USING (theme_id)
                LEFT JOIN mart.periods p
                  ON p.period = year(c.first_noted) || '-Q' || quarter(c.first_noted)
                WHERE c.first_noted IS NOT NULL {cond}
                GROUP BY ALL ORDER BY ALL""",
            ids,
        ).df()
    return publish(df, viewer.network_k, margins=[["period"]])


def _trend_from_grid(source: Source, viewer: Viewer, ids: list[str]) -> Published:
    cells = grid.cells(source, "themes", {"in_prev": ALL, "in_recent": ALL})
    cells = cells[cells["first_quarter"] != ALL]
    if ids:
        cells = cells[cells["theme_id"].isin(ids)]
    status = cells["status"].fillna("").tolist()
    if viewer.role == "traeger":  # the same themes stay hidden as in its theme table
        table = themes(source, viewer, Filters())
        hidden = {
            t for t, flag in zip(table.table["theme_id"], table.flags["cases"], strict=True) if flag
        }
        status = [
            st or ("secondary" if t in hidden else "")
            for st, t in zip(status, cells["theme_id"], strict=True)
        ]
    with source.read() as con:
        labels = dict(con.execute("SELECT theme_id, label FROM mart.themes").fetchall())
        partial = {
            p for (p,) in con.execute("SELECT period FROM mart.periods WHERE partial").fetchall()
        }
    df = pd.DataFrame(
        {
            "theme_id": cells["theme_id"].to_numpy(),
            "label": [labels.get(t, t) for t in cells["theme_id"]],
            "period": [
                q + (" (unvollständig)" if q in partial else "") for q in cells["first_quarter"]
            ],
            "cases": cells["value"].astype(int).to_numpy(),
        }
    )
    order = df.sort_values(["theme_id", "period"]).index
    return from_grid(df.loc[order], viewer.network_k, {"cases": [status[i] for i in order]})


EXEMPLARY_COLUMNS = [
    "exemplary_rank",
    "provider_id",
    "case_id",
    "program",
    "region_code",
    "intensity",
    "opened_on",
    "closed_on",
    "close_reason",
    "goals",
    "goals_without_offer",
    "referrals_failed",
    "max_wait_days",
    "barrier_codes",
]


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def theme_cases(
    source: Source, viewer: Viewer, filters: Filters, *, theme_id: str = ""
) -> pd.DataFrame:
    """Exemplary cases of a theme for case reconstruction (case level, pseudonymous); a
    provider gets its own most typical cases of the theme."""
    provider = viewer.provider if viewer.role == "traeger" else None
    with source.read() as con:
        df = exemplary_cases(con, theme_id, provider_id=provider)
    if df.empty:
        return df
    if provider:
        df = df[df["provider_id"] == provider]
    df = df[[c for c in EXEMPLARY_COLUMNS if c in df.columns]].copy()
    if "barrier_codes" in df.columns:
        df["barrier_codes"] = [
            ", ".join(code_label("barrier", b) for b in v)
            if isinstance(v, (list, np.ndarray))
            else ""
            for v in df["barrier_codes"]
        ]
    return label_codes(df).reset_index(drop=True)
