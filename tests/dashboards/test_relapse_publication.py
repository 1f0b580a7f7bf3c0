"""Relapses are published by programme and for the whole network only (docs/decisions.md):
by region or provider they are mostly 1 or 2, and protecting them hid those groups' re-entry
figures as well. A suppressed reader who selects a region or a provider gets the re-entry
figures and, for relapses, a note: never a zero, never a rate or a curve."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure.families import ALL, Context, families
from dashboards.disclosure.publication import build_family
from kernel.settings import Settings

RELAPSE_COUNTS = ("events_observed", "eligible", "km_at_risk", "closed_cases")
RATES = ("observed_rate", "observed_ci_low", "km_cumulative_incidence", "km_ci_high")


def _grid(workspace) -> pd.DataFrame:
    src = read.Source.of(workspace)
    with src.read() as con:
        return con.execute("SELECT * FROM grid.reentry").df()


def _coded(cells: pd.DataFrame, prefix: str) -> pd.Series:
    dims = [c for c in cells.columns if c.startswith(prefix)]
    return (cells[dims] != ALL).any(axis=1)


def test_the_grid_holds_relapses_by_programme_and_network_only(workspace):
    cells = _grid(workspace)
    relapse = cells[_coded(cells, "relapse_")]
    reentry = cells[_coded(cells, "reentry_")]
    assert len(relapse) and (relapse["program"] != ALL).any()
    assert (relapse["region_code"] == ALL).all() and (relapse["provider_id"] == ALL).all()
    # re-entry stays published by every group
    assert (reentry["region_code"] != ALL).any() and (reentry["provider_id"] != ALL).any()


@pytest.mark.parametrize("group", ["regions", "providers"])
def test_a_funder_choosing_a_region_or_provider_gets_no_relapse_figure(workspace, group):
    src = read.Source.of(workspace)
    viewer = src.viewer("foerderer")
    code = read.filter_options(src, viewer, read.ALL)[group][0]
    f = read.Filters(**{group: (code,)})
    assert not read.event_published(viewer, f, "relapse")
    assert read.event_published(viewer, f, "reentry")

    pub = read.reentry(src, viewer, f)
    relapse = (pub.table["event"] == "relapse").to_numpy()
    for col in RELAPSE_COUNTS:  # hidden as "x", never a zero that is no grid cell
        assert (pub.flags.loc[relapse, col] != "").all(), col
        assert (pub.table.loc[relapse, col] != 0).all(), col
    for col in RATES:
        assert not pub.table.loc[relapse, col].map(np.isreal).any(), col
    reentry = ~relapse
    assert (pub.flags.loc[reentry, "closed_cases"] == "").all()

    curve = read.km_curve(src, viewer, f, event="relapse")
    assert curve["withheld"] and curve["curve"].empty
    marks = curve["at_risk"].set_index("horizon")["at_risk"]
    assert all(isinstance(marks[d], str) for d in marks.index if d > 0)


def test_a_provider_gets_no_relapse_rate_of_the_network(workspace):
    src = read.Source.of(workspace)
    provider = read.filter_options(src, src.viewer("koordination"), read.ALL)["providers"][0]
    viewer = src.viewer("traeger", provider)
    assert not read.event_published(viewer, read.ALL, "relapse")
    pub = read.reentry(src, viewer, read.ALL)
    relapse = (pub.table["event"] == "relapse").to_numpy()
    assert (pub.flags.loc[relapse, "events_observed"] != "").all()


def test_koordination_keeps_relapses_by_region():
    """Unsuppressed readers (inside the office) are not bound to the grid."""
    viewer = read.Viewer("koordination")
    assert read.event_published(viewer, read.Filters(regions=("05315000",)), "relapse")


def _mart(con: duckdb.DuckDBPyConnection, relapses: dict[str, int]) -> None:
    """Closed cases of two providers in two regions, 60 each, all followed up for 800 days;
    `relapses` per region within 100 days, a few re-entries everywhere."""
    rows = []
    for region, provider in (("05315000", "p1"), ("05911000", "p2")):
        for i in range(60):
            rows.append(
                {
                    "provider_id": provider,
                    "program": "pcve",
                    "region_code": region,
                    "person_key_present": i % 2 == 0,
                    "followup_days": 800,
                    "reentry_days": 50.0 if i % 6 == 0 else np.nan,
                    "relapse_days": 100.0 if i < relapses[region] else np.nan,
                    # every event recorded by the case's own provider
                    "own_reentry_days": 50.0 if i % 6 == 0 else np.nan,
                    "own_relapse_days": 100.0 if i < relapses[region] else np.nan,
                }
            )
    con.execute("CREATE SCHEMA mart")
    con.register("rows", pd.DataFrame(rows))
    con.execute("CREATE TABLE mart.reentry AS SELECT * FROM rows")


def test_a_single_relapse_in_a_region_hides_no_reentry_figure(tmp_path):
    """One relapse in a region (p1) and three in the other (p2): the regions' relapse counts
    are not in the grid at all, so every re-entry figure of both regions is shown. Before,
    the single relapse was a primary cell and took its region's re-entry counts with it.
    The programme's and the network's relapse count 4 is hidden: p2 knows its own 3 and
    would have p1's single relapse (network minus own, docs/decisions.md)."""
    con = duckdb.connect()
    _mart(con, {"05315000": 1, "05911000": 3})
    settings = Settings(workspace=tmp_path)
    family = next(f for f in families(settings) if f.name == "reentry")
    cells, summary = build_family(Context(con, settings), family)
    assert summary["primary"] == summary["insider_primary"] and summary["unprotected"] == 0
    relapse = cells[_coded(cells, "relapse_")]
    reentry = cells[~_coded(cells, "relapse_")]
    assert (reentry["status"] == "").all()
    assert (relapse["region_code"] == ALL).all()
    network_event = relapse[(relapse["program"] == ALL) & (relapse["relapse_183_obs"] == "event")]
    assert network_event["value"].tolist() == [4]
    assert network_event["status"].tolist() == ["primary"]


def test_the_view_says_why_a_provider_sees_no_relapse_rate(workspace, monkeypatch):
    """The provider's view (its population is its own provider): the re-entry section with
    its table, the relapse section with the note instead of a table or a curve."""
    from tests.dashboards.apptest import logged_in, open_view, texts

    at, _ = open_view(logged_in(workspace, monkeypatch, "traeger", "p04"), "wiederaufnahme")
    assert not at.exception
    body = texts(at)
    assert read.NOT_PUBLISHED_NOTE in body
    assert body.index("Wiederaufnahme") < body.index(read.NOT_PUBLISHED_NOTE)
    expanders = [e.label for e in at.expander]  # each shown table has its definitions
    assert "Definition „Wiederaufnahme“ (vollständig)" in expanders
    assert "Definition „Rückfall“ (vollständig)" not in expanders
