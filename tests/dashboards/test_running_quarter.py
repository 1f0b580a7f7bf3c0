"""A quarter not yet complete at the data cut-off (docs/decisions.md, „Laufende Zeiträume“):
counts that add up over quarters (goals, referrals, closures) are published for complete
periods only, so the few days of a running quarter no longer hide the last complete one; a
reader choosing the running period is told why, and a report is for a complete quarter."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure.grid import build_grid, enclosing_periods, period_dimension
from dashboards.disclosure.linked import suppress
from dashboards.disclosure.publication import build, write
from dashboards.read import Filters, NotInGrid, Viewer
from dashboards.reports import ReportError, build_report
from kernel.warehouse import connect
from kernel.workspace import Workspace

RUNNING = "2026-Q3"  # the fixture's last quarter (cut-off 2026-09-30), made a running one here
WITHHELD = {"2026-Q3", "2026-H2", "2026"}
FLOWS = ("goals", "referrals", "started", "closures")
FUNDER = Viewer("foerderer", k=3)
RUNNING_TEXT = r"(Quartal|Halbjahr|Jahr) 2026 ist noch nicht abgeschlossen"


def test_the_periods_a_running_quarter_leaves_incomplete():
    assert enclosing_periods(["2026-Q3"]) == WITHHELD
    assert enclosing_periods(["2025-Q2", "2026-Q4"]) == {
        *("2025-Q2", "2025-H1", "2025"),
        *("2026-Q4", "2026-H2", "2026"),
    }


def test_a_running_quarters_small_count_no_longer_hides_the_last_complete_quarter():
    """Closures 10, 10, 10 and 1 so far in Q4 (hand-made): published with Q4, its 1 is primary
    and H2 = Q3 + Q4 beside Q3 gives it, so Q3 or H2 must go too; withheld until Q4 ends,
    every complete period is shown."""
    leaves = pd.DataFrame({"period": ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]})
    leaves["value"] = [10, 10, 10, 1]
    dims = [period_dimension(["2026"])]
    pubs = [{"period": "*"}]
    now = suppress(build_grid(leaves, dims, pubs), 3).set_index("period")["status"]
    assert now["2026-Q4"] == "primary"
    assert (now[["2026-Q3", "2026-H2", "2026"]] == "secondary").any()

    complete = leaves[leaves["period"] != "2026-Q4"]
    grid = build_grid(complete, dims, pubs, {"period": enclosing_periods(["2026-Q4"])})
    got = suppress(grid, 3).set_index("period")
    assert got["value"].to_dict() == {"2026-H1": 20, "2026-Q1": 10, "2026-Q2": 10, "2026-Q3": 10}
    assert (got["status"] == "").all()


@pytest.fixture(scope="module")
def running(workspace, tmp_path_factory):
    """The dashboard fixture's published copy with its last quarter made a running one, the
    grid built anew on it; cells before and after."""
    ws = Workspace(tmp_path_factory.mktemp("running"))
    ws.published_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(Workspace(workspace).published_db_path, ws.published_db_path)
    shutil.copy(Workspace(workspace).users_file, ws.users_file)
    settings = read.Source.of(workspace).settings
    con = connect(ws.published_db_path)
    try:
        before = {n: c for n, (c, _) in build(con, settings, workers=1).items()}
        con.execute("UPDATE mart.periods SET partial = true WHERE period = ?", [RUNNING])
        built = build(con, settings, workers=1)
        write(con, built)
    finally:
        con.close()
    return ws.root, before, {n: c for n, (c, _) in built.items()}


def test_the_grid_holds_counts_over_quarters_for_complete_periods_only(running):
    _, before, after = running
    for name in FLOWS:
        periods = set(after[name]["period"])
        assert not periods & WITHHELD, name
        assert {"2026-Q2", "2026-H1", "2025"} <= periods, name
        # the complete periods' figures are the same (only their suppression may differ)
        keys = [c for c in after[name].columns if c not in ("value", "status")]
        cmp = after[name].merge(before[name], on=keys, suffixes=("", "_before"))
        assert len(cmp) == len(after[name]), name
        assert (cmp["value"] == cmp["value_before"]).all(), name
    # the cases are published per quarter, the running one too (no sum links it to another)
    assert RUNNING in set(after["cases"]["period"])
    assert set(before["goals"]["period"]) >= WITHHELD  # the same fixture, all complete


def test_a_funder_choosing_a_running_period_is_told_why(running):
    root, _, _ = running
    src = read.Source.of(root)
    for period in (RUNNING, ("2026-Q3", "2026-Q4"), ("2026-Q1", "2026-Q4")):
        lo, hi = (period, period) if isinstance(period, str) else period
        f = Filters(lo, hi)
        with pytest.raises(
            NotInGrid,
            match=RUNNING_TEXT,
        ):
            read.gaps(src, FUNDER, f, group_by=("domain",))
        with pytest.raises(
            NotInGrid,
            match=RUNNING_TEXT,
        ):
            read.waits(src, FUNDER, f)
        with pytest.raises(
            NotInGrid,
            match=RUNNING_TEXT,
        ):
            read.structural_closures(src, FUNDER, f, group_by=())
        dec = read.decisions(src, FUNDER, f)
        assert dec["gaps"] is None  # the overview says why instead of "no gap"
    # the complete quarter before: published figures; its closures by quarter leave out the
    # running one
    f = Filters("2026-Q2", "2026-Q2")
    assert len(read.gaps(src, FUNDER, f, group_by=("domain",)).table)
    assert read.decisions(src, FUNDER, f)["gaps"] is not None
    year = read.structural_closures(src, FUNDER, Filters("2026", "2026"), group_by=("period",))
    assert list(year.table["period"]) == ["2026-Q1", "2026-Q2"]
    # the coordination sees the running quarter's figures (no grid)
    coord = read.gaps(src, Viewer("koordination"), Filters(RUNNING, RUNNING), group_by=())
    assert len(coord.table) == 1


def test_a_report_is_for_a_complete_quarter(running):
    root, _, _ = running
    src = read.Source.of(root)
    with pytest.raises(ReportError, match="2026-Q3 ist beim Datenstand noch nicht abgeschlossen"):
        build_report(src, "lenkungsgruppe", RUNNING, src.viewer("koordination"))
    with pytest.raises(ReportError, match="letzte abgeschlossene ist 2026-Q2"):
        build_report(src, "foerderer", RUNNING, src.viewer("foerderer"))
