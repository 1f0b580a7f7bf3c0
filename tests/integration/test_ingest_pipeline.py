"""The ingest through Dagster on the issue's mixed inbox: outcomes, reconciliation,
idempotence, supersede rules, and no identifier outside quarantine/."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from kernel.settings import load_settings
from kernel.warehouse import connect
from pipelines.runner import run_pipeline
from tests.fixtures import messy

pytestmark = pytest.mark.slow


@pytest.fixture
def ingest_only(monkeypatch):
    """Materialise only the ingest stage (landing, staging and their checks)."""
    from pipelines import defs as stages

    monkeypatch.setattr(stages, "STAGE_MODULES", ["pipelines.defs.ingest"])


def run(inbox: Path, ws: Path, as_of=None):
    outcome = run_pipeline(load_settings(ws, inbox, as_of))
    assert outcome.success, outcome.failures
    return outcome


def query(ws: Path, sql: str):
    con = connect(ws / "lagebild.duckdb", read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One run over the mixed inbox, shared by the read-only tests below."""
    from pipelines import defs as stages

    saved = list(stages.STAGE_MODULES)
    stages.STAGE_MODULES[:] = ["pipelines.defs.ingest"]
    try:
        root = tmp_path_factory.mktemp("mixed")
        paths = messy.mixed_inbox(root / "inbox")
        messy.keep_file_times_as_receipts(root / "ws")
        outcome = run(root / "inbox", root / "ws")
        yield root / "inbox", root / "ws", paths, outcome
    finally:
        stages.STAGE_MODULES[:] = saved


def test_mixed_inbox_ends_with_the_audit_outcomes(mixed):
    _, ws, _, _ = mixed
    assert dict(query(ws, "SELECT source_name, status FROM audit.deliveries")) == {
        "kim-koeln_20260930": "superseded",
        "kim-koeln_20261015.zip": "accepted",
        "kim-koeln_20261015_nochmal.zip": "duplicate",
        "jmd-dortmund.xlsx": "accepted",
        "mbe-bielefeld_20261001": "quarantined",
        "pcve-west_20261012": "quarantined",
        "mbe-essen_20261014": "partial",
    }


def test_rows_received_equal_loaded_plus_rejected_per_table_and_delivery(mixed):
    _, ws, _, _ = mixed
    rows = query(
        ws,
        "SELECT d.source_name, t.table_name, t.rows_received, t.rows_loaded,"
        " t.rows_rejected FROM audit.delivery_tables t JOIN audit.deliveries d"
        " USING (delivery_id) ORDER BY 1, 2",
    )
    assert all(r == lo + rej for *_, r, lo, rej in rows)
    essen = {t: (r, lo, rej) for name, t, r, lo, rej in rows if name == "mbe-essen_20261014"}
    assert essen == {
        "cases": (8, 2, 6),
        "goals": (3, 1, 2),
        "contacts": (2, 1, 1),
        "staffing": (2, 1, 1),
    }
    assert query(
        ws,
        "SELECT count(*) FROM audit.deliveries WHERE rows_received <> rows_loaded + rows_rejected",
    ) == [(0,)]


def test_row_rejections_name_file_line_column_and_reason(mixed):
    _, ws, _, _ = mixed
    got = query(
        ws,
        "SELECT file_name, line, column_name, reason FROM audit.rejections r"
        " JOIN audit.deliveries d USING (delivery_id)"
        " WHERE d.source_name = 'mbe-essen_20261014' ORDER BY file_name, line",
    )
    assert [(f, line, c) for f, line, c, _ in got] == [
        ("faelle.csv", 3, "opened_on"),
        ("faelle.csv", 4, "program"),
        ("faelle.csv", 5, "closed_on"),
        ("faelle.csv", 6, "case_id"),
        ("faelle.csv", 7, "caseworker_id"),
        ("faelle.csv", 8, "close_reason"),
        ("kontakte.csv", 3, "step"),
        ("stellen.csv", 3, "fte"),
        ("ziele.csv", 3, "case_id"),
        ("ziele.csv", 4, "case_id"),
    ]
    assert got[0][3] == "ungültiges Datum in ‚beginn‘ (erwartet JJJJ-MM-TT oder TT.MM.JJJJ)"


def test_staging_holds_only_each_providers_current_valid_rows(mixed):
    _, ws, _, _ = mixed
    assert query(ws, "SELECT provider_id, count(*) FROM staging.cases GROUP BY 1 ORDER BY 1") == [
        ("jmd-dortmund", 2),
        ("kim-koeln", 4),
        ("mbe-essen", 2),
    ]
    assert query(
        ws, "SELECT region_code, opened_on::VARCHAR FROM staging.cases WHERE case_id = 'J-1'"
    ) == [("05913", "2025-03-01")]
    # the quarantined providers left nothing behind
    assert query(
        ws, "SELECT count(*) FROM staging.cases WHERE provider_id IN ('mbe-bielefeld', 'pcve-west')"
    ) == [(0,)]
    assert query(ws, "SELECT as_of::VARCHAR, as_of_source FROM meta.data_basis") == [
        ("2026-10-10", "lieferungen")
    ]


