"""Deliveries of ONE provider that stopped or emptied the run for ALL providers (attack review
2026-12-06, findings A2-A5). A bad delivery never stops the run or later runs
(exchange-format.md, "Rejections, and nothing lost"); docs/decisions.md, „Lieferungen, die den
Lauf für alle anhielten“.

Unit level where the behaviour needs no run (gate, landing, ingest, marts); one scenario runs
the pipeline twice (ingest, marts, themes) with all four deliveries side by side."""

from __future__ import annotations

import datetime as dt
import json
import os
from datetime import date
from pathlib import Path

import pytest
import yaml

from data_contracts.schema import create_all
from kernel.settings import SettingsError, load_settings
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.ingest import batch
from pipelines.ingest.landing import land
from pipelines.ingest.load import inspect_delivery
from tests.marts_helpers import build, case, insert

HEAD = "provider_id,case_id,person_key,program,region_code,caseworker_id,opened_on,intensity\n"
STAFF = "provider_id,caseworker_id,program,region_code,valid_from,fte\n"
DOS_EPOCH = 315532800  # 1980-01-01 00:00 UTC: what many zip tools write, and unzip keeps


def case_line(pid: str, cid: str, opened: str = "2025-01-01") -> str:
    return f"{pid},{cid},a3f09c1e77b2,kim,05315,FK1,{opened},information\n"


def delivery(inbox: Path, name: str, files: dict[str, str], manifest: dict | None = None) -> Path:
    d = inbox / name
    d.mkdir(parents=True)
    for rel, text in files.items():
        (d / rel).write_text(text)
    if manifest is not None:
        (d / "manifest.json").write_text(json.dumps(manifest))
    return d


class Loop:
    """A workspace with an inbox: `run` lands and ingests (no Dagster, as tests/unit/test_holds)."""

    def __init__(self, root: Path):
        self.inbox = root / "inbox"
        self.inbox.mkdir(parents=True)
        self.ws = Workspace(root / "ws")
        for d in (self.ws.root, self.ws.landing_dir, self.ws.quarantine_dir):
            d.mkdir(parents=True)
        self.con = connect(self.ws.db_path)
        create_all(self.con)

    def run(self) -> dict[str, str]:
        land(self.con, self.ws, self.inbox)
        return {r.source_name: r.status for r in batch.ingest_pending(self.con, self.ws, "t")}

    def q(self, sql: str, *params):
        return self.con.execute(sql, list(params)).fetchall()


@pytest.fixture
def loop(tmp_path):
    lp = Loop(tmp_path)
    yield lp
    lp.con.close()


# --- A2: exported_on 0001-01-01 became the cut-off; the themes then failed every run -------


def test_an_export_date_before_1950_is_not_trusted_and_says_so(tmp_path, staging_con):
    d = delivery(
        tmp_path / "inbox",
        "p-alt",
        {"cases.csv": HEAD + case_line("p-alt", "K1")},
        {"provider_id": "p-alt", "exported_on": "0001-01-01"},
    )
    insp = inspect_delivery(staging_con, d, tmp_path / "work", received_on=date(2026, 12, 6))
    assert not insp.quarantine and insp.rows_loaded == 1
    assert not insp.exported_on_trusted and insp.exported_on is None
    (note,) = [n for n in insp.notes if "Exportdatum" in n]
    assert "nicht plausibel" in note and "06.12.2026" in note and "manifest.json" in note


def test_a_recorded_snapshot_date_before_1950_never_becomes_the_cut_off(staging_con):
    """A workspace that recorded such a delivery before the fix: the next run recovers."""
    for did, snapshot in (("a", date(1, 1, 1)), ("b", date(2026, 10, 15))):
        staging_con.execute(
            "INSERT INTO audit.deliveries VALUES (?, ?, 'x', 's', TIMESTAMP '2026-11-20 10:00',"
            " TIMESTAMP '2026-11-20 10:00', ?, ?, 'csv', ['cases'], ['cases'], 'accepted',"
            " 1, 1, 0, '', 'r')",
            [did, f"p-{did}", snapshot, snapshot],
        )
    assert batch.resolve_data_basis(staging_con, None) == date(2026, 10, 15)


# --- A5: a file time of 1980-01-01 became the receipt, the snapshot and the cut-off ---------


def test_a_file_time_is_the_receipt_only_between_the_last_landing_and_now():
    from pipelines.ingest.landing import received

    now, floor = dt.datetime(2026, 12, 6, 12), dt.datetime(2026, 12, 1, 8)
    assert received(dt.datetime(2026, 12, 3, 9), floor, now) == dt.datetime(2026, 12, 3, 9)
    assert received(dt.datetime(1980, 1, 1), floor, now) == floor  # held, keeping the order
    assert received(dt.datetime(2026, 11, 30), floor, now) == floor
    assert received(dt.datetime(2027, 1, 1), floor, now) == now


