"""Figures read more than once (the caseload roll-ups of the leaves and extras of `cases`, the
referral table of `referrals` and `started`) are computed once per build (families.Shared):
every family gets the same figures as from a query of its own, and no family sees another's
changes to them."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from dashboards.disclosure import publication
from dashboards.disclosure.families import Context, Shared, families

SHARING = ("cases", "referrals", "started")


def test_a_figure_is_computed_once_however_many_families_ask():
    shared, calls = Shared(), []
    ready = threading.Barrier(4)

    def compute() -> pd.DataFrame:
        calls.append(1)
        time.sleep(0.2)  # the others ask while it is in the making
        return pd.DataFrame({"value": [1, 2, 3]})

    got = []

    def ask() -> None:
        ready.wait()
        got.append(shared.get(("referrals",), compute))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 4
    got[0].loc[0, "value"] = 99  # one family's change ...
    assert [f["value"].tolist() for f in got[1:]] == [[1, 2, 3]] * 3  # ... is its own
    assert shared.get(("referrals",), compute)["value"].tolist() == [1, 2, 3]


def test_a_failure_reaches_every_family_that_asked():
    shared = Shared()

    def broken() -> pd.DataFrame:
        raise RuntimeError("Abfrage fehlgeschlagen")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="Abfrage fehlgeschlagen"):
            shared.get(("caseload", "period", ()), broken)


def test_families_that_share_figures_get_what_their_own_queries_give(warehouse):
    con, settings = warehouse
    built = publication.build(con, settings)  # side by side, sharing
    shared = Shared()
    for family in families(settings):
        if family.name not in SHARING:
            continue
        alone, summary = publication.build_family(Context(con, settings), family)
        cells, built_summary = built[family.name]
        assert cells.equals(alone), family.name
        assert {k: v for k, v in summary.items() if k != "seconds"} == {
            k: v for k, v in built_summary.items() if k != "seconds"
        }
        # and one after the other over one shared store: the second family takes the first's
        assert publication.build_family(Context(con, settings, shared), family)[0].equals(alone)
