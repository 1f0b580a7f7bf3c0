"""Benchmark baseline: the caseload mart as an analyst would write it in pandas.

No Lagebild, no SQL: a loop over the quarters, vectorised within each quarter (clip the case
and staffing intervals to the quarter, count overlap days, group). It follows metrics.md, so
its figures must equal mart.caseload's — `compare_caseload` checks that before comparing times.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["period", "provider_id", "program", "region_code", "scope"]
FIGURES = ["case_days", "fte_days", "active_cases_end", "fte_end", "cases_in_period"]


def pandas_caseload(cases: pd.DataFrame, staffing: pd.DataFrame, as_of) -> pd.DataFrame:
    as_of = pd.Timestamp(as_of)
    cases = cases[cases["opened_on"] <= as_of].copy()
    closed = cases["closed_on"].where(cases["closed_on"] <= as_of)  # closed later = still open
    cases["end"] = closed.fillna(as_of)
    staff = staffing[staffing["valid_from"] <= as_of].copy()
    staff["end"] = staff["valid_to"].fillna(as_of).clip(upper=as_of)
    first = cases["opened_on"].min()  # the mart starts with the first quarter that has cases
    frames = []
    for q in pd.period_range(first, as_of, freq="Q"):
        q_start = q.start_time.normalize()
        q_end = min(q.end_time.normalize(), as_of)
        days = (q_end - q_start).days + 1
        c_days = (
            np.minimum(cases["end"], q_end) - np.maximum(cases["opened_on"], q_start)
        ).dt.days + 1
        c_days = c_days.clip(lower=0)
        active_end = (cases["opened_on"] <= q_end) & (cases["end"] >= q_end)
        s_days = (
            np.minimum(staff["end"], q_end) - np.maximum(staff["valid_from"], q_start)
        ).dt.days + 1
        s_days = s_days.clip(lower=0)
        fte = (
            staff.assign(
                fte_days=staff["fte"] * s_days,
                fte_end=staff["fte"] * ((staff["valid_from"] <= q_end) & (staff["end"] >= q_end)),
            )
            .groupby(["provider_id", "program", "region_code"])[["fte_days", "fte_end"]]
            .sum()
        )
        for scope, mask in (
            ("alle", slice(None)),
            ("case_management", cases["intensity"] == "case_management"),
        ):
            sub = pd.DataFrame(
                {
                    "provider_id": cases["provider_id"],
                    "program": cases["program"],
                    "region_code": cases["region_code"],
                    "case_days": c_days,
                    "active_cases_end": active_end.astype(int),
                    "cases_in_period": (c_days > 0).astype(int),
                }
            )[mask]
            grouped = sub.groupby(["provider_id", "program", "region_code"]).sum()
            merged = grouped.join(fte, how="outer").fillna(0)
            merged = merged[(merged["case_days"] > 0) | (merged["fte_days"] > 0)]
            frames.append(
                merged.reset_index().assign(period=f"{q.year}-Q{q.quarter}", scope=scope, days=days)
            )
    return pd.concat(frames, ignore_index=True)


def compare_caseload(ws: Path) -> dict:
    """Time both implementations on the same in-memory staging copy; check equal figures."""
    from kernel.settings import load_settings
    from kernel.warehouse import connect
    from transforms.runner import build_marts, load_models

    con = connect()
    con.execute(f"ATTACH '{ws / 'lagebild.duckdb'}' AS w (READ_ONLY)")
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA meta")
    for t in ("cases", "goals", "referrals", "contacts", "barriers", "staffing", "relapses"):
        con.execute(f"CREATE TABLE staging.{t} AS SELECT * FROM w.staging.{t}")
    con.execute("CREATE TABLE meta.data_basis AS SELECT * FROM w.meta.data_basis")
    con.execute("DETACH w")
    as_of = con.execute("SELECT as_of FROM meta.data_basis").fetchall()[0][0]
    cases = con.execute(
        "SELECT provider_id, program, region_code, intensity,"
        " opened_on::TIMESTAMP AS opened_on, closed_on::TIMESTAMP AS closed_on"
        " FROM staging.cases"
    ).df()
    staffing = con.execute(
        "SELECT provider_id, program, region_code, fte,"
        " valid_from::TIMESTAMP AS valid_from, valid_to::TIMESTAMP AS valid_to"
        " FROM staging.staffing"
    ).df()

    wanted = {"mart.caseload"}
    models = load_models()
    by_key = {m.key: m for m in models}
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        key = stack.pop()
        if key not in needed:
            needed.add(key)
            stack.extend(by_key[key].deps)
    chain = [m for m in models if m.key in needed]

    t0 = time.perf_counter()
    build_marts(con, load_settings(ws), as_of, models=chain)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = pandas_caseload(cases, staffing, as_of)
    pandas_s = time.perf_counter() - t0

    ours = con.execute(f"SELECT {', '.join(KEYS + FIGURES)} FROM mart.caseload").df()
    ours = ours[(ours["case_days"] > 0) | (ours["fte_days"] > 0)]
    both = ours.merge(
        theirs[KEYS + FIGURES], on=KEYS, how="outer", suffixes=("", "_pd"), indicator=True
    )
    equal = bool((both["_merge"] == "both").all()) and all(
        np.allclose(both[f].astype(float), both[f + "_pd"].astype(float)) for f in FIGURES
    )
    con.close()
    return {
        "ours_s": round(ours_s, 2),
        "pandas_s": round(pandas_s, 2),
        "ratio": round(pandas_s / ours_s, 1) if ours_s else None,
        "equal": equal,
        "rows": len(ours),
    }