def test_an_old_file_time_does_not_move_the_receipt_or_the_cut_off(loop):
    old = loop.inbox / "p-alt_faelle.csv"
    old.write_text(HEAD + case_line("p-alt", "K1"))
    os.utime(old, (DOS_EPOCH, DOS_EPOCH))
    recent = delivery(loop.inbox, "p-neu", {"cases.csv": HEAD + case_line("p-neu", "K1")})
    two_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).timestamp()
    for p in (recent, recent / "cases.csv"):
        os.utime(p, (two_days_ago, two_days_ago))
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert loop.run() == {"p-alt_faelle.csv": "accepted", "p-neu": "accepted"}
    got = dict(loop.q("SELECT source_name, received_at FROM audit.landing"))
    assert got["p-alt_faelle.csv"].year > 2024  # held at the window, not 1980
    assert got["p-alt_faelle.csv"] < before
    assert abs(got["p-neu"].timestamp() - two_days_ago) < 0.01  # a plausible file time is kept
    as_of = batch.resolve_data_basis(loop.con, None)
    assert as_of == (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).date()
    # a later run: a file time before the previous landing is not when it was received either
    late = delivery(loop.inbox, "p-spaet", {"cases.csv": HEAD + case_line("p-spaet", "K1")})
    for p in (late, late / "cases.csv"):
        os.utime(p, (two_days_ago, two_days_ago))
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert loop.run() == {"p-spaet": "accepted"}
    (row,) = loop.q("SELECT received_at FROM audit.landing WHERE source_name = 'p-spaet'")
    (last,) = loop.q("SELECT max(landed_at) FROM audit.landing WHERE source_name <> 'p-spaet'")
    assert row[0] == last[0] < before  # held at the previous landing
    assert batch.resolve_data_basis(loop.con, None) == as_of


def test_an_office_taking_over_an_archive_widens_the_first_receipt_window(loop):
    """Setting `first_receipt_days`: a new workspace takes a file time two years back as the
    receipt (and the cut-off) when the window reaches it; by default it is held at the edge."""
    two_years_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=730)
    d = delivery(loop.inbox, "p-archiv", {"cases.csv": HEAD + case_line("p-archiv", "K1")})
    for p in (d, d / "cases.csv"):
        os.utime(p, (two_years_ago.timestamp(), two_years_ago.timestamp()))
    land(loop.con, loop.ws, loop.inbox, first_receipt_days=800)
    batch.ingest_pending(loop.con, loop.ws, "t")
    (got,) = loop.q("SELECT received_at FROM audit.landing")[0]
    assert abs(got.timestamp() - two_years_ago.timestamp()) < 0.01
    assert batch.resolve_data_basis(loop.con, None, first_receipt_days=800) == (
        two_years_ago.date()
    )
    # the same delivery under the default window: held at its edge, the cut-off its landing
    assert batch.resolve_data_basis(loop.con, None) == dt.datetime.now(dt.UTC).date()


def test_the_first_receipt_window_is_a_checked_setting(tmp_path):
    (tmp_path / "lagebild.yaml").write_text("first_receipt_days: 1000\n")
    assert load_settings(tmp_path).first_receipt_days == 1000
    (tmp_path / "lagebild.yaml").write_text("first_receipt_days: -5\n")
    with pytest.raises(SettingsError, match="first_receipt_days"):
        load_settings(tmp_path)


def test_a_providers_two_exports_keep_their_order_whatever_their_file_times(loop):
    """An older export whose file time lies before the window is held at its edge, not taken
    as received now: it must not replace the newer export landed with it (review of
    2026-12-06: the newer 5 cases were replaced by the older 3)."""
    now = dt.datetime.now(dt.UTC)
    for name, cases, days in (("P1_export_alt", 3, 400), ("P1_export_neu", 5, 30)):
        d = delivery(
            loop.inbox,
            name,
            {"cases.csv": HEAD + "".join(case_line("P1", f"K{i}") for i in range(1, cases + 1))},
        )
        when = (now - dt.timedelta(days=days)).timestamp()
        for p in (d, d / "cases.csv"):
            os.utime(p, (when, when))
    loop.run()
    status = "SELECT source_name, status FROM audit.deliveries WHERE source_name LIKE ?"
    assert dict(loop.q(status, "P1_export%")) == {
        "P1_export_alt": "superseded",
        "P1_export_neu": "accepted",
    }
    assert loop.q("SELECT count(*) FROM staging.cases WHERE provider_id = 'P1'") == [(5,)]
    # in a later run, an export whose file time lies before the last landing comes first too
    for name, cases, ago in (("P1_b_alt", 2, dt.timedelta(days=3)), ("P1_b_neu", 4, None)):
        d = delivery(
            loop.inbox,
            name,
            {"cases.csv": HEAD + "".join(case_line("P1", f"B{i}") for i in range(1, cases + 1))},
        )
        if ago is not None:
            when = (now - ago).timestamp()
            for p in (d, d / "cases.csv"):
                os.utime(p, (when, when))
    loop.run()
    assert dict(loop.q(status, "P1_b%")) == {"P1_b_alt": "superseded", "P1_b_neu": "accepted"}
    assert loop.q("SELECT count(*) FROM staging.cases WHERE provider_id = 'P1'") == [(4,)]


