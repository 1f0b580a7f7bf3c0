"""The contract suites in their own process (pipelines.suite_worker): a whole run validates
there, the outcomes are the ones the run's own process computes, nothing of the data comes
back, and a worker that cannot answer leaves the run to validate itself."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from data_contracts import load_contract
from kernel.warehouse import writer
from pipelines import suite_worker
from tests.integration.test_ingest_pipeline import cases_delivery, check_metadata, run

pytestmark = pytest.mark.slow

NAMES = list(load_contract().tables)


@pytest.fixture
def ingest_only(monkeypatch):
    from pipelines import defs as stages

    monkeypatch.setattr(stages, "STAGE_MODULES", ["pipelines.defs.ingest"])


@pytest.fixture
def broken_warehouse(tmp_path, ingest_only) -> Path:
    """A loaded warehouse with rows against the contract planted in staging afterwards: an
    unknown programme and an e-mail address as a person key."""
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
    run(inbox, ws)
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        con.execute("UPDATE staging.cases SET program = 'unbekannt' WHERE case_id = 'K2'")
        con.execute("UPDATE staging.cases SET person_key = 'x@example.org' WHERE case_id = 'K3'")
    return ws / "lagebild.duckdb"


def without_seconds(outcomes: dict) -> dict:
    return {n: {k: v for k, v in o.items() if k != "seconds"} for n, o in outcomes.items()}


def children_running_the_worker() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            if "pipelines.suite_worker" in command and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_whole_run_validates_in_the_worker_and_leaves_no_process(tmp_path, ingest_only):
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
    outcome = run(inbox, ws)
    for name in NAMES:
        meta = check_metadata(ws, outcome.run_id, f"contract_{name}")
        assert meta["passed"] and meta["validated_in"] == "eigener Prüfprozess", name
    assert check_metadata(ws, outcome.run_id, "contract_cases")["rows"] == 3
    assert children_running_the_worker() == []


def test_the_worker_finds_what_the_run_itself_finds_and_returns_no_value(broken_warehouse):
    here = suite_worker.validate_tables(broken_warehouse, NAMES, "true", [])
    suite_worker.start()
    there, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "eigener Prüfprozess"
    assert without_seconds(there) == without_seconds(here)
    assert not there["cases"]["passed"] and there["cases"]["rows"] == 3
    failed = {f["expectation"] for f in there["cases"]["failed"]}
    assert {"expect_column_values_to_be_in_set", "expect_column_values_to_match_regex"} <= failed
    assert all(there[n]["passed"] for n in NAMES if n != "cases")
    answer = json.dumps(there)
    assert "example.org" not in answer and "unbekannt" not in answer
    assert children_running_the_worker() == []


def test_a_worker_that_died_leaves_the_run_to_validate_itself(broken_warehouse):
    suite_worker.start()
    suite_worker._worker.proc.kill()
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess"
    here = suite_worker.validate_tables(broken_warehouse, NAMES, "true", [])
    assert without_seconds(outcomes) == without_seconds(here)


def test_a_worker_that_fails_leaves_the_run_to_validate_itself(broken_warehouse, tmp_path):
    """The worker cannot read the file it is sent to (here: no warehouse there); the run's
    own process then validates the one it has."""
    suite_worker.start()
    worker = suite_worker._worker
    outcome = worker.ask(
        {
            "db_path": str(tmp_path / "nichts" / "lagebild.duckdb"),
            "names": NAMES,
            "condition": "true",
            "params": [],
            "duckdb_config": {},
        }
    )
    assert outcome is None
    worker.stop()
    suite_worker.start()
    suite_worker._worker.proc.stdin.close()  # a worker that can no longer be asked
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess" and not outcomes["cases"]["passed"]


def test_a_worker_never_asked_ends_with_the_run():
    suite_worker.start()
    proc = suite_worker._worker.proc
    suite_worker.stop()
    assert proc.poll() is not None
    assert suite_worker._worker is None
    assert children_running_the_worker() == []
