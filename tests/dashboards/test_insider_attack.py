"""A provider reads a published report next to its own records ("network minus own",
metrics.md): no shown cell of the publication grid minus what one provider knows of it may
leave a small count of the others' records."""

from __future__ import annotations

import pytest

from dashboards import read
from dashboards.disclosure.families import ALL, Context, families
from dashboards.disclosure.publication import build


@pytest.fixture(scope="module")
def con(workspace):
    with read.Source.of(workspace).read() as c:
        yield c


def test_no_shown_reentry_cell_minus_a_providers_own_events_is_small(workspace, con):
    """Worked out from the case mart, without the grid's code: for every provider, window and
    shown programme, region or network cell, the events it recorded itself."""
    k = read.Source.of(workspace).settings.suppression_k
    cases = con.execute(
        "SELECT provider_id, program, region_code, followup_days, own_reentry_days"
        " FROM mart.reentry"
    ).df()
    grid = con.execute("SELECT * FROM grid.reentry").df()
    others = [c for c in grid.columns if c.endswith(("_obs", "_km")) or c == "person_key"]
    checked = 0
    for w in read.Source.of(workspace).settings.windows:
        obs = f"reentry_{w}_obs"
        rest = [c for c in others if c != obs]
        cells = grid[(grid[obs] == "event") & (grid[rest] == ALL).all(axis=1)]
        cells = cells[(cells["provider_id"] == ALL) & (cells["status"].fillna("") == "")]
        own = cases[(cases["followup_days"] >= w) & (cases["own_reentry_days"] <= w)]
        for _, cell in cells.iterrows():
            mine = own
            for group in ("program", "region_code"):
                if cell[group] != ALL:
                    mine = mine[mine[group] == cell[group]]
            for provider, n in mine.groupby("provider_id").size().items():
                checked += 1
                left = int(cell["value"]) - int(n)
                assert not 1 <= left < k, (w, cell["program"], cell["region_code"], provider)
    assert checked > 0


def test_the_grid_marks_every_cell_a_providers_rest_makes_small(workspace, con):
    settings = read.Source.of(workspace).settings
    total = 0
    # as the publication builds them: closed cases and closures as one (disclosure/joint)
    for name, (cells, summary) in build(con, settings).items():
        published = con.execute(f"SELECT * FROM grid.{name}").df()
        assert len(cells) == len(published)
        assert summary["unprotected"] == 0, name
        total += summary["insider_primary"] or 0
        # the stored grid is this pattern
        assert (cells["status"].to_numpy() == published["status"].fillna("").to_numpy()).all()
    assert total > 0  # the fixture has programmes where one provider holds all but 1 or 2


def test_a_provider_knows_its_own_part_of_programme_goals(workspace, con):
    """Goals are published per programme only; a provider still knows its own goals. Where
    a shown programme cell minus one provider's goals is 1 … k−1, the pattern is wrong."""
    k = read.Source.of(workspace).settings.suppression_k
    family = next(f for f in families(read.Source.of(workspace).settings) if f.name == "goals")
    ctx = Context(con, read.Source.of(workspace).settings)
    leaves = family.leaves(ctx)
    leaves = leaves[leaves["period"].str.len() == 7]  # quarters
    quarter_cells = con.execute(
        "SELECT period, program, domain, part, value, status FROM grid.goals"
        " WHERE program <> '__all__' AND domain <> '__all__' AND part = '__all__'"
        " AND length(period) = 7"
    ).df()
    own = leaves.groupby(["period", "program", "domain", "provider_id"], as_index=False)[
        "value"
    ].sum()
    both = quarter_cells.merge(own, on=["period", "program", "domain"], suffixes=("", "_own"))
    shown = both[both["status"].fillna("") == ""]
    left = shown["value"] - shown["value_own"]
    assert len(shown) and not ((left >= 1) & (left < k)).any()