def test_quarantine_keeps_the_delivery_untouched_with_reasons(mixed):
    _, ws, paths, _ = mixed
    (did,) = query(
        ws, "SELECT delivery_id FROM audit.deliveries WHERE source_name = 'pcve-west_20261012'"
    )[0]
    q = ws / "quarantine" / did
    original = paths["pcve_email"]
    for f in original.iterdir():
        assert (q / original.name / f.name).read_bytes() == f.read_bytes()
    grund = (q / "GRUND.txt").read_text()
    assert "E-Mail-Adresse in Spalte ‚note‘" in grund and messy.EMAIL not in grund
    assert not (ws / "landing" / did).exists()


def test_landing_is_an_immutable_hashed_copy(mixed):
    _, ws, paths, _ = mixed
    (did, sha) = query(
        ws,
        "SELECT delivery_id, sha256 FROM audit.deliveries"
        " WHERE source_name = 'kim-koeln_20261015.zip'",
    )[0]
    landed = ws / "landing" / did / "kim-koeln_20261015.zip"
    assert landed.read_bytes() == paths["kim_new"].read_bytes()
    assert (ws / "landing" / did / "SHA256").read_text().split()[0] == sha
    assert not os.access(landed, os.W_OK) or os.geteuid() == 0  # root ignores modes
    assert landed.stat().st_mode & 0o222 == 0


def test_no_identifier_value_outside_quarantine(mixed):
    _, ws, _, _ = mixed
    needles = [messy.EMAIL.encode(), messy.PHONE.encode(), b"Mustermann"]
    for path in ws.rglob("*"):
        if path.is_file() and "quarantine" not in path.relative_to(ws).parts:
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"{needle!r} in {path}"


def table_state(ws: Path) -> dict:
    return {
        t: query(ws, f"SELECT * FROM {t} ORDER BY ALL")
        for t in (
            "audit.deliveries",
            "audit.rejections",
            "audit.delivery_tables",
            "staging.cases",
            "staging.goals",
            "staging.staffing",
            "meta.data_basis",
        )
    }


def test_second_run_over_the_same_inbox_changes_nothing(tmp_path, ingest_only):
    messy.mixed_inbox(tmp_path / "inbox")
    run(tmp_path / "inbox", tmp_path / "ws")
    before = table_state(tmp_path / "ws")
    before["meta.data_basis"] = [r[:4] for r in before["meta.data_basis"]]
    landing_before = sorted(p.name for p in (tmp_path / "ws" / "landing").iterdir())
    run(tmp_path / "inbox", tmp_path / "ws")
    after = table_state(tmp_path / "ws")
    after["meta.data_basis"] = [r[:4] for r in after["meta.data_basis"]]
    assert after == before
    assert sorted(p.name for p in (tmp_path / "ws" / "landing").iterdir()) == landing_before


def cases_delivery(
    inbox: Path,
    name: str,
    cases: list[str],
    provider="p1",
    exported_on: str | None = None,
    mtime: dt.datetime | None = None,
    staffing: bool = True,
) -> Path:
    d = inbox / name
    d.mkdir(parents=True)
    (d / "cases.csv").write_text(
        "provider_id,case_id,program,region_code,caseworker_id,opened_on,intensity\n"
        + "".join(f"{provider},{c},kim,05315,FK1,2025-01-01,information\n" for c in cases)
    )
    if staffing:
        (d / "staffing.csv").write_text(
            "provider_id,caseworker_id,program,region_code,valid_from,fte\n"
            f"{provider},FK1,kim,05315,2024-01-01,1\n"
        )
    if exported_on:
        (d / "manifest.json").write_text(
            f'{{"provider_id": "{provider}", "exported_on": "{exported_on}"}}'
        )
    if mtime:
        for p in [d, *d.iterdir()]:
            os.utime(p, (mtime.timestamp(), mtime.timestamp()))
    return d


def test_without_manifest_the_later_receipt_is_the_newer_snapshot(tmp_path, ingest_only):
    inbox = tmp_path / "inbox"
    # the alphabetically first delivery is the newer one: order must come from receipt time
    # file times are receipts only within the last year of a new workspace (landing.received)
    now = dt.datetime.now().replace(microsecond=0)
    cases_delivery(inbox, "a_neu", ["K1", "K2", "K3"], mtime=now - dt.timedelta(days=5))
    cases_delivery(inbox, "b_alt", ["K1"], mtime=now - dt.timedelta(days=40))
    run(inbox, tmp_path / "ws")
    assert dict(query(tmp_path / "ws", "SELECT source_name, status FROM audit.deliveries")) == {
        "a_neu": "accepted",
        "b_alt": "superseded",
    }
    assert query(tmp_path / "ws", "SELECT count(*) FROM staging.cases") == [(3,)]


