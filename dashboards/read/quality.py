"""The data-quality scorecard and its flags (transforms/scorecard.py) for the quarterly round
with the providers: koordination sees every provider, a provider only itself; other roles
none. Review states come from the decision log (kernel/decisions.py) and show at once."""

from __future__ import annotations

import pandas as pd

from dashboards.catalog import table_label
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, has_table
from kernel import decisions
from transforms.scorecard import RULES, flag_states

QUALITY_ROLES = ("koordination", "traeger")
DENIED = "Die Datenqualität sehen nur die Koordination und der Träger selbst."


def _own(viewer: Viewer) -> tuple[str, list]:
    if viewer.role == "traeger":
        return "s.provider_id = ?", [viewer.provider]
    return "true", []


def _labels(df: pd.DataFrame) -> pd.DataFrame:
    """German rule and table beside the codes (the codes are the flag's key)."""
    df.insert(
        df.columns.get_loc("rule") + 1,
        "rule_label",
        [RULES[r].label if r in RULES else r for r in df["rule"]],
    )
    df.insert(
        df.columns.get_loc("table_name") + 1,
        "table_label",
        [table_label(t) for t in df["table_name"]],
    )
    return df


@query(roles=QUALITY_ROLES, denied=DENIED)
def scorecard(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """mart.scorecard: every rule of the current snapshot, with network median and trend."""
    cond, params = _own(viewer)
    with source.read() as con:
        if not has_table(con, "mart", "scorecard"):
            return pd.DataFrame(columns=["provider_id", "rule", "rule_label"])
        df = con.execute(
            f"""SELECT provider_id, snapshot_on, rule, table_name, column_name, value,
                       network_median, z_score, badness, threshold, flagged, previous_value,
                       previous_snapshot_on, trend
                FROM mart.scorecard AS s WHERE {cond}
                ORDER BY provider_id, flagged DESC, rule, table_name, column_name""",
            params,
        ).df()
    return _labels(_hide_small_medians(source, df))


# A network median over fewer providers pins the others' values (two providers: the other
# one's value is 2 × median − own); it is shown from this many providers on.
MEDIAN_MIN_PROVIDERS = 4


def _hide_small_medians(source: Source, df: pd.DataFrame) -> pd.DataFrame:
    if "network_median" not in df.columns or df.empty:
        return df
    with source.read() as con:
        counts = con.execute(
            """SELECT rule, table_name, column_name, count(value) AS n
               FROM mart.scorecard GROUP BY ALL"""
        ).df()
    df = df.merge(counts, on=["rule", "table_name", "column_name"], how="left")
    df["network_median"] = df["network_median"].where(df["n"] >= MEDIAN_MIN_PROVIDERS)
    return df.drop(columns=["n"])


@query(roles=QUALITY_ROLES, denied=DENIED)
def flags(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """The scorecard's flags with their review state (offen, erklärt, korrigieren)."""
    cond, params = _own(viewer)
    reviews = pd.DataFrame(decisions.read(source.workspace, "flag"))
    with source.read() as con:
        if not has_table(con, "mart", "scorecard"):
            return pd.DataFrame(columns=["provider_id", "rule", "rule_label", "state"])
        df = flag_states(con, reviews, cond, params)
    df["state"] = [decisions.FLAG_STATES.get(s, s) for s in df["state"]]
    return _labels(_hide_small_medians(source, df))