# --- A3: a contact before the case's opening failed the mart check for every provider -------


def test_a_contact_before_the_opening_passes_the_mart_checks(staging_con):
    insert(staging_con, "cases", [case("p1", "K1", "2025-03-01"), case("p1", "K2", "2025-02-01")])
    insert(
        staging_con,
        "contacts",
        [
            {"provider_id": "p1", "case_id": "K1", "contact_on": "2025-01-15", "step": "screening"},
            {"provider_id": "p1", "case_id": "K2", "contact_on": "2025-04-01", "step": "screening"},
        ],
    )
    insert(
        staging_con,
        "staffing",
        [
            {
                "provider_id": "p1",
                "caseworker_id": "w1",
                "program": "kim",
                "region_code": "05111",
                "valid_from": "2024-01-01",
                "fte": 1.0,
            }
        ],
    )
    build(staging_con, date(2026, 10, 15))  # asserts that every mart check passes
    got = staging_con.execute(
        "SELECT case_id, contacts, last_contact_on::VARCHAR FROM mart.cases ORDER BY 1"
    ).fetchall()
    assert got == [("K1", 1, "2025-01-15"), ("K2", 1, "2025-04-01")]  # the contact is kept


# --- A4: a cases-only update without a case left its goals orphaned: the run failed ---------


def p_upd(inbox: Path, name: str, cases: list[str], goals: bool, exported_on: str) -> None:
    files = {"cases.csv": HEAD + "".join(case_line("p-upd", c) for c in cases)}
    if goals:
        files["goals.csv"] = (
            "provider_id,case_id,goal_id,domain,set_on,status,offer_available\n"
            "p-upd,K1,Z1,wohnen,2025-02-01,offen,ja\np-upd,K2,Z1,wohnen,2025-02-01,offen,nein\n"
        )
        files["staffing.csv"] = STAFF + "p-upd,FK1,kim,05315,2024-01-01,1\n"
    delivery(inbox, name, files, {"provider_id": "p-upd", "exported_on": exported_on})


def test_a_case_gone_from_a_cases_only_update_takes_its_goals_out_with_a_reason(loop):
    from pipelines.defs.ingest import _reconciliation, _references_and_keys

    p_upd(loop.inbox, "p-upd_1", ["K1", "K2"], goals=True, exported_on="2026-10-01")
    assert loop.run() == {"p-upd_1": "accepted"}
    p_upd(loop.inbox, "p-upd_2", ["K1"], goals=False, exported_on="2026-10-10")
    assert loop.run() == {"p-upd_2": "accepted"}
    assert loop.q("SELECT case_id FROM staging.goals") == [("K1",)]
    (status, loaded, rejected, message), *_ = loop.q(
        "SELECT status, rows_loaded, rows_rejected, message FROM audit.deliveries"
        " WHERE source_name = 'p-upd_1'"
    )
    assert (status, loaded, rejected) == ("partial", 4, 1)
    assert "1 Zeilen in goals nicht mehr geladen" in message and "p-upd_2" in message
    assert loop.q(
        "SELECT r.table_name, r.file_name, r.column_name, r.kind FROM audit.rejections r"
        " JOIN audit.deliveries d USING (delivery_id) WHERE d.source_name = 'p-upd_1'"
    ) == [("goals", "goals.csv", "case_id", "row")]
    (note,) = loop.q("SELECT message FROM audit.deliveries WHERE source_name = 'p-upd_2'")[0]
    assert "früherer Lieferungen nicht mehr geladen" in note
    loop.con.close()
    # the run's own staging checks pass: every goal has its case, every delivery reconciles
    passed, meta = _references_and_keys(loop.ws.db_path, "true", [], "alle Zeilen")
    assert passed, meta
    passed, meta = _reconciliation(loop.ws.db_path)
    assert passed, meta
    loop.con = connect(loop.ws.db_path)
    assert loop.run() == {}  # a third run changes nothing
    assert loop.q("SELECT count(*) FROM staging.goals") == [(1,)]


