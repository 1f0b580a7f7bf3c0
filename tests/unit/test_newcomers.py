"""A reader who keeps an earlier publication and subtracts it from a later one learns what the
providers that joined since hold (metrics.md: protection against everything a reader sees
together). Hand-worked grids: the newcomer's part is protected like the others' part against
an insider, only in periods the earlier publication can have shown; and the log of earlier
publications (kernel.publications)."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest

from dashboards.disclosure import pattern
from dashboards.disclosure.grid import ALL_LEVELS, period_dimension
from dashboards.disclosure.insiders import insiders, period_start
from dashboards.disclosure.linked import PRIMARY, ROOT, audit_grid, build_grid, suppress
from dashboards.disclosure.pattern import suppress_for_newcomers
from dashboards.disclosure.publication import coalitions_of
from kernel import publications
from tests.unit.test_insiders import _programme_grid
from tests.unit.test_linked_suppression import K
from tests.unit.test_linked_suppression import by_key as _status

OLD = frozenset({"p", "q", "r"})


def _joined() -> pd.DataFrame:
    # programme x: p 50 + q 30 + n 2 = 82; y: r 40; network 122. n joined after a
    # publication of p, q and r: x went from 80 to 82, the network from 120 to 122
    rows = [("p", "x", 50), ("q", "x", 30), ("n", "x", 2), ("r", "y", 40)]
    return pd.DataFrame(rows, columns=["provider_id", "program", "value"])


def test_a_newcomers_small_part_of_a_shown_cell_is_primary_after_an_earlier_publication():
    by_provider = _joined()
    grid = _programme_grid(by_provider)
    # no provider alone learns a small count: p sees 32 others in x, q 52, n 80
    assert not insiders(grid, by_provider, None, K).primary.any()

    inside = insiders(grid, by_provider, None, K, ((OLD, "2026-10-15"),))
    primary = dict(zip(grid.cells["program"], inside.primary, strict=True))
    floor = dict(zip(grid.cells["program"], inside.floor, strict=True))
    # 82 − 80 and 122 − 120 are n's 2; y has nothing of n: 40 − 40 = 0 is no small count
    assert primary == {"x": True, "y": False, ROOT: True}
    assert floor == {"x": 80.0, "y": 0.0, ROOT: 120.0}  # y is r's alone: nothing to protect
    assert inside.providers == ("n", "p", "q", "r")  # the earlier set is no provider

    out = suppress(grid, K, insiders=inside)
    got = _status(out, ["program"])
    assert got[("x",)] == PRIMARY and got[(ROOT,)] == PRIMARY and got[("y",)] == ""
    assert audit_grid(grid, out["status"], K, insiders=inside).passed


def test_a_newcomer_is_protected_only_in_periods_the_earlier_publication_can_have_shown():
    # n joined after a publication of p and q with data up to 2026-09-30: it has 1 case in
    # Q3 and 1 in Q4. Q3 (and H2, the year) were in that publication, Q4 was not begun. p
    # and q each see 11 or more of the others in every quarter: no small count alone
    rows = [
        ("p", "2026-Q1", 10),
        ("q", "2026-Q1", 10),
        ("p", "2026-Q2", 10),
        ("q", "2026-Q2", 10),
        ("p", "2026-Q3", 10),
        ("q", "2026-Q3", 10),
        ("n", "2026-Q3", 1),
        ("p", "2026-Q4", 15),
        ("q", "2026-Q4", 15),
        ("n", "2026-Q4", 1),
    ]
    by_provider = pd.DataFrame(rows, columns=["provider_id", "period", "value"])
    leaves = by_provider.groupby("period", as_index=False)["value"].sum()
    grid = build_grid(leaves, [period_dimension(["2026"])], [{"period": ALL_LEVELS}])
    assert not insiders(grid, by_provider, None, K).primary.any()
    inside = insiders(grid, by_provider, None, K, ((frozenset({"p", "q"}), "2026-09-30"),))
    primary = dict(zip(grid.cells["period"], inside.primary, strict=True))
    assert primary == {
        "2026": True,
        "2026-H1": False,
        "2026-H2": True,
        "2026-Q1": False,
        "2026-Q2": False,
        "2026-Q3": True,
        "2026-Q4": False,  # begun after the cut-off: no earlier figure to subtract
    }
    # without a known cut-off every period counts
    unknown = insiders(grid, by_provider, None, K, ((frozenset({"p", "q"}), None),))
    assert dict(zip(grid.cells["period"], unknown.primary, strict=True))["2026-Q4"]


def test_the_first_day_of_a_period():
    assert period_start("2026") == "2026-01-01"
    assert period_start("2026-H2") == "2026-07-01"
    assert period_start("2026-Q4") == "2026-10-01"
    assert period_start("2026-Q1") == "2026-01-01"
    assert period_start("__all__") is None and period_start("2026-X1") is None


def _everywhere(*names: str) -> dict:
    return {publications.ALL: frozenset(names)}


def test_only_earlier_sets_that_leave_out_a_provider_and_hold_one_count():
    here = {"p", "q", "n"}
    earlier = (
        (_everywhere("p", "q"), "2026-06-30"),
        (_everywhere("p", "q", "gone"), "2026-09-30"),  # a provider left since: same set here
        (_everywhere("p", "q", "n"), "2026-10-15"),  # today's providers: nobody joined since
        (_everywhere("other"), "2026-10-15"),  # none of this family's providers
    )
    assert coalitions_of(earlier, here) == ((frozenset({"p", "q"}), "2026-09-30"),)
    assert coalitions_of((), here) == ()
    unknown = ((_everywhere("p"), None), (_everywhere("p"), "2026-01-01"))
    assert coalitions_of(unknown, here) == ((frozenset({"p"}), None),)


def test_a_provider_that_brings_a_table_later_is_new_to_the_families_counted_from_it():
    # n was published with its cases, but its referrals came a run later
    earlier = (
        (
            {
                publications.ALL: frozenset({"p", "q", "n"}),
                "mart.cases": frozenset({"p", "q", "n"}),
                "mart.referrals": frozenset({"p", "q"}),
            },
            "2026-09-30",
        ),
    )
    here = {"p", "q", "n"}
    referrals = ("mart.referrals", "mart.periods")
    assert coalitions_of(earlier, here, referrals) == ((frozenset({"p", "q"}), "2026-09-30"),)
    assert coalitions_of(earlier, here, ("mart.cases", "mart.periods")) == ()
    assert coalitions_of(earlier, here, ("mart.reentry",)) == ()  # not recorded: the copy's


def _tables(*names: str, **tables: list[str]) -> dict[str, list[str]]:
    return {publications.ALL: list(names), **{k.replace("_", "."): v for k, v in tables.items()}}


def test_the_log_of_earlier_publications(tmp_path):
    ws = tmp_path / "ws"
    assert publications.published_sets(ws) == [] and publications.published_sets(None) == []
    assert publications.record(ws, _tables("q", "p", mart_goals=["p"]), "2026-06-30")
    assert not publications.record(ws, _tables("p", "q", mart_goals=["p"]), "2026-06-30")
    assert publications.record(ws, _tables("p", "q", mart_goals=["p", "q"]), "2026-06-30")
    assert publications.record(ws, _tables("p", "q", mart_goals=["p", "q"]), "2026-09-30")
    path = publications.log_path(ws)
    with open(path, "a", encoding="utf-8") as fh:  # what no run writes is skipped
        fh.write('not json\n["p"]\n{"providers": "p"}\n{"providers": [1]}\n')
        fh.write('{"providers": ["p"], "tables": {"mart.goals": "p"}}\n')  # no table list
    both = {publications.ALL: frozenset({"p", "q"}), "mart.goals": frozenset({"p", "q"})}
    assert publications.published_sets(ws) == [
        ({publications.ALL: frozenset({"p", "q"}), "mart.goals": frozenset({"p"})}, "2026-06-30"),
        (both, "2026-09-30"),
        ({publications.ALL: frozenset({"p"})}, None),
    ]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["providers"] == ["p", "q"] and first["as_of"] == "2026-06-30"
    assert first["tables"] == {"mart.goals": ["p"]}

    rebuilt = tmp_path / "rebuilt"  # what verify's rebuild starts from (the manifest's)
    manifest = json.loads(json.dumps(publications.as_lists(publications.published_sets(ws))))
    publications.seed(rebuilt, manifest)
    assert publications.published_sets(rebuilt) == publications.published_sets(ws)


def test_the_log_is_never_written_through_a_planted_link(tmp_path):
    target = tmp_path / "anderswo.txt"
    target.write_text("unberührt\n", encoding="utf-8")
    ws = tmp_path / "ws"
    (ws / "audit").mkdir(parents=True)
    publications.log_path(ws).symlink_to(target)
    with pytest.raises(OSError):
        publications.record(ws, _tables("p"), "2026-09-30")
    assert target.read_text(encoding="utf-8") == "unberührt\n"


def test_the_log_reads_past_what_no_run_writes_and_mends_a_torn_line(tmp_path):
    ws = tmp_path / "ws"
    publications.record(ws, _tables("p"), "2026-06-30")
    path = publications.log_path(ws)
    with open(path, "ab") as fh:
        fh.write(b'{"providers": ["\xff"], "as_of": "2026-09-30"}\n')  # not UTF-8
        fh.write(b"[" * 100_000 + b"\n")  # nested beyond Python's recursion limit
        fh.write(b'{"providers": ["q"], "as_of": ""}\n')  # no date: every period
        fh.write(b'{"providers": ["r"], "as_of": "2026-09')  # torn by a crash
    assert publications.record(ws, _tables("p", "s"), "2026-09-30")
    sets = publications.published_sets(ws)
    assert (_everywhere("q"), None) in sets
    assert (_everywhere("p", "s"), "2026-09-30") in sets  # not glued to the torn line
    assert sets[0] == (_everywhere("p"), "2026-06-30")


def test_a_rebuilds_log_is_frozen_after_seeding(tmp_path):
    rebuilt = tmp_path / "rebuilt"
    publications.seed(rebuilt, [[{"*": ["p", "q"]}, "2026-06-30"]])
    assert not publications.record(rebuilt, _tables("p", "q", "n"), "2026-09-30")  # a round
    assert publications.published_sets(rebuilt) == [(_everywhere("p", "q"), "2026-06-30")]
    publications.seed(tmp_path / "old-release", [])  # a release from before the log
    assert not publications.record(tmp_path / "old-release", _tables("p"), "2026-09-30")
    assert publications.published_sets(tmp_path / "old-release") == []


YEAR_PUBS = ({"period": ALL_LEVELS},)
YEAR_EARLIER = ((frozenset({"p"}), "2025-12-31"),)


def _year_network():
    """p (old): 25 a quarter of 2025; n joined since: 1 in Q1, Q2 and Q3. The grid (every
    period level), p's and n's parts, and the insiders with p's earlier publication."""
    rows = [("p", f"2025-Q{q}", 25) for q in range(1, 5)]
    rows += [("n", f"2025-Q{q}", 1) for q in range(1, 4)]
    by_provider = pd.DataFrame(rows, columns=["provider_id", "period", "value"])
    leaves = by_provider.groupby("period", as_index=False)["value"].sum()
    grid = build_grid(leaves, [period_dimension(["2025"])], YEAR_PUBS)
    return grid, by_provider, insiders(grid, by_provider, None, K, YEAR_EARLIER)


