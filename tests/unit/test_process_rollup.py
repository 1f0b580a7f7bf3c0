"""transforms.process: the process-quality counts over any span, hand-worked.

as_of 2024-09-30
  A  P1 case management 2024-01-10..2024-02-20 (Q1), assessment step on 2024-01-15
  B  P1 case management from 2024-02-01, open, no contact: last contact = opening, 242 days
     before as_of -> Wiedervorlage fällig (> 183), not yet overdue (<= 274)
  C  P1 information from 2024-04-01, open, 182 days without contact -> not due
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.marts_helpers import build, case, insert
from transforms.process import case_classes, process_counts


@pytest.fixture
def con(staging_con):
    insert(
        staging_con,
        "cases",
        [
            case("P1", "A", "2024-01-10", "2024-02-20"),
            case("P1", "B", "2024-02-01"),
            case("P1", "C", "2024-04-01", intensity="information"),
        ],
    )
    insert(
        staging_con,
        "contacts",
        [{"provider_id": "P1", "case_id": "A", "contact_on": "2024-01-15", "step": "assessment"}],
    )
    build(staging_con, date(2024, 9, 30))
    return staging_con


def test_counts_per_quarter_and_half_year(con):
    q = process_counts(con, group_by=["period"]).set_index("period")
    assert q.loc["2024-Q1", ["cm_cases", "with_assessment", "open_cases"]].tolist() == [2, 1, 1]
    assert q.loc["2024-Q2", ["cm_cases", "with_assessment", "open_cases"]].tolist() == [1, 0, 2]
    h = process_counts(con, group_by=["half"]).set_index("period").loc["2024-H1"]
    # A and B are case management in H1: each counted once although B spans both quarters
    assert (h["cm_cases"], h["with_assessment"], h["closed_cm"], h["with_close_reason"]) == (
        2,
        1,
        1,
        1,
    )
    assert (h["open_cases"], h["review_due"], h["close_overdue"]) == (2, 1, 0)


def test_classes_are_the_finest_grain_of_the_counts(con):
    classes = case_classes(con, group_by=["half"])
    h1 = classes[classes["period"] == "2024-H1"]
    assert h1["cases"].sum() == 3  # A, B, C: each case in exactly one class
    assert h1.loc[h1["cm"] == "ja", "cases"].sum() == 2
    assert h1.loc[h1["due"] == "ja", "cases"].sum() == 1
    c = h1[h1["cm"] == "nein"].iloc[0]  # C: information, so no case-management flags
    assert (c["assessment"], c["plan"], c["open"], c["due"]) == ("na", "na", "ja", "nein")