def test_an_older_snapshot_arriving_later_is_held_on_arrival(tmp_path, ingest_only):
    """Import threshold `snapshot_older` (issue 13): held until koordination decides."""
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "neu", ["K1", "K2"], exported_on="2026-10-01")
    run(inbox, ws)
    cases_delivery(inbox, "alt", ["K1"], exported_on="2026-07-01")
    run(inbox, ws)
    status, message = query(
        ws, "SELECT status, message FROM audit.deliveries WHERE source_name = 'alt'"
    )[0]
    assert status == "held" and "ist älter als der aktuelle" in message
    assert query(ws, "SELECT count(*) FROM staging.cases") == [(2,)]


def test_a_delivery_replaces_only_the_tables_it_contains(tmp_path, ingest_only):
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "voll", ["K1", "K2"], exported_on="2026-09-01")
    staff = inbox / "nur_stellen"
    staff.mkdir()
    (staff / "stellen.csv").write_text(
        "traeger_id;fachkraft_id;programm;regionalschluessel;"
        "gueltig_ab;vzae\np1;FK2;kim;05315;01.09.2026;0,5\n"
    )
    (staff / "manifest.json").write_text('{"provider_id": "p1", "exported_on": "2026-10-01"}')
    run(inbox, ws)
    got = {
        r[0]: (r[1], r[2])
        for r in query(ws, "SELECT source_name, status, current_tables FROM audit.deliveries")
    }
    assert got == {"voll": ("accepted", ["cases"]), "nur_stellen": ("accepted", ["staffing"])}
    assert query(ws, "SELECT count(*) FROM staging.cases") == [(2,)]
    assert query(ws, "SELECT caseworker_id, fte FROM staging.staffing") == [("FK2", 0.5)]


def test_a_quarantined_newer_delivery_does_not_supersede(tmp_path, ingest_only):
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "gut", ["K1", "K2"], exported_on="2026-09-01")
    bad = cases_delivery(inbox, "mit_email", ["K1"], exported_on="2026-10-01")
    with open(bad / "cases.csv", "a") as fh:
        fh.write("p1,kontakt@example.org,kim,05315,FK1,2025-01-01,information\n")
    run(inbox, ws)
    assert dict(query(ws, "SELECT source_name, status FROM audit.deliveries")) == {
        "gut": "accepted",
        "mit_email": "quarantined",
    }
    assert query(ws, "SELECT count(*) FROM staging.cases") == [(2,)]


def test_as_of_argument_overrides_the_deliveries(tmp_path, ingest_only):
    cases_delivery(tmp_path / "inbox", "d", ["K1"], exported_on="2026-10-01")
    run(tmp_path / "inbox", tmp_path / "ws", as_of="2026-06-30")
    assert query(tmp_path / "ws", "SELECT as_of::VARCHAR, as_of_source FROM meta.data_basis") == [
        ("2026-06-30", "argument")
    ]


def test_removing_a_delivery_from_the_inbox_loses_nothing(tmp_path, ingest_only):
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    d = cases_delivery(inbox, "d", ["K1"], exported_on="2026-10-01")
    run(inbox, ws)
    shutil.rmtree(d)
    run(inbox, ws)
    assert query(ws, "SELECT count(*) FROM staging.cases") == [(1,)]
    assert query(ws, "SELECT count(*) FROM audit.deliveries") == [(1,)]


def check_metadata(ws: Path, run_id: str, check_name: str) -> dict:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(ws / ".dagster"))
    for rec in instance.all_logs(run_id):
        ev = rec.dagster_event
        if ev and ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.asset_check_evaluation_data
            if data.check_name == check_name:
                return {"passed": data.passed, **{k: v.value for k, v in data.metadata.items()}}
    raise AssertionError(f"no evaluation of {check_name} in run {run_id}")