def test_what_all_earlier_cells_say_together_is_protected_too():
    # cells where n's part is 1 or 2 are primary: the quarters, H1 (2), H2 (1). The year holds
    # 3 of n's: shown, it tells (103 − 100) that n's H1 + H2 = 3 with each at least 1, so n's
    # H1 is 1 or 2 — though every cell that holds it is hidden and each one's own LP interval
    # is wide
    grid, by_provider, inside = _year_network()
    alone = suppress(grid, K, insiders=inside)
    assert _status(alone, ["period"])[("2025",)] == ""  # per cell, the year looked safe

    cells, used, exposed = suppress_for_newcomers(
        grid, inside, by_provider, K, YEAR_EARLIER, YEAR_PUBS, None
    )
    status = _status(cells, ["period"])
    assert status[("2025",)] != ""  # now hidden: n's parts are 1, 1, 1 and nothing pins them
    assert audit_grid(grid, cells["status"], K, insiders=used).passed and exposed == 0
    # without an earlier publication: the suppression as it was
    own = insiders(grid, by_provider, None, K)
    plain, _, _ = suppress_for_newcomers(grid, own, by_provider, K, (), YEAR_PUBS, None)
    assert plain["status"].tolist() == suppress(grid, K, insiders=own)["status"].tolist()


