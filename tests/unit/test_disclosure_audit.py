"""The protection audit: hand-computed intervals, the simple attacker, a brute-force peer.

The audit is the blocking check of the publication grid, so its intervals are compared with
values worked out by hand and with an exhaustive enumeration of non-negative integer
solutions on tables small enough to enumerate.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from dashboards.disclosure.audit import (
    audit_tables,
    simple_attacks_tables,
)

K = 3


def cells_frame(values: dict, hidden: set) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell": list(values),
            "value": list(values.values()),
            "status": ["x" if c in hidden else "" for c in values],
        }
    )


def intervals(result) -> dict:
    t = result.table
    return {c: (lo, hi) for c, lo, hi in zip(t["cell"], t["lo"], t["hi"], strict=True)}


# a column with a total: A + B + C = T
COLUMN = {"A": 2, "B": 5, "C": 7, "T": 14}
COLUMN_EQ = [(["A", "B", "C"], "T")]


@pytest.mark.parametrize("backend", ["highs", "linprog"])
def test_single_hidden_cell_in_a_sum_is_recovered_exactly(backend):
    res = audit_tables(cells_frame(COLUMN, {"A"}), COLUMN_EQ, K, backend=backend)
    assert intervals(res) == {"A": (2, 2)}
    assert res.table["width"].tolist() == [0]
    assert not res.passed


@pytest.mark.parametrize("backend", ["highs", "linprog"])
def test_two_hidden_cells_share_the_remainder(backend):
    # T - C = 7 = A + B: each lies in [0, 7]
    res = audit_tables(cells_frame(COLUMN, {"A", "B"}), COLUMN_EQ, K, backend=backend)
    assert intervals(res) == {"A": (0, 7), "B": (0, 7)}
    assert res.passed
    assert res.narrowest_width == 7
    assert res.cells_audited == 2


def test_hidden_pair_with_too_little_mass_is_not_protected():
    # A=1, B=1 hidden: A + B = 2, so each is in [0, 2]: narrower than k = 3
    values = {"A": 1, "B": 1, "C": 9, "T": 11}
    res = audit_tables(cells_frame(values, {"A", "B"}), COLUMN_EQ, K)
    assert intervals(res) == {"A": (0, 2), "B": (0, 2)}
    assert not res.passed


def test_hidden_total_and_part_are_unbounded_above():
    res = audit_tables(cells_frame(COLUMN, {"A", "T"}), COLUMN_EQ, K)
    assert intervals(res) == {"A": (0, math.inf), "T": (12, math.inf)}
    assert res.passed


def two_by_two():
    """[[1, 5], [6, 8]] with row totals r1=6, r2=14, column totals c1=7, c2=13, total 20."""
    values = {"a": 1, "b": 5, "c": 6, "d": 8, "r1": 6, "r2": 14, "c1": 7, "c2": 13, "t": 20}
    eqs = [
        (["a", "b"], "r1"),
        (["c", "d"], "r2"),
        (["a", "c"], "c1"),
        (["b", "d"], "c2"),
        (["r1", "r2"], "t"),
        (["c1", "c2"], "t"),
    ]
    return values, eqs


def test_two_by_two_interior_hidden_hand_computed():
    # a = s, b = 6 - s, c = 7 - s, d = 7 + s with 0 <= s <= 6
    values, eqs = two_by_two()
    res = audit_tables(cells_frame(values, {"a", "b", "c", "d"}), eqs, K)
    assert intervals(res) == {"a": (0, 6), "b": (0, 6), "c": (1, 7), "d": (7, 13)}
    assert res.passed


def test_two_by_two_row_only_protection_fails_through_the_column():
    values, eqs = two_by_two()
    hidden = {"a", "b"}
    res = audit_tables(cells_frame(values, hidden), eqs, K)
    assert intervals(res) == {"a": (1, 1), "b": (5, 5)}
    found = simple_attacks_tables(cells_frame(values, hidden), eqs)
    assert set(found["cell"]) == {"a", "b"}


def test_distinct_count_links_hand_computed():
    # cases active: Q1 = 2 hidden, Q2 = 5 and H1 = 6 shown. max(Q1, Q2) <= H1 <= Q1 + Q2
    values = {"q1": 2, "q2": 5, "h1": 6}
    cells = cells_frame(values, {"q1"})
    res = audit_tables(cells, [], K, distinct=[(["q1", "q2"], "h1")])
    assert intervals(res) == {"q1": (1, 6)}
    assert res.passed
    # the same numbers read as an additive flow give the cell away: H1 - Q2
    flow = {"q1": 1, "q2": 5, "h1": 6}
    res = audit_tables(cells_frame(flow, {"q1"}), [(["q1", "q2"], "h1")], K)
    assert intervals(res) == {"q1": (1, 1)}


def test_distinct_count_with_an_empty_sibling_pins_the_child():
    values = {"q1": 4, "q2": 0, "h1": 4}
    res = audit_tables(cells_frame(values, {"q1"}), [], K, distinct=[(["q1", "q2"], "h1")])
    assert intervals(res) == {"q1": (4, 4)}


def test_inconsistent_input_is_rejected():
    values = {"A": 2, "B": 5, "C": 7, "T": 15}
    with pytest.raises(ValueError, match="violate"):
        audit_tables(cells_frame(values, {"A", "B"}), COLUMN_EQ, K)


def test_simple_attacks_chain_through_levels():
    """Year = H1 + H2, H1 = Q1 + Q2, H2 = Q3 + Q4: hiding Q1 and H1 is not enough."""
    values = {"q1": 1, "q2": 4, "q3": 6, "q4": 7, "h1": 5, "h2": 13, "y": 18}
    eqs = [(["q1", "q2"], "h1"), (["q3", "q4"], "h2"), (["h1", "h2"], "y")]
    found = simple_attacks_tables(cells_frame(values, {"q1", "h1"}), eqs)
    assert dict(zip(found["cell"], found["value"], strict=True)) == {"q1": 1, "h1": 5}
    # with q2 hidden too, only h1 = y - h2 falls; q1 + q2 = 5 leaves both open
    found = simple_attacks_tables(cells_frame(values, {"q1", "q2", "h1"}), eqs)
    assert found["cell"].tolist() == ["h1"]
    # ... and the LP agrees
    res = audit_tables(cells_frame(values, {"q1", "q2", "h1"}), eqs, K)
    assert intervals(res) == {"q1": (0, 5), "q2": (0, 5), "h1": (5, 5)}


def test_certified_bounds_are_inner_bounds_of_the_exact_ones():
    values, eqs = two_by_two()
    cells = cells_frame(values, {"a", "b", "c", "d"})
    fast = audit_tables(cells, eqs, K, exact=False).table.set_index("cell")
    slow = audit_tables(cells, eqs, K, exact=True).table.set_index("cell")
    assert (fast["lo"] >= slow["lo"]).all() and (fast["hi"] <= slow["hi"]).all()
    assert (fast["protected"] == slow["protected"]).all()
    assert slow["exact"].all()


# ---------------------------------------------------------------------------------------------
# brute-force peer: enumerate non-negative integer solutions of tiny tables


def brute_force(values: dict, hidden: set, eqs) -> dict:
    names = sorted(hidden)
    cap = max(values.values())
    lo = {n: math.inf for n in names}
    hi = {n: -math.inf for n in names}
    for combo in itertools.product(range(cap + 1), repeat=len(names)):
        trial = {**values, **dict(zip(names, combo, strict=True))}
        if all(sum(trial[p] for p in parts) == trial[t] for parts, t in eqs):
            for n in names:
                lo[n] = min(lo[n], trial[n])
                hi[n] = max(hi[n], trial[n])
    return {n: (lo[n], hi[n]) for n in names}


def table_2x3(rng):
    body = rng.integers(0, 6, size=(2, 3))
    values = {f"{r}{c}": int(body[r, c]) for r in range(2) for c in range(3)}
    values |= {f"R{r}": int(body[r].sum()) for r in range(2)}
    values |= {f"C{c}": int(body[:, c].sum()) for c in range(3)}
    values["T"] = int(body.sum())
    eqs = [([f"{r}{c}" for c in range(3)], f"R{r}") for r in range(2)]
    eqs += [([f"{r}{c}" for r in range(2)], f"C{c}") for c in range(3)]
    eqs += [([f"R{r}" for r in range(2)], "T"), ([f"C{c}" for c in range(3)], "T")]
    return values, eqs


@pytest.mark.parametrize("seed", range(12))
def test_lp_intervals_match_integer_enumeration_on_small_tables(seed):
    rng = np.random.default_rng(seed)
    values, eqs = table_2x3(rng)
    names = list(values)
    hidden = set(rng.choice(names, size=int(rng.integers(2, 5)), replace=False).tolist())
    expected = brute_force(values, hidden, eqs)
    got = intervals(audit_tables(cells_frame(values, hidden), eqs, K, exact=True))
    # an unbounded LP direction is capped by the enumeration's range
    cap = max(values.values())
    for n in hidden:
        lo, hi = got[n]
        assert lo == expected[n][0], (n, got[n], expected[n])
        assert min(hi, cap) == expected[n][1], (n, got[n], expected[n])


@pytest.mark.parametrize("seed", range(20))
def test_lp_dominates_simple_attacks_and_contains_the_truth(seed):
    rng = np.random.default_rng(100 + seed)
    values, eqs = table_2x3(rng)
    hidden = set(rng.choice(list(values), size=int(rng.integers(1, 6)), replace=False).tolist())
    cells = cells_frame(values, hidden)
    res = audit_tables(cells, eqs, K).table.set_index("cell")
    assert (res["lo"] <= res["value"]).all() and (res["value"] <= res["hi"]).all()
    for cell in simple_attacks_tables(cells, eqs)["cell"]:
        assert res.loc[cell, "width"] == 0
