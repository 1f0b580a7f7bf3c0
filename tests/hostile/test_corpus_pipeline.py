"""The whole hostile corpus through the pipeline in one run (Dagster, in-process): each
delivery ends as the contract says, the run goes on, every delivery reconciles, and no planted
identifier appears in any byte, name or table of the workspace outside quarantine/ — the
warehouse and its published copy read with SQL, the Dagster instance's SQLite databases, and
everything the run printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kernel.settings import load_settings
from kernel.warehouse import connect
from pipelines.ingest.landing import scan_inbox
from pipelines.runner import run_pipeline
from tests.hostile import leaks
from tests.hostile.corpus import (
    CASES,
    OUTSIDE_SECRET,
    SETTINGS,
    build_all,
    cases_csv,
    folder,
    provider_of,
    staffing_csv,
)

pytestmark = pytest.mark.slow

STAGES = [
    "pipelines.defs.ingest",
    "pipelines.defs.marts",
    "pipelines.defs.themes",
    "pipelines.defs.publish",
]


@pytest.fixture
def stages(monkeypatch):
    """The ingest stage only: the scenarios below are about what is loaded."""
    from pipelines import defs

    monkeypatch.setattr(defs, "STAGE_MODULES", ["pipelines.defs.ingest"])


def workspace(root: Path) -> Path:
    ws = root / "ws"
    ws.mkdir(parents=True)
    (ws / "lagebild.yaml").write_text(yaml.safe_dump({**SETTINGS, "lock_wait_seconds": 5}))
    return ws


def query(ws: Path, sql: str, params=None):
    con = connect(ws / "lagebild.duckdb", read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    from pipelines import defs

    saved = list(defs.STAGE_MODULES)
    defs.STAGE_MODULES[:] = STAGES
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "inbox"
    build_all(inbox)
    ws = workspace(root)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            outcome = run_pipeline(load_settings(ws, inbox))
    finally:
        defs.STAGE_MODULES[:] = saved
    ids = {c.delivery_id: c.raw_name for c in scan_inbox(inbox, SETTINGS["max_unpacked_bytes"])}
    yield inbox, ws, outcome, out.getvalue() + err.getvalue(), ids


def case_of(raw_name: str):
    for c in CASES:
        pid = provider_of(c)
        if raw_name == pid or raw_name.startswith((pid + ".", pid + "_")):
            return c
    raise AssertionError(raw_name)


def test_the_run_completes_and_every_delivery_ends_as_the_contract_says(corpus_run):
    _inbox, ws, outcome, _printed, ids = corpus_run
    assert outcome.success, outcome.failures
    rows = query(
        ws,
        "SELECT delivery_id, status, message, rows_received, rows_loaded, rows_rejected FROM audit.deliveries",
    )
    assert len(rows) == len(CASES)
    reasons = {
        did: [
            r[0]
            for r in query(ws, "SELECT reason FROM audit.rejections WHERE delivery_id = ?", [did])
        ]
        for did, *_ in rows
    }
    wrong = []
    for did, status, message, received, loaded, rejected in rows:
        case = case_of(ids[did])
        assert received == loaded + rejected, case.id
        expected = case.status
        if status != expected:
            wrong.append((case.id, status, message))
        elif case.reason and not any(case.reason in t for t in [message, *reasons[did]]):
            wrong.append((case.id, "reason", message))
        elif case.rows and expected != "quarantined":
            assert (received, loaded, rejected) == case.rows, case.id
    assert wrong == []


def test_reconciliation_holds_per_table(corpus_run):
    _, ws, *_ = corpus_run
    assert query(
        ws,
        "SELECT count(*) FROM audit.delivery_tables WHERE rows_received <> rows_loaded + rows_rejected",
    ) == [(0,)]
    assert query(ws, "SELECT count(*) FROM audit.landing WHERE NOT processed") == [(0,)]


def test_no_planted_identifier_outside_quarantine(corpus_run):
    _, ws, _, printed, _ = corpus_run
    needles = sorted({v for c in CASES for v in c.planted})
    assert leaks.everywhere(ws, needles) == []
    for n in needles:
        assert n.lower() not in printed.lower(), n


def test_a_symlinked_file_is_neither_loaded_nor_copied(corpus_run):
    _, ws, *_ = corpus_run
    assert OUTSIDE_SECRET.encode() not in b"".join(
        p.read_bytes() for p in ws.rglob("*") if p.is_file() and not p.is_symlink()
    )
    assert not [p for p in ws.rglob("*") if p.is_symlink()]


def test_quarantine_holds_every_quarantined_delivery_with_its_reasons(corpus_run):
    _, ws, *_ = corpus_run
    for (did,) in query(
        ws, "SELECT delivery_id FROM audit.deliveries WHERE status = 'quarantined'"
    ):
        assert (ws / "quarantine" / did / "GRUND.txt").exists()
        assert not (ws / "landing" / did).exists()
    assert not (ws / ".work").exists() or not any((ws / ".work").iterdir())


def test_published_copy_and_marts_hold_the_accepted_providers_only(corpus_run):
    _, ws, *_ = corpus_run
    accepted = {
        r[0]
        for r in query(
            ws, "SELECT provider_id FROM audit.deliveries WHERE status IN ('accepted', 'partial')"
        )
    }
    staged = {r[0] for r in query(ws, "SELECT DISTINCT provider_id FROM staging.cases")}
    assert staged <= accepted
    assert (ws / "published" / "lagebild.duckdb").exists()


def test_a_poisoned_delivery_then_a_valid_one_in_a_later_run(tmp_path, stages):
    """The poisoned delivery is quarantined and blocks nothing: the next run loads the valid
    one of the same provider."""
    from tests.hostile.corpus import by_id

    inbox, ws = tmp_path / "inbox", workspace(tmp_path)
    for cid in ("xlsx-value-in-last-cell", "columns-100000", "zip-deflate64", "inbox-fifo"):
        by_id(cid).build(inbox, f"p1-{cid}")
    first = run_pipeline(load_settings(ws, inbox))
    assert first.success, first.failures
    assert {r[0] for r in query(ws, "SELECT status FROM audit.deliveries")} == {"quarantined"}
    folder(inbox, "p1-gut", {"cases.csv": cases_csv("p1", 3), "staffing.csv": staffing_csv("p1")})
    second = run_pipeline(load_settings(ws, inbox))
    assert second.success, second.failures
    assert query(ws, "SELECT status FROM audit.deliveries WHERE source_name = 'p1-gut'") == [
        ("accepted",)
    ]
    assert query(ws, "SELECT count(*) FROM staging.cases WHERE provider_id = 'p1'") == [(3,)]


def test_an_export_date_in_2999_does_not_supersede_later_real_deliveries(tmp_path, stages):
    inbox, ws = tmp_path / "inbox", workspace(tmp_path)
    d = folder(inbox, "q-alt", {"cases.csv": cases_csv("q", 1)})
    (d / "manifest.json").write_text(json.dumps({"provider_id": "q", "exported_on": "2999-01-01"}))
    old = (Path(d) / "cases.csv").stat().st_mtime - 86400 * 10
    for p in (d, d / "cases.csv", d / "manifest.json"):
        os.utime(p, (old, old))
    assert run_pipeline(load_settings(ws, inbox)).success
    status, message, snapshot = query(
        ws, "SELECT status, message, snapshot_on::VARCHAR FROM audit.deliveries"
    )[0]
    assert status == "accepted" and "nach dem Eingang" in message and snapshot < "2999"
    folder(inbox, "q-neu", {"cases.csv": cases_csv("q", 4)})
    assert run_pipeline(load_settings(ws, inbox)).success
    got = dict(query(ws, "SELECT source_name, status FROM audit.deliveries"))
    assert got == {"q-alt": "superseded", "q-neu": "accepted"}
    assert query(ws, "SELECT count(*) FROM staging.cases") == [(4,)]
