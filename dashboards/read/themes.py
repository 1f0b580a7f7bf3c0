"""Generative themes for the dashboards and reports: the register's themes with their figures
(transforms.themes.read), their trend by quarter and their exemplary cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import code_label, label_codes
from dashboards.disclosure import Published, publish
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
    df = list_themes(source.workspace, include_inactive=include_inactive)
    if df.empty:
        return publish(df, viewer.suppress_k)
    df = df[[c for c in THEME_COLUMNS if c in df.columns]].copy()
    if "terms" in df.columns:
        df["terms"] = [
            ", ".join(t) if isinstance(t, (list, np.ndarray)) else "" for t in df["terms"]
        ]
    df["kind"] = df["kind"].map({"code": "kodiert", "text": "Text"}).fillna(df["kind"])
    if viewer.role == "traeger":
        own = _own_theme_cases(source, viewer.provider)
        df["own_cases"] = [own.get(t, 0) for t in df["theme_id"]]
    return publish(df.reset_index(drop=True), viewer.suppress_k, margins=[])


def _own_theme_cases(source: Source, provider: str) -> dict[str, int]:
    with source.read() as con:
        if not has_table(con, "mart", "theme_cases"):
            return {}
        rows = con.execute(
            "SELECT theme_id, count(*) FROM mart.theme_cases WHERE provider_id = ? GROUP BY 1",
            [provider],
        ).fetchall()
    return {t: int(n) for t, n in rows}


@query()
def theme_trend(
    source: Source, viewer: Viewer, filters: Filters, *, theme_ids: Sequence[str] = ()
) -> Published:
    """Cases per theme and quarter of their first mention in the theme window."""
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
    return publish(df, viewer.suppress_k, margins=[["period"]])


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


@query(roles=CASE_LEVEL_ROLES)
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