def test_contract_suites_validate_what_a_run_loaded_and_everything_when_run_alone(
    tmp_path, ingest_only
):
    from kernel.warehouse import writer

    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
    first = run(inbox, ws)
    meta = check_metadata(ws, first.run_id, "contract_cases")
    assert meta["passed"] and meta["rows"] == 3
    assert meta["checked"] == "in diesem Lauf geladene Zeilen"

    cases_delivery(inbox, "d2", ["K1"], provider="p2", exported_on="2026-09-01")
    second = run(inbox, ws)
    assert check_metadata(ws, second.run_id, "contract_cases")["rows"] == 1

    # a row against the contract reaching staging by any other way: the check alone finds it
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        con.execute("UPDATE staging.cases SET program = 'unbekannt' WHERE case_id = 'K2'")
        con.execute("UPDATE staging.cases SET person_key = 'x@example.org' WHERE case_id = 'K3'")
    alone = run_pipeline(load_settings(ws, inbox), selection=dg_checks_only())
    meta = check_metadata(ws, alone.run_id, "contract_cases")
    assert not meta["passed"] and meta["rows"] == 4 and meta["checked"] == "alle Zeilen"
    # the suites run side by side (two tables at a time): each table still gets its own
    # evaluation, over its own rows, and a broken table does not fail the others
    from data_contracts import load_contract

    for name in load_contract().tables:
        if name != "cases":
            other = check_metadata(ws, alone.run_id, f"contract_{name}")
            rows = query(ws, f"SELECT count(*) FROM staging.{name}")[0][0]
            assert other["passed"] and other["rows"] == rows, name
    leak = check_metadata(ws, alone.run_id, "no_identifiers")
    assert not leak["passed"] and leak["checked"] == "alle Zeilen"
    assert check_metadata(ws, second.run_id, "no_identifiers")["passed"]
    assert not alone.success


def test_references_and_keys_check_the_providers_a_run_delivered_and_all_when_run_alone(
    tmp_path, ingest_only
):
    from kernel.warehouse import writer

    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "p1_1", ["K1", "K2"], exported_on="2026-09-01")
    cases_delivery(inbox, "p2_1", ["K1"], provider="p2", exported_on="2026-09-01")
    first = run(inbox, ws)
    meta = check_metadata(ws, first.run_id, "references_and_keys")
    assert meta["passed"] and meta["checked"] == "Träger mit Lieferungen in diesem Lauf"
    # goals of cases that do not exist, one per provider, reaching staging by another way
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        for provider in ("p1", "p2"):
            con.execute(
                "INSERT INTO staging.goals (provider_id, case_id, goal_id, delivery_id)"
                " VALUES (?, 'K9', 'Z1', 'von Hand')",
                [provider],
            )
    cases_delivery(inbox, "p1_2", ["K1", "K2"], exported_on="2026-09-02")  # p1 only
    second = run_pipeline(load_settings(ws, inbox))
    meta = check_metadata(ws, second.run_id, "references_and_keys")
    assert not meta["passed"] and meta["orphans"]["goals"] == 1  # p1's, not p2's
    alone = run_pipeline(load_settings(ws, inbox), selection=dg_checks_only())
    meta = check_metadata(ws, alone.run_id, "references_and_keys")
    assert not meta["passed"] and meta["orphans"]["goals"] == 2
    assert meta["checked"] == "alle Zeilen"


def dg_checks_only():
    import dagster as dg

    return dg.AssetSelection.checks_for_assets("staging")


def test_the_sql_checks_run_while_the_contract_suites_are_validated(
    tmp_path, ingest_only, monkeypatch
):
    """The run's process only waits for the suites' worker: the reconciliation, the keys and
    the identifier check run meanwhile (here the suites wait for them, so run after the suites
    they would time out), each with its own result as before."""
    import threading

    from pipelines import suite_worker
    from pipelines.defs import ingest

    done = {n: threading.Event() for n in ("reconciliation", "references_and_keys")}
    done["no_identifiers"] = threading.Event()
    for name, event in done.items():
        real = getattr(ingest, f"_{name}")

        def finished(*args, _real=real, _event=event):
            result = _real(*args)
            _event.set()
            return result

        monkeypatch.setattr(ingest, f"_{name}", finished)
    real_validate = suite_worker.validate
    waited = []

    def validate(*args):
        waited.append(all(e.wait(30) for e in done.values()))
        return real_validate(*args)

    monkeypatch.setattr(suite_worker, "validate", validate)
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1", "K2"], exported_on="2026-09-01")
    first = run(inbox, ws)
    assert waited == [True]
    for name in done:
        assert check_metadata(ws, first.run_id, name)["passed"], name
    assert check_metadata(ws, first.run_id, "contract_cases")["rows"] == 2


def test_a_check_run_alone_runs_only_itself(tmp_path, ingest_only, monkeypatch):
    import dagster as dg

    from pipelines import suite_worker

    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1"], exported_on="2026-09-01")
    run(inbox, ws)
    asked = []
    monkeypatch.setattr(suite_worker, "validate", lambda *a: asked.append(a) or ({}, ""))
    key = dg.AssetCheckKey(dg.AssetKey("staging"), "no_identifiers")
    alone = run_pipeline(load_settings(ws, inbox), selection=dg.AssetSelection.checks(key))
    assert alone.success and asked == []
    assert check_metadata(ws, alone.run_id, "no_identifiers")["checked"] == "alle Zeilen"
