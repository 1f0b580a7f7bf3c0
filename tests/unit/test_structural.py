"""Structural faults quarantine the whole delivery; everything readable is read."""

from __future__ import annotations

import json
import zipfile

from kernel.warehouse import connect
from pipelines.ingest.load import inspect_delivery
from tests.fixtures import messy

CASES = (
    "provider_id,case_id,program,region_code,caseworker_id,opened_on,intensity\n"
    "p1,K1,kim,05315,FK1,2025-01-01,information\n"
)


def inspect(tmp_path, files: dict[str, str | bytes], name: str = "lieferung"):
    d = tmp_path / name
    d.mkdir(parents=True)
    for fname, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (d / fname).write_bytes(data)
    return inspect_delivery(connect(), d, tmp_path / "work")


def reasons(insp) -> list[str]:
    return [f.reason for f in insp.quarantine]


def test_missing_required_column(tmp_path):
    insp = inspect(
        tmp_path, {"cases.csv": CASES.replace(",intensity", "").replace(",information", "")}
    )
    assert reasons(insp) == ["Pflichtspalte ‚intensitaet‘ / ‚intensity‘ fehlt"]


def test_rows_of_two_providers(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES + "p2,K2,kim,05315,FK1,2025-01-01,information\n"})
    assert reasons(insp) == [
        "Zeilen mehrerer Träger in einer Lieferung (2 verschiedene provider_id)"
    ]


def test_a_second_provider_only_in_a_child_table(tmp_path):
    contacts = "provider_id,case_id,contact_on,step\np2,K1,2025-02-01,beratung\n"
    insp = inspect(tmp_path, {"cases.csv": CASES, "contacts.csv": contacts})
    assert reasons(insp) == [
        "Zeilen mehrerer Träger in einer Lieferung (2 verschiedene provider_id)"
    ]


def test_provider_padded_with_unicode_spaces_is_one_provider(tmp_path):
    # SQL's trim strips U+00A0 and U+3000 as the row rules do: the same provider, loaded
    padded = CASES + "\u00a0p1\u3000,K2,kim,05315,FK1,2025-01-01,information\n"
    insp = inspect(tmp_path, {"cases.csv": padded})
    assert reasons(insp) == []
    assert insp.provider_id == "p1"
    assert insp.counts["cases"].loaded == 2


def test_manifest_naming_another_provider(tmp_path):
    manifest = json.dumps({"provider_id": "p9", "exported_on": "2026-10-01"})
    insp = inspect(tmp_path, {"cases.csv": CASES, "manifest.json": manifest})
    assert reasons(insp) == ["provider_id der Zeilen weicht von manifest.json ab"]


def test_unsupported_contract_version(tmp_path):
    manifest = json.dumps({"provider_id": "p1", "contract_version": 2})
    insp = inspect(tmp_path, {"cases.csv": CASES, "manifest.json": manifest})
    assert reasons(insp) == ["manifest.json: Vertragsversion 2 wird nicht unterstützt (erwartet 1)"]


def test_unknown_table_file_with_data(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES, "statistik.csv": "a,b\n1,2\n"})
    assert insp.quarantine[0].file_name == "statistik.csv"
    assert "unbekannte Tabelle" in insp.quarantine[0].reason


def test_other_files_are_ignored_and_said(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES, "liesmich.txt": "Export vom Montag"})
    assert not insp.quarantine
    assert "ignoriert: liesmich.txt (keine Tabellendatei)" in insp.notes


def test_same_table_twice(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES, "faelle.csv": CASES})
    assert any("mehrfach" in r for r in reasons(insp))


def test_unterminated_quote_names_file_and_line(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES + 'p1,"K2,kim,05315,FK1,2025-01-01,information\n'})
    (fault,) = insp.quarantine
    assert fault.file_name == "cases.csv" and fault.line == 3
    assert "Anführungszeichen" in fault.reason


def test_broken_zip(tmp_path):
    p = tmp_path / "kaputt.zip"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    insp = inspect_delivery(connect(), p, tmp_path / "work")
    assert reasons(insp) == ["ZIP-Archiv ist beschädigt oder kein ZIP"]


