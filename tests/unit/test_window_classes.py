"""Closed cases grouped by window class (transforms.reentry.window_class_sql) keep every mask
window_masks gives per case: the publication grid counts the groups, not the cases."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from transforms.reentry import window_class_sql, window_masks


@pytest.mark.parametrize(
    "windows", [(183, 365, 730), (1, 2, 3), (0, 5), (365,), (730, 183, 365, 365)]
)
def test_a_window_class_has_the_masks_of_its_day_numbers(windows):
    days = np.arange(-2, 1500)
    rng = np.random.default_rng(7)
    follow = rng.permutation(days)
    con = duckdb.connect()
    con.register(
        "closed",
        pd.DataFrame(
            {
                "followup_days": pd.array(follow, dtype="Int32"),
                "reentry_days": pd.array(
                    np.where(days % 7 == 0, None, days), dtype="Int32"
                ),  # every 7th: no event
            }
        ),
    )
    classed = con.execute(
        f"SELECT {window_class_sql('followup_days', windows)} AS followup_days,"
        f" {window_class_sql('reentry_days', windows)} AS reentry_days FROM closed"
    ).df()
    original = con.execute("SELECT * FROM closed").df()
    assert classed["reentry_days"].isna().sum() == original["reentry_days"].isna().sum()
    for w in windows:
        a, b = window_masks(original, "reentry", w), window_masks(classed, "reentry", w)
        for mask in ("eligible", "observed", "at_risk"):
            assert (a[mask] == b[mask]).all(), (w, mask)
    # the classes: for n windows at most 2n + 1 values (fewer where windows are adjacent)
    distinct = con.execute(
        f"SELECT count(DISTINCT {window_class_sql('followup_days', windows)}) FROM closed"
    ).fetchone()[0]
    assert distinct <= 2 * len(set(windows)) + 1
    if windows == (183, 365, 730):
        assert distinct == 7


def test_the_grid_counts_every_closed_case_once(tmp_path):
    """The re-entry leaves add up to the closed cases, per provider, as mart.reentry holds
    them (the SQL grouping loses and doubles no case)."""
    from dashboards.disclosure.families import Context, _reentry_known, _reentry_leaves
    from kernel.settings import Settings

    con = duckdb.connect()
    con.execute("CREATE SCHEMA mart")
    con.execute(
        """CREATE TABLE mart.reentry AS SELECT
             'T' || (i % 3) AS provider_id, ['kim', 'jmd'][1 + i % 2] AS program,
             'R' || (i % 5) AS region_code, i % 4 = 0 AS person_key_present,
             (i * 37 % 900)::INTEGER AS followup_days,
             CASE WHEN i % 3 = 0 THEN (i * 11 % 900)::INTEGER END AS reentry_days,
             CASE WHEN i % 10 = 0 THEN (i * 13 % 900)::INTEGER END AS relapse_days,
             NULL::INTEGER AS own_reentry_days, NULL::INTEGER AS own_relapse_days
           FROM range(5000) t(i)"""
    )
    ctx = Context(con, Settings(workspace=tmp_path))
    per_case = con.execute(
        "SELECT provider_id, count(*) FROM mart.reentry GROUP BY 1 ORDER BY 1"
    ).fetchall()
    for leaves in (_reentry_leaves(ctx), _reentry_known(ctx)):
        got = leaves.groupby("provider_id")["value"].sum()
        assert [(p, int(n)) for p, n in got.items()] == per_case
    # with own events missing, a provider sees none: every window "no_event" or "not followed"
    known = _reentry_known(ctx)
    assert not (known["reentry_365_obs"] == "event").any()
    leaves = _reentry_leaves(ctx)
    eligible = con.execute(
        "SELECT count(*) FROM mart.reentry WHERE followup_days >= 365 AND reentry_days <= 365"
    ).fetchone()[0]
    assert leaves.loc[leaves["reentry_365_obs"] == "event", "value"].sum() == eligible
