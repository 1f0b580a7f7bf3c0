"""A provider reading a published table knows its own part of every cell ("network minus
own", metrics.md). Hand-worked grids: what it may not learn, and the pattern that stops it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dashboards.disclosure.audit import audit
from dashboards.disclosure.insiders import insiders
from dashboards.disclosure.linked import (
    PRIMARY,
    ROOT,
    audit_grid,
    build_grid,
    flat_dimension,
    suppress,
)
from dashboards.disclosure.lp import AttackModel
from tests.unit.test_linked_suppression import K
from tests.unit.test_linked_suppression import by_key as _status


def _programme_grid(by_provider: pd.DataFrame):
    """A family published per programme only (like the supply-gap families): the provider
    is summed away, but each provider knows its own part."""
    prog = flat_dimension("program", sorted(by_provider["program"].unique()))
    leaves = by_provider.groupby("program", as_index=False)["value"].sum()
    return build_grid(leaves, [prog], [{"program": "*"}])


def test_a_programme_cell_that_is_one_providers_own_plus_two_is_primary():
    # programme x: p 50 + q 2 = 52; y: r 40 + s 30 = 70; network 122 — no cell is below 3,
    # but p subtracts its 50 from x's 52 and has q's 2
    rows = [("p", "x", 50), ("q", "x", 2), ("r", "y", 40), ("s", "y", 30)]
    by_provider = pd.DataFrame(rows, columns=["provider_id", "program", "value"])
    grid = _programme_grid(by_provider)
    inside = insiders(grid, by_provider, None, K)
    assert _status(suppress(grid, K), ["program"]) == {("x",): "", ("y",): "", (ROOT,): ""}

    out = suppress(grid, K, insiders=inside)
    got = _status(out, ["program"])
    assert got[("x",)] == PRIMARY
    # 122 − 70 gives x back: y or the network total goes with it
    assert (got[("y",)] != "") + (got[(ROOT,)] != "") == 1
    assert audit_grid(grid, out["status"], K, insiders=inside).passed
    # p's floor under x is its own 50; q's own 2 leaves p's 50 as the rest: not small
    floor = dict(zip(grid.cells["program"], inside.floor, strict=True))
    assert floor == {"x": 50.0, "y": 40.0, ROOT: 50.0}


def test_the_sole_provider_of_a_cell_learns_nothing_new_from_it():
    # x is p's alone: 50 − 50 = 0, a zero is no small count (metrics.md: 1 … k−1)
    rows = [("p", "x", 50), ("r", "y", 40), ("s", "y", 30)]
    by_provider = pd.DataFrame(rows, columns=["provider_id", "program", "value"])
    grid = _programme_grid(by_provider)
    inside = insiders(grid, by_provider, None, K)
    assert not inside.primary.any()
    owner = dict(zip(grid.cells["program"], inside.owner, strict=True))
    assert inside.providers[owner["x"]] == "p" and owner["y"] == -1 and owner[ROOT] == -1


def test_a_known_lower_bound_counts_from_where_the_provider_stands():
    # re-entries: p recorded 4 of the 6 events in x itself; the other 2 another provider
    # recorded for p's clients. p's own view: x = 4 + 2 others -> primary. Its true part 6
    # is no floor: p only knows it has at least 4.
    true = pd.DataFrame([("p", "x", 6), ("q", "y", 9)], columns=["provider_id", "program", "value"])
    known = pd.DataFrame(
        [("p", "x", 4), ("q", "y", 9)], columns=["provider_id", "program", "value"]
    )
    grid = _programme_grid(true)
    inside = insiders(grid, true, known, K)
    by = dict(
        zip(grid.cells["program"], zip(inside.primary, inside.floor, strict=True), strict=True)
    )
    assert by["x"] == (True, 4.0)
    assert by["y"] == (False, 0.0)  # q's own, and q knows it: nothing of the others in it
    assert by[ROOT] == (False, 9.0)  # 15 − 4 = 11 and 15 − 9 = 6: both ≥ k


def test_the_audit_judges_an_interval_from_the_insiders_floor():
    # a + b = 10 shown, a = 8 and b = 2 hidden. Anyone: a in [0, 10]. The provider that
    # knows 7 of a: a in [7, 10], 3 wide — enough for k = 3, not for k = 4.
    model = AttackModel(np.array([[1, 0], [0, 1], [1, 1]]), [8, 2, 10], [8, 2], floor=[7, 0, 0])
    hidden = np.array([True, True, False])
    assert audit(model, hidden, 3).passed
    result = audit(model, hidden, 4)
    assert not result.passed
    row = result.table.iloc[0]
    assert (row["lo"], row["hi"], row["width"]) == (7.0, 10.0, 3.0)
    assert "eigenen Anteil eines Trägers" in row["reason"]
    with pytest.raises(ValueError, match="floor"):
        AttackModel(np.eye(2), [1, 1], [1, 1], floor=[2, 0])


def _provider_grid():
    """Cases per provider and per programme (providers p, q in x; r, s in y)."""
    prov = flat_dimension("provider_id", ["p", "q", "r", "s"])
    prog = flat_dimension("program", ["x", "y"])
    leaves = pd.DataFrame(
        [("p", "x", 50), ("q", "x", 2), ("r", "y", 40), ("s", "y", 30)],
        columns=["provider_id", "program", "value"],
    )
    pubs = [{"provider_id": "leaf"}, {"program": "leaf"}]
    return build_grid(leaves, [prov, prog], pubs), leaves


def test_provider_cells_are_their_providers_and_a_programme_cell_is_primary_for_p():
    # programme x = p 50 + q 2, also published per provider: each provider cell is its
    # provider's own; x gives p q's 2 (52 − 50) and is primary although 52 is large.
    grid, leaves = _provider_grid()
    inside = insiders(grid, leaves, None, K)
    key = list(zip(grid.cells["provider_id"], grid.cells["program"], strict=True))
    owner = {
        k: inside.providers[o] if o >= 0 else None for k, o in zip(key, inside.owner, strict=True)
    }
    assert owner[("p", ROOT)] == "p" and owner[("q", ROOT)] == "q"
    assert owner[(ROOT, "x")] is None and owner[(ROOT, "y")] is None

    out = suppress(grid, K, insiders=inside)
    got = dict(zip(key, out["status"], strict=True))
    assert got[("q", ROOT)] == PRIMARY and got[(ROOT, "x")] == PRIMARY  # 52 − p's 50 = 2
    # x hidden too: x − q = 50 is p's own and tells it nothing; and from p's 50 up, x is
    # open (no total bounds it)
    assert got[("p", ROOT)] == ""
    assert audit_grid(grid, out["status"], K, insiders=inside).passed


def test_a_partner_its_owner_knows_is_no_partner_against_it():
    # network = x + y. x (p 50 + q 2) is primary for p. The cheapest partner would be y, r's
    # alone (40): anyone else has x in [0, 92], but r knows its 40 and has x = 52 exactly —
    # and p then q's 2. So the network total is hidden as well.
    prog = flat_dimension("program", ["x", "y"])
    by_provider = pd.DataFrame(
        [("p", "x", 50), ("q", "x", 2), ("r", "y", 40)], columns=["provider_id", "program", "value"]
    )
    grid = build_grid(
        by_provider.groupby("program", as_index=False)["value"].sum(), [prog], [{"program": "*"}]
    )
    inside = insiders(grid, by_provider, None, K)
    got = _status(suppress(grid, K, insiders=inside), ["program"])
    assert got == {("x",): PRIMARY, ("y",): "secondary", (ROOT,): "secondary"}
    # without what providers know: x is shown
    assert set(_status(suppress(grid, K), ["program"]).values()) == {""}


@pytest.mark.parametrize("seed", range(12))
def test_suppression_with_insiders_passes_its_own_audit(seed):
    """Random small networks: whatever the pattern, no provider can work out a hidden cell
    from its own, and every hidden cell is k wide above what a provider knows of it."""
    rng = np.random.default_rng(seed)
    providers = [f"t{i}" for i in range(rng.integers(2, 6))]
    rows = []
    for p, region, quarter in itertools.product(providers, ["A", "B"], ["Q1", "Q2", "Q3"]):
        if rng.random() < 0.7:
            rows.append((p, f"prog{hash(p) % 2}", region, quarter, int(rng.integers(0, 9))))
    leaves = pd.DataFrame(rows, columns=["provider_id", "program", "region", "quarter", "value"])
    leaves["program"] = np.where(leaves["provider_id"].isin(providers[::2]), "a", "b")
    leaves = leaves[leaves["value"] > 0]
    dims = [
        flat_dimension(d, sorted(leaves[d].unique()))
        for d in ("provider_id", "program", "region", "quarter")
    ]
    pubs = [
        {"provider_id": "leaf", "quarter": "*"},
        {"program": "*", "region": "*"},
        {"region": "*", "quarter": "*"},
    ]
    grid = build_grid(leaves, dims, pubs)
    inside = insiders(grid, leaves, None, K)
    out = suppress(grid, K, insiders=inside)
    assert out.attrs["suppression"]["unverified"] == 0
    result = audit_grid(grid, out["status"], K, insiders=inside, exact=True)
    assert result.passed, result.table[~result.table["protected"]]
    # and every cell that a provider's rest makes small is hidden
    shown = (out["status"] == "").to_numpy()
    assert not (shown & inside.primary).any()
