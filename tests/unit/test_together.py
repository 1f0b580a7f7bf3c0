"""Deliveries checked together (pipelines.ingest.together) are judged exactly as each alone:
the same quarantine, counts, rejected rows with their reasons, and checked rows — over every
delivery of the hostile corpus and over runs made to tempt a shared statement into mixing
deliveries up (the same key in two deliveries, a child whose case is in the other delivery,
other headers, ticks instead of true/false)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from data_contracts import load_contract
from pipelines.ingest import together
from pipelines.ingest.load import REJECTIONS_TMP, TABLE_ORDER, Inspection, inspect_delivery
from tests.hostile.corpus import CASES, cases_csv, csv_text, folder, provider_of
from tests.hostile.test_corpus import limits

GOALS_HEAD = "provider_id,case_id,goal_id,domain,set_on,due_on,status,status_on,offer_available"


def _judged(con, insp: Inspection) -> tuple:
    """Everything the recording reads of an inspected delivery."""
    rejections = sorted(
        map(repr, con.execute(f"SELECT * FROM {REJECTIONS_TMP}").fetchall()),
    )
    checked = {
        name: sorted(map(repr, con.execute(f"SELECT * FROM checked_{name}").fetchall()))
        for name in TABLE_ORDER
        if name in insp.parsed.tables and not insp.quarantine
    }
    counts = {n: (c.received, c.loaded, c.rejected) for n, c in insp.counts.items()}
    return [f.reason for f in insp.quarantine], counts, rejections, checked, insp.notes


def _alone(paths: list[Path], work: Path) -> list[tuple]:
    con = duckdb.connect()
    out = []
    for k, path in enumerate(paths):
        insp = inspect_delivery(con, path, work / f"alone{k}", limits=limits())
        out.append(_judged(con, insp))
    return out


def _together(paths: list[Path], work: Path) -> tuple[list[tuple], int]:
    """As a reader does: read and gate each, set the joinable ones aside, check them in one
    statement per table, then take each one's part in turn."""
    con = duckdb.connect()
    contract = load_contract()
    insps: list[Inspection] = []
    parts: list[int | None] = []
    joined: list[Inspection] = []
    for k, path in enumerate(paths):
        insp = inspect_delivery(con, path, work / f"together{k}", limits=limits(), rules=False)
        if together.may_join(insp):
            together.set_aside(con, insp, len(joined))
            parts.append(len(joined))
            joined.append(insp)
        else:
            parts.append(None)
        insps.append(insp)
    together.check_together(con, joined, contract)
    out = []
    for insp, part in zip(insps, parts, strict=True):
        if part is None:  # quarantined by the gate: recorded as it is
            assert insp.quarantine, "a delivery the reader would read alone at its turn"
            con.execute(f"DELETE FROM {REJECTIONS_TMP}")
        else:
            together.take_part(con, insp, part)
            # read where they were judged: the joint table, not a copy per delivery
            assert {
                r[0]
                for r in con.execute(
                    "SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'checked_%'"
                ).fetchall()
            } >= {f"checked_{name}" for name in insp.parsed.tables}
        out.append(_judged(con, insp))
    together.drop_together(con, joined)
    return out, len(joined)


def _runs(paths: list[Path], size: int = 4) -> list[list[Path]]:
    return [paths[i : i + size] for i in range(0, len(paths), size)]


def test_every_corpus_delivery_is_judged_together_as_alone(tmp_path):
    inbox = tmp_path / "inbox"
    cases = [c for c in CASES if c.level == "delivery"]
    paths = [c.build(inbox, provider_of(c)) for c in cases]
    joined = 0
    for n, run in enumerate(_runs(paths)):
        got, j = _together(run, tmp_path / f"t{n}")
        joined += j
        assert got == _alone(run, tmp_path / f"a{n}"), [p.name for p in run]
    # the corpus is mostly deliveries the gate quarantines; 27 of 114 reach the row rules
    assert joined >= 25


def _goals(pid: str, rows: list[tuple[str, str]]) -> str:
    return csv_text(
        GOALS_HEAD,
        [
            [pid, case, goal, "sprache", "2025-02-01", "2025-06-01", "teilweise", "", "true"]
            for case, goal in rows
        ],
    )


@pytest.fixture
def tempting(tmp_path) -> list[Path]:
    """Two deliveries of one provider with the same keys (goal K1/Z1 on line 3 of the first,
    on lines 2 and 4 of the second), the second with a goal of a case only the first has; a
    third with German headers and ticks."""
    inbox = tmp_path / "inbox"
    first = folder(
        inbox,
        "a_erste",
        {
            "cases.csv": cases_csv("pa", n=3),
            "goals.csv": _goals("pa", [("K2", "Z2"), ("K1", "Z1")]),
        },
    )
    second = folder(
        inbox,
        "b_zweite",
        {
            "cases.csv": cases_csv("pa", n=1),
            "goals.csv": _goals("pa", [("K1", "Z1"), ("K3", "Z2"), ("K1", "Z1")]),
        },
    )
    german = _goals("pb", [("K1", "Z1"), ("K9", "Z2")])
    header, *rest = german.splitlines()
    german_head = header.replace("provider_id", "traeger_id").replace("case_id", "fall_id")
    ticks = "\n".join([german_head, *(r.replace(",true", ",x") for r in rest)]) + "\n"
    third = folder(inbox, "c_dritte", {"cases.csv": cases_csv("pb", n=1), "goals.csv": ticks})
    return [first, second, third]


def test_a_run_made_to_mix_deliveries_up_is_judged_as_alone(tmp_path, tempting):
    got, joined = _together(tempting, tmp_path / "t")
    alone = _alone(tempting, tmp_path / "a")
    assert joined == 3
    assert got == alone
    # the run's point: the first delivery's K1/Z1 is no duplicate of the second's earlier
    # line; the second's goal of case K3 (only in the first delivery) and its second K1/Z1 are
    # rejected there
    assert got[0][1]["goals"] == (2, 2, 0)
    _, counts, rejections, _, _ = got[1]
    assert counts["goals"] == (3, 1, 2)
    assert sum("Fall existiert in dieser Lieferung nicht" in r for r in rejections) == 1
    assert sum("doppelter Schlüssel" in r for r in rejections) == 1