def test_cells_still_exposed_after_the_last_round_are_counted(monkeypatch):
    # the same network with no round allowed: the year is still to be hidden, and says so
    grid, by_provider, inside = _year_network()
    monkeypatch.setattr(pattern, "NEWCOMER_ROUNDS", 0)
    _, _, exposed = suppress_for_newcomers(
        grid, inside, by_provider, K, YEAR_EARLIER, YEAR_PUBS, None
    )
    assert exposed >= 1


def test_a_pattern_given_as_hidden_stays_hidden_and_is_protected_as_the_rest():
    # y (r's 40) is hidden already, from an earlier round: it stays hidden, and since
    # 122 − 82 would give it away, one more cell of its equation is hidden with it
    by_provider = _joined()
    grid = _programme_grid(by_provider)
    given = (grid.cells["program"] == "y").to_numpy()
    out = suppress(grid, K, hidden=given)
    got = _status(out, ["program"])
    assert got[("y",)] != "" and (got[("x",)] != "" or got[(ROOT,)] != "")
    assert audit_grid(grid, out["status"], K).passed
    assert suppress(grid, K)["status"].eq("").all()  # nothing of it hidden without


def test_each_newcomer_round_keeps_what_the_round_before_hid(monkeypatch):
    # the rounds grow one pattern instead of choosing anew each time (anew, the demo network's
    # referrals took 10 rounds and 14 s, grown 2 and 2.5 s): every round starts from the
    # cells the last one hid, so its pattern holds them (docs/decisions.md, „Ein neuer Träger“)
    grid, by_provider, inside = _year_network()
    calls = []
    real = pattern.suppress_grid

    def recorded(*args, **kwargs):
        out = real(*args, **kwargs)
        if len(out) == len(grid.cell_values):
            calls.append((kwargs.get("hidden"), out["status"].to_numpy() != ""))
        return out

    monkeypatch.setattr(pattern, "suppress_grid", recorded)
    cells, used, _ = suppress_for_newcomers(
        grid, inside, by_provider, K, YEAR_EARLIER, YEAR_PUBS, None
    )
    assert len(calls) >= 2 and calls[0][0] is None
    for (_, before), (given, after) in itertools.pairwise(calls):
        assert given is not None and (given == before).all()
        assert (after | ~before).all()
    assert audit_grid(grid, cells["status"], K, insiders=used).passed
