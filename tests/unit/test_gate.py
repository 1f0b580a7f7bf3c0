"""The identifier gate: direct identifiers in headers or values quarantine a delivery."""

from __future__ import annotations

import pytest

from data_contracts import load_contract
from kernel.warehouse import connect
from pipelines.ingest.gate import scan_identifiers
from pipelines.ingest.reader import parse_delivery

CASES_HEAD = "provider_id;case_id;person_key;program;region_code;caseworker_id;opened_on;intensity"


def parse(tmp_path, files: dict[str, str]):
    d = tmp_path / "lieferung"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    con = connect()
    parsed = parse_delivery(con, d, load_contract(), tmp_path / "work")
    return parsed, scan_identifiers(con, parsed, load_contract())


def barrier_delivery(note: str) -> dict[str, str]:
    return {
        "cases.csv": CASES_HEAD + "\np1;K1;3fa9c0e1b2d4a7f6;kim;05315;FK1;2025-01-01;information\n",
        "barriers.csv": "provider_id;case_id;noted_on;barrier_code;note\n"
        f"p1;K1;2025-01-05;sonstiges;{note}\n",
    }


@pytest.mark.parametrize(
    "note, label",
    [
        ("Kontakt über maria.k@web.de aufgenommen", "E-Mail-Adresse"),
        ("Rückruf unter 0221 1234567 erbeten", "Telefonnummer"),
        ("Rückruf unter +49 170 1234567", "Telefonnummer"),
        ("Überweisung an DE89 3704 0044 0532 0130 00", "IBAN"),
        ("Klient geb. 12.03.1987 in Aleppo", "Geburtsdatum"),
        ("wohnt jetzt Bahnhofstraße 12a", "Anschrift (Straße mit Hausnummer)"),
        # look-alikes, folded before matching (contract.FOLD_FROM): full-width, ligature
        ("Rückruf unter ０２２１ １２３４５６７ erbeten", "Telefonnummer"),
        ("Kontakt über ＭＡＲＩＡ．Ｋ＠ＷＥＢ．ＤＥ aufgenommen", "E-Mail-Adresse"),
        ("Kontakt über maria.k@ﬁrmenmail.de", "E-Mail-Adresse"),
    ],
)
def test_identifier_values_in_a_note_are_found_by_line_and_never_repeated(tmp_path, note, label):
    _, faults = parse(tmp_path, barrier_delivery(note))
    assert any(f.reason.startswith(f"{label} in Spalte ‚note‘") for f in faults)
    for f in faults:  # an IBAN's digit groups also look like a phone number: both are reported
        assert f.line == 2 and f.file_name == "barriers.csv" and f.column_name == "note"
        for token in note.split():
            if any(ch.isdigit() for ch in token) or "@" in token:
                assert token not in f.reason


@pytest.mark.parametrize(
    "note",
    [
        "Wartezeit 9 Monate, Termin am 12.03.2026 um 14:30 Uhr",
        "Kosten 0,5 Stunden; Fall 0815 besprochen; 3 von 10 Plätzen",
        "Kitaplatz ab 01.08.2026 zugesagt, Aktenlage unklar",
        "Sprachkurs B1 (Modul 4) – 120 € Eigenanteil",
        "Jobcenter Köln 50667 verweist an Sozialamt",
    ],
)
def test_ordinary_notes_pass_the_gate(tmp_path, note):
    _, faults = parse(tmp_path, barrier_delivery(note))
    assert faults == []


def test_hashed_keys_are_not_mistaken_for_phone_numbers_or_ibans(tmp_path):
    rows = "\n".join(
        f"p1;F-{i:08x};0{i:015d};kim;05315;FK-0{i};2025-01-01;information" for i in range(1, 30)
    )
    parsed, faults = parse(tmp_path, {"cases.csv": CASES_HEAD + "\n" + rows + "\n"})
    assert parsed.tables["cases"].rows_received == 29
    assert faults == []


def test_e_mail_in_any_column_is_found(tmp_path):
    text = CASES_HEAD + "\np1;K1;someone@example.org;kim;05315;FK1;2025-01-01;information\n"
    _, faults = parse(tmp_path, {"cases.csv": text})
    assert [f.column_name for f in faults] == ["person_key"]


def test_unknown_extra_columns_are_scanned_too(tmp_path):
    text = (
        CASES_HEAD + ";bemerkung\np1;K1;;kim;05315;FK1;2025-01-01;information;Tel. 0171 2345678\n"
    )
    parsed, faults = parse(tmp_path, {"cases.csv": text})
    assert [f.column_name for f in faults] == ["bemerkung"]
    assert any("unbekannte Spalten nicht geladen: bemerkung" in n for n in parsed.notes)


@pytest.mark.parametrize(
    "header",
    [
        "Nachname",
        "Vorname",
        "Geburtsdatum",
        "E-Mail",
        "PLZ",
        "Telefon",
        "Anschrift",
        "last_name",
        "IBAN",
        "Aktenzeichen",
    ],
)
def test_identifier_header_is_a_structural_fault_at_line_1(tmp_path, header):
    text = CASES_HEAD + f";{header}\np1;K1;;kim;05315;FK1;2025-01-01;information;egal\n"
    parsed, _ = parse(tmp_path, {"cases.csv": text})
    assert len(parsed.faults) == 1
    fault = parsed.faults[0]
    # the column is named by its position: a header is never quoted back
    assert fault.line == 1 and fault.column_name == "Spalte 9"
    assert "direkten Identifikator" in fault.reason and "egal" not in fault.reason
