"""Small-number suppression: hand-made tables, including subtraction attacks.

The attack check is a linear programme: an attacker knows every visible cell, the published
totals, that a `<k` cell lies in 1..k-1 and that every other cell is >= 0. A suppressed cell is
protected when its smallest and largest feasible value differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from dashboards.disclosure.tables import (
    PRIMARY,
    RATE,
    SECONDARY,
    Unclassified,
    format_count,
    format_number,
    format_percent,
    note,
    primary_mask,
    publish,
    rate_hidden,
    suppress,
    suppress_pivot,
    unsuppressed,
)

K = 3


def feasible_range(cells: dict, equations: list[tuple[list, str]], k: int = K):
    """Min and max of every hidden cell given visible cells and sum equations.

    cells: name -> value (int) or marker ('<3' / 'x'); equations: (part names, total name).
    """
    hidden = [n for n, v in cells.items() if isinstance(v, str)]
    if not hidden:
        return {}
    pos = {n: i for i, n in enumerate(hidden)}
    a_eq, b_eq = [], []
    for parts, total in equations:
        row = np.zeros(len(hidden))
        rhs = 0.0
        for p in parts:
            if p in pos:
                row[pos[p]] += 1
            else:
                rhs -= cells[p]
        if total in pos:
            row[pos[total]] -= 1
        else:
            rhs += cells[total]
        a_eq.append(row)
        b_eq.append(rhs)
    bounds = [(1, k - 1) if cells[n].startswith("<") else (0, None) for n in hidden]
    out = {}
    for n, i in pos.items():
        c = np.zeros(len(hidden))
        c[i] = 1
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status == 0, (n, lo.message, hi.message)
        out[n] = (lo.fun, -hi.fun)
    return out


def assert_protected(ranges: dict):
    for name, (lo, hi) in ranges.items():
        assert hi - lo > 0.5, f"cell {name} is recoverable: exactly {lo}"


# ---------------------------------------------------------------------------------------------


def test_primary_counts_and_zero():
    s = pd.Series([0, 1, 2, 3, 10, None])
    assert primary_mask(s, 3).tolist() == [False, True, True, False, False, False]
    assert format_count(0, 3) == "0"
    assert format_count(1, 3) == "x"
    assert format_count(2, 3) == "x"
    assert format_count(3, 3) == "3"
    assert format_count(2, 5) == "x"
    assert format_count(4, 5) == "x"
    assert format_count(1234, 3) == "1.234"
    assert format_count(2, None) == "2"


def test_german_number_formats():
    assert format_number(1234567) == "1.234.567"
    assert format_number(12.345, 1) == "12,3"
    assert format_number(None) == "–"
    assert format_percent(0.1234) == "12,3 %"
    assert format_percent(float("nan")) == "–"


def test_rate_rule_numerator_or_denominator_below_k():
    assert rate_hidden(2, 100, 3)
    assert rate_hidden(10, 2, 3)
    assert rate_hidden(0, 100, 3)  # "below k" includes 0 (metrics.md)
    assert not rate_hidden(3, 3, 3)
    assert not rate_hidden(30, 100, 3)


def test_subtraction_attack_on_a_column_total():
    """Total 14 = 2 + 5 + 7: without secondary suppression 14 - 5 - 7 reveals the 2."""
    df = pd.DataFrame({"region": ["A", "B", "C", "Gesamt"], "cases": [2, 5, 7, 14]})
    res = suppress(df, ["cases"], 3, total_mask=df["region"] == "Gesamt")
    shown = res.table["cases"].tolist()
    assert shown[0] == "x"
    assert shown[1] == "x", "the next smallest cell must be suppressed too"
    assert shown[2] == 7 and shown[3] == 14
    assert res.flags["cases"].tolist() == [PRIMARY, SECONDARY, "", ""]
    cells = dict(zip(["A", "B", "C", "T"], shown, strict=True))
    assert_protected(feasible_range(cells, [(["A", "B", "C"], "T")]))


def test_naive_suppression_is_recoverable():
    """The attack model itself: with primary suppression only, the cell is exactly 2."""
    cells = {"A": "<3", "B": 5, "C": 7, "T": 14}
    r = feasible_range(cells, [(["A", "B", "C"], "T")])
    assert r["A"] == pytest.approx((2, 2))


def test_totals_published_elsewhere_are_protected_by_default():
    """No total row in the table: the column total is still published (default margin)."""
    df = pd.DataFrame({"provider": ["p1", "p2", "p3"], "cases": [40, 1, 12]})
    res = suppress(df, ["cases"], 3)
    assert res.table["cases"].tolist() == [40, "x", "x"]


def test_two_way_table_secondary_suppression_propagates():
    """Domain × region with row and column totals; the pair chosen in a row leaves a column
    with a single suppressed cell, which needs a further partner."""
    pivot = pd.DataFrame(
        {"R1": [1, 20, 30], "R2": [9, 15, 40], "R3": [25, 4, 8]},
        index=pd.Index(["wohnen", "sprache", "schulden"], name="domain"),
    )
    res = suppress_pivot(pivot, 3)
    t = res.table.set_index("domain")
    cells = {}
    for d in t.index:
        for c in t.columns:
            cells[(d, c)] = t.loc[d, c]
    rows = ["wohnen", "sprache", "schulden"]
    cols = ["R1", "R2", "R3"]
    eqs = [([(d, c) for c in cols], (d, "Gesamt")) for d in [*rows, "Gesamt"]]
    eqs += [([(d, c) for d in rows], ("Gesamt", c)) for c in [*cols, "Gesamt"]]
    assert t.loc["wohnen", "R1"] == "x"
    # every row and column has zero or at least two hidden cells
    flags = res.flags.set_index(res.table["domain"]).drop(columns="domain")
    body = flags.loc[rows, cols] != ""
    assert all(n != 1 for n in body.sum(axis=1))
    assert all(n != 1 for n in body.sum(axis=0))
    assert_protected(feasible_range(cells, eqs))


def test_two_way_table_with_two_small_cells_in_one_row():
    pivot = pd.DataFrame(
        {"R1": [1, 20], "R2": [2, 15], "R3": [25, 30]},
        index=pd.Index(["wohnen", "sprache"], name="domain"),
    )
    res = suppress_pivot(pivot, 3)
    t = res.table.set_index("domain")
    rows, cols = ["wohnen", "sprache"], ["R1", "R2", "R3"]
    cells = {(d, c): t.loc[d, c] for d in t.index for c in t.columns}
    eqs = [([(d, c) for c in cols], (d, "Gesamt")) for d in [*rows, "Gesamt"]]
    eqs += [([(d, c) for d in rows], ("Gesamt", c)) for c in [*cols, "Gesamt"]]
    assert_protected(feasible_range(cells, eqs))
    # the wohnen row total 28 stays visible; the sprache cells below the two <3 are hidden
    assert t.loc["wohnen", "Gesamt"] == 28
    assert t.loc["sprache", "R1"] == "x" and t.loc["sprache", "R2"] == "x"


def test_small_total_is_suppressed_itself():
    pivot = pd.DataFrame({"R1": [2], "R2": [0]}, index=pd.Index(["wohnen"], name="domain"))
    res = suppress_pivot(pivot, 3)
    t = res.table.set_index("domain")
    assert t.loc["wohnen", "R1"] == "x"
    assert t.loc["wohnen", "Gesamt"] == "x"


def test_margins_in_long_form():
    """Long table quarter × provider: per quarter the providers add up to the network total."""
    df = pd.DataFrame(
        {
            "period": ["2026-Q1"] * 3 + ["2026-Q2"] * 3,
            "provider": ["a", "b", "c"] * 2,
            "cases": [10, 2, 30, 11, 12, 13],
        }
    )
    res = suppress(df, ["cases"], 3, margins=[["period"]])
    q1 = res.table["cases"].tolist()[:3]
    assert q1 == ["x", "x", 30]
    # Q2 untouched: its own group has no suppressed cell
    assert res.table["cases"].tolist()[3:] == [11, 12, 13]


def test_rates_hidden_with_their_basis():
    df = pd.DataFrame(
        {
            "region": ["A", "B", "C", "D"],
            "goals_set": [40, 2, 50, 30],
            "goals_without_offer": [10, 1, 0, 5],
        }
    )
    df["gap_rate"] = df["goals_without_offer"] / df["goals_set"]
    res = suppress(
        df,
        ["goals_set", "goals_without_offer"],
        3,
        rates={"gap_rate": ["goals_without_offer", "goals_set"]},
    )
    t, f = res.table, res.flags
    assert t.loc[0, "gap_rate"] == pytest.approx(0.25)
    assert t.loc[1, "gap_rate"] == "x" and f.loc[1, "gap_rate"] == RATE
    assert t.loc[2, "gap_rate"] == "x", "numerator 0 is below k"
    # a rate is hidden when its numerator was suppressed as a partner (secondary), else
    # rate × denominator would give the hidden count back
    secondary_rows = f.index[f["goals_without_offer"] == SECONDARY]
    assert list(secondary_rows) == [3]
    for i in secondary_rows:
        assert t.loc[i, "gap_rate"] == "x"


def test_row_sums_wide_table():
    """Close reasons as columns with a row total: one small cell needs a partner in the row."""
    df = pd.DataFrame(
        {
            "provider": ["a", "b"],
            "ziel_erreicht": [30, 40],
            "kein_kontakt": [2, 10],
            "sonstiges": [8, 12],
            "gesamt": [40, 62],
        }
    )
    res = suppress(
        df,
        ["ziel_erreicht", "kein_kontakt", "sonstiges", "gesamt"],
        3,
        margins=[],
        row_sums={"gesamt": ["ziel_erreicht", "kein_kontakt", "sonstiges"]},
    )
    row = res.table.loc[0]
    assert row["kein_kontakt"] == "x" and row["sonstiges"] == "x" and row["gesamt"] == 40
    cells = {"z": row["ziel_erreicht"], "k": row["kein_kontakt"], "s": row["sonstiges"], "t": 40}
    assert_protected(feasible_range(cells, [(["z", "k", "s"], "t")]))


def test_secondary_partner_prefers_positive_cells():
    df = pd.DataFrame({"r": ["A", "B", "C", "D"], "n": [2, 0, 9, 4]})
    res = suppress(df, ["n"], 3)
    assert res.table["n"].tolist() == ["x", 0, 9, "x"]


def test_display_strings_and_note():
    df = pd.DataFrame({"provider": ["a", "b", "c"], "cases": [1200, 2, 7], "rate": [0.5, 0.2, 0.1]})
    res = suppress(df, ["cases"], 3, rates={"rate": ["cases"]})
    shown = res.display(percent=["rate"], labels={"cases": "Fälle", "rate": "Quote"})
    assert shown["Fälle"].tolist() == ["1.200", "x", "x"]
    assert shown["Quote"].tolist() == ["50,0 %", "x", "x"]
    assert "k = 3" in res.note() and "„x“" in res.note() and "<3" not in res.note()
    assert "k = 5" in note(5)
    assert res.hidden_cells == 4


def test_publish_without_k_is_internal():
    df = pd.DataFrame({"cases": [1, 2]})
    assert publish(df, None).table["cases"].tolist() == [1, 2]
    assert not unsuppressed(df).suppressed
    assert publish(df, 3).table["cases"].tolist() == ["x", "x"]


def test_a_numeric_column_without_a_disclosure_class_cannot_be_published():
    """Default-deny: the catalogue decides; a column nobody classified raises."""
    df = pd.DataFrame({"cases": [5, 6], "unknown_count": [1, 2]})
    with pytest.raises(Unclassified, match="unknown_count"):
        publish(df, 3)
    with pytest.raises(Unclassified):
        publish(df, None)


def test_a_derived_column_needs_its_basis_in_the_table():
    with pytest.raises(Unclassified, match="goals_set"):
        publish(pd.DataFrame({"gap_rate": [0.5], "goals_without_offer": [4]}), 3)


def test_classes_decide_what_is_suppressed():
    df = pd.DataFrame(
        {
            "goals_set": [10, 2],
            "goals_without_offer": [5, 1],
            "fte_end": [1.0, 0.5],
            "gap_rate": [0.5, 0.5],
        }
    )
    pub = publish(df, 3, margins=[])
    assert pub.table["goals_set"].tolist() == [10, "x"]
    assert pub.table["gap_rate"].tolist() == [0.5, "x"]
    assert pub.table["fte_end"].tolist() == [1.0, 0.5]  # staff FTE: free of disclosure risk


def test_missing_column_is_an_error():
    with pytest.raises(KeyError):
        suppress(pd.DataFrame({"a": [1]}), ["b"], 3)


def test_every_hidden_grid_cell_reads_x_and_its_flag_says_no_more():
    """One mark for every hidden cell of the grid, small or not: „<k“ beside „x“ told a
    reader which hidden counts are small (a „<3“ total of two „<3“ parts is 1 + 1), and the
    flags go into a release's cell list, so they must not tell it either."""
    from dashboards.disclosure.tables import from_grid

    df = pd.DataFrame({"region": ["a", "b", "c", "d"], "cases": [1, 5, 2, 7]})
    res = from_grid(df, 3, {"cases": ["primary", "primary", "secondary", ""]})
    assert res.table["cases"].tolist() == ["x", "x", "x", 7]
    assert res.flags["cases"].tolist() == ["secondary", "secondary", "secondary", ""]
    assert "<3" not in res.note() and "„x“ steht für 1 oder mehr" in res.note()
