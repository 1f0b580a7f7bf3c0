"""Zeros a suppressed reader sees without a grid cell behind them (dashboards.read.grid.
pop_status): only true zeros — a named period without any goal — never a figure made up for a
selection the grid does not publish, and never a non-zero count without its grid status."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure.tables import Unclassified
from dashboards.read.grid import pop_status


def test_a_count_without_cells_is_a_zero_cell_only_when_it_is_zero():
    zeros = pd.DataFrame({"goals_set": [0, 0], "goals_set__status": ["", "primary"]})
    assert list(pop_status(zeros, ["goals_set", "cases_with_gap"])["cases_with_gap"]) == ["", ""]
    assert "goals_set__status" not in zeros
    with pytest.raises(Unclassified, match="cases_with_gap"):
        pop_status(pd.DataFrame({"cases_with_gap": [0, 4]}), ["cases_with_gap"])


def test_no_period_gives_no_total_for_a_suppressed_reader(workspace):
    """The grid publishes gaps per quarter, half-year and year; with no period named there is
    no published total, so no row — before, a row of zeros (the truth is not zero)."""
    src = read.Source.of(workspace)
    assert read.gaps(src, src.viewer("koordination"), read.ALL, group_by=()).table.iloc[0][
        "goals_set"
    ]  # the network has goals
    shown = read.gaps(src, src.viewer("foerderer"), read.ALL, group_by=())
    assert shown.table.empty