# --- all four at once, through the pipeline: every run completes with the good data ---------


@pytest.mark.slow
def test_the_four_deliveries_stop_no_run_and_empty_no_provider(tmp_path, monkeypatch):
    from pipelines import defs
    from pipelines.runner import run_pipeline

    stages = ["pipelines.defs.ingest", "pipelines.defs.marts", "pipelines.defs.themes"]
    monkeypatch.setattr(defs, "STAGE_MODULES", stages)
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text(yaml.safe_dump({"lock_wait_seconds": 5}))
    delivery(
        inbox,
        "p-gut",
        {
            "cases.csv": HEAD + "".join(case_line("p-gut", f"K{i}") for i in range(1, 6)),
            "staffing.csv": STAFF + "p-gut,FK1,kim,05315,2024-01-01,1\n",
        },
        {"provider_id": "p-gut", "exported_on": "2026-10-15"},
    )
    delivery(  # A2
        inbox,
        "p-alt",
        {"cases.csv": HEAD + case_line("p-alt", "K1")},
        {"provider_id": "p-alt", "exported_on": "0001-01-01"},
    )
    old = inbox / "p-datei_faelle.csv"  # A5
    old.write_text(HEAD + case_line("p-datei", "K1"))
    os.utime(old, (DOS_EPOCH, DOS_EPOCH))
    delivery(  # A3
        inbox,
        "p-kontakt",
        {
            "cases.csv": HEAD + case_line("p-kontakt", "K1", opened="2025-03-01"),
            "contacts.csv": "provider_id,case_id,contact_on,step\n"
            "p-kontakt,K1,2025-01-15,erstgespraech\n",
            "staffing.csv": STAFF + "p-kontakt,FK1,kim,05315,2024-01-01,1\n",
        },
    )
    p_upd(inbox, "p-upd_1", ["K1", "K2"], goals=True, exported_on="2026-10-01")  # A4, first
    first = run_pipeline(load_settings(ws, inbox))
    assert first.success, first.failures
    p_upd(inbox, "p-upd_2", ["K1"], goals=False, exported_on="2026-10-10")  # A4, update
    second = run_pipeline(load_settings(ws, inbox))
    assert second.success, second.failures
    con = connect(ws / "lagebild.duckdb", read_only=True)
    try:
        # the cut-off is the earliest plausible snapshot (p-upd_1's goals), never 0001 or 1980
        assert con.execute("SELECT as_of FROM meta.data_basis").fetchall() == [(date(2026, 10, 1),)]
        per_provider = dict(
            con.execute("SELECT provider_id, count(*) FROM mart.cases GROUP BY 1").fetchall()
        )
        assert per_provider == {"p-gut": 5, "p-alt": 1, "p-datei": 1, "p-kontakt": 1, "p-upd": 1}
        assert con.execute("SELECT provider_id, case_id FROM mart.goals").fetchall() == [
            ("p-upd", "K1")
        ]
    finally:
        con.close()


def test_an_export_date_before_the_deliverys_own_events_never_becomes_the_cut_off(loop):
    """A tool's default export date (1990-01-01) on cases opened in 2025: not trusted, the
    delivery is ordered by its receipt and the cut-off is not 1990 (review of 2026-12-06); an
    export date on or after the newest event stays the snapshot date."""
    delivery(
        loop.inbox,
        "p-default",
        {"cases.csv": HEAD + case_line("p-default", "K1", opened="2025-03-01")},
        manifest={"provider_id": "p-default", "exported_on": "1990-01-01"},
    )
    delivery(
        loop.inbox,
        "p-echt",
        {"cases.csv": HEAD + case_line("p-echt", "K1", opened="2025-03-01")},
        manifest={"provider_id": "p-echt", "exported_on": "2026-11-30"},
    )
    assert loop.run() == {"p-default": "accepted", "p-echt": "accepted"}
    got = dict(loop.q("SELECT source_name, snapshot_on::VARCHAR FROM audit.deliveries"))
    assert got["p-echt"] == "2026-11-30"
    assert got["p-default"] > "2026"
    (message,) = loop.q("SELECT message FROM audit.deliveries WHERE source_name = 'p-default'")[0]
    assert "vor dem jüngsten Datum der eigenen Zeilen (01.03.2025)" in message
    assert batch.resolve_data_basis(loop.con, None).year > 2025
