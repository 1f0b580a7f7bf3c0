"""The publication grid's families are built side by side (publication.build, one cursor per
family): the cells, their status and the audit are those of one family after another."""

from __future__ import annotations

from dashboards import read
from dashboards.disclosure import publication


def test_families_built_side_by_side_equal_one_after_another(workspace):
    src = read.Source.of(workspace)
    with src.read() as con:
        one = publication.build(con, src.settings, workers=1)
        two = publication.build(con, src.settings, workers=2)
    assert list(one) == list(two)
    hidden = 0
    for name, (cells, summary) in one.items():
        other_cells, other_summary = two[name]
        assert cells.equals(other_cells), name
        drop = {"seconds"}
        assert {k: v for k, v in summary.items() if k not in drop} == {
            k: v for k, v in other_summary.items() if k not in drop
        }, name
        hidden += int((cells["status"] != "").sum())
    assert hidden > 0  # the fixture has suppressed cells: the comparison covers them