def test_zip_with_escaping_paths_is_refused(tmp_path):
    p = tmp_path / "boese.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("../../cases.csv", CASES)
    insp = inspect_delivery(connect(), p, tmp_path / "work")
    assert reasons(insp) == ["ZIP enthält unzulässige Pfade"]
    assert not (tmp_path.parent / "cases.csv").exists()


def test_unnamed_column_with_values(tmp_path):
    insp = inspect(
        tmp_path,
        {
            "cases.csv": CASES.replace("intensity\n", "intensity,\n").replace(
                "information\n", "information,geheim\n"
            )
        },
    )
    assert reasons(insp) == ["Spalte ohne Überschrift enthält Werte"]


def test_empty_delivery(tmp_path):
    insp = inspect(tmp_path, {"liesmich.txt": "leer"})
    assert reasons(insp) == ["Lieferung enthält keine Tabelle des Austauschformats (CSV oder XLSX)"]


def test_only_invalid_rows_is_quarantined_not_superseding(tmp_path):
    insp = inspect(tmp_path, {"cases.csv": CASES.replace("2025-01-01", "gestern")})
    assert reasons(insp) == ["keine einzige gültige Zeile in der Lieferung"]


def test_a_single_csv_file_is_a_delivery(tmp_path):
    p = tmp_path / "p1_faelle.csv"
    p.write_text(CASES)
    insp = inspect_delivery(connect(), p, tmp_path / "work")
    assert not insp.quarantine and insp.counts["cases"].loaded == 1


def test_xlsx_dates_numbers_and_x_booleans(tmp_path):
    path = messy.jmd_dortmund_xlsx(tmp_path)
    con = connect()
    insp = inspect_delivery(con, path, tmp_path / "work")
    assert not insp.quarantine and insp.rows_rejected == 0
    assert con.execute(
        "SELECT case_id, region_code, opened_on::VARCHAR, closed_on::VARCHAR"
        " FROM checked_cases ORDER BY 1"
    ).fetchall() == [
        ("J-1", "05913", "2025-03-01", None),
        ("J-2", "05913", "2025-05-02", "2025-08-31"),
    ]
    assert con.execute(
        "SELECT goal_id, offer_available FROM checked_goals ORDER BY 1"
    ).fetchall() == [("Z1", True), ("Z2", False)]
    assert con.execute("SELECT fte FROM checked_staffing").fetchall() == [(0.8,)]


def test_cp1252_delivery_with_german_headers(tmp_path):
    path = messy.kim_koeln_old(tmp_path)
    con = connect()
    insp = inspect_delivery(con, path, tmp_path / "work")
    assert not insp.quarantine
    assert insp.counts["cases"].received == 3  # the empty and the separators-only line ignored
    note = con.execute("SELECT note FROM checked_barriers WHERE case_id = 'K-001'").fetchone()[0]
    assert note == "Therapieplatz: „mindestens 9 Monate“ Wartezeit; Kosten 30 €\r\nzweite Zeile"
    assert con.execute("SELECT sum(fte) FROM checked_staffing").fetchone()[0] == 1.25


def test_a_time_limit_in_the_gate_is_reported_as_such_inside_a_transaction(tmp_path, monkeypatch):
    # as above for the identifier gate: its values table is dropped after it, and that drop
    # fails in the aborted transaction; the reason must still be the time limit
    import contextlib

    import duckdb

    from pipelines.ingest import load

    def interrupted(con, *args):
        with contextlib.suppress(duckdb.Error):
            con.execute("SELECT error('abgebrochen')")
        raise duckdb.InterruptException("interrupted")

    monkeypatch.setattr(load, "scan_identifiers", interrupted)
    d = tmp_path / "lieferung"
    d.mkdir()
    (d / "cases.csv").write_text(CASES)
    con = connect()
    con.execute("BEGIN TRANSACTION")
    insp = load.inspect_delivery(con, d, tmp_path / "work")
    assert reasons(insp) == ["nicht lesbar: Zeitgrenze für Lesen und Prüfen überschritten"]
