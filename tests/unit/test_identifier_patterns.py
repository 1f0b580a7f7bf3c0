"""The identifier patterns of the contract: German practice is caught, look-alikes pass, and
DuckDB (RE2, the gate) and Python (re: names, GX suites) agree on every example."""

from __future__ import annotations

import pytest

from data_contracts import load_contract
from kernel.warehouse import connect

POSITIVES = {
    "E-Mail-Adresse": [
        "max.muster@example.org",
        "Kontakt: erika.muster(at)beispiel.de",
        "kontakt [at] traeger-west [dot] de",
        "jürgen.müller@straße.de",
        "a.b(ät)web.de",
        "info {at} beratung.nrw",
        "Mail an m.yilmaz@beispiel-mail.de bitte",
        "M.MUSTER@EXAMPLE.ORG",
    ],
    "Telefonnummer": [
        "0221 98765432",
        "+49 170 1234567",
        "+49 (0) 221 98765432",
        "+49(0)221/9876543",
        "0221/98765432",
        "0221 / 987 654 32",
        "0170-123 45 67",
        "(0221) 987654",
        "0049 221 98765432",
        "+4917012345678",
        "+1 (555) 123-4567",
        "Tel. 0171 2345678",
        "0221-98765432",
        "0170.1234567",
        "+43 1 234567",
        "Handy 01761234567",
        "004917012345678",
    ],
    "IBAN": [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "de12 3456 7890 1234 5678 90",
        "AT61 1904 3002 3457 3201",
        "GB29NWBK60161331926819",
        "NL91ABNA0417164300",
        "TR330006100519786457841326",
        "DE89-3704-0044-0532-0130-00",
        "Konto: CH93 0076 2011 6238 5295 7",
    ],
    "Geburtsdatum": [
        "Klient geb. 12.03.1987 in Aleppo",
        "geboren am 12. März 1987",
        "Geburtstag: 3.4.1990",
        "Geb.-Datum 1987-03-12",
        "(* 12.03.1987)",
        "geb.12.03.87",
        "Geburtsdatum 12/03/1987",
        "DOB 1987-03-12",
        "geb. am 1.1.2001",
    ],
    "Anschrift (Straße mit Hausnummer)": [
        "wohnt jetzt Bahnhofstraße 12a",
        "Kölner Straße 12, 50667 Köln",
        "Hauptstr. 5",
        "Hauptstr.5",
        "Müllerstraße 5-7",
        "Am Alten Markt 3",
        "Königsallee 12 in Düsseldorf",
        "Bahnhofstr. 12 b",
        "Gerhart-Hauptmann-Ring 5.",
        "Lange Straße 3",
        "Friedensplatz 1",
    ],
}

LOOKALIKES = [
    "a3f09c1e77b2",
    "0a3f09c1e77b",
    "0917263548a1",
    "3fa9c0e1b2d4a7f6",
    "0000000000000001",
    "F-2024-0012",
    "F-2024-0012-01",
    "F-0a3f09c1",
    "K-001",
    "FK-0123",
    "p-aaaa",
    "Z1",
    "V12",
    "de1234567890abcd",
    "be12345678",
    "05315",
    "05315000",
    "0,5",
    "0.5",
    "1.200,00 €",
    "2026-10-15",
    "15.10.2026",
    "01.08.2026",
    "psychotherapie",
    "kita_platz",
    "case_management",
    "ziel_erreicht",
    "Wartezeit 9 Monate, Termin am 12.03.2026 um 14:30 Uhr",
    "Kosten 0,5 Stunden; Fall 0815 besprochen; 3 von 10 Plätzen",
    "Kitaplatz ab 01.08.2026 zugesagt, Aktenlage unklar",
    "Sprachkurs B1 (Modul 4) – 120 € Eigenanteil",
    "Jobcenter Köln 50667 verweist an Sozialamt",
    "Therapieplatz 3 Monate gewartet",
    "auf Platz 3 der Warteliste",
    "Ausbildungsplatz 2026 in Aussicht",
    "Seit 5 Monaten auf der Warteliste für einen Therapieplatz, Stand 10/2026",
    "Kind (2) und Sohn (3)",
    "Termin 14.03. um 10 Uhr",
    "geb. 1987",
    "abgegeben am 12.03.2026",
    "Termin im Jobcenter am 12.03.2026 um 9 Uhr, Raum 0815",
    "Fallkonferenz 2/2026",
    "Frist bis 31.12.2026",
    "seit 2019 in Deutschland",
    "Hilfeplan vom 02.05.2025",
    "Linie 705 fährt nur 2x täglich",
    "Deutschlandticket 49 €",
    "www.service.nrw.de",
    "Aktenzeichen liegt dem Jobcenter vor",
    "Straße und Hausnummer wurden nicht erfasst",
]


def test_every_positive_is_found_with_its_label():
    contract = load_contract()
    for label, examples in POSITIVES.items():
        for text in examples:
            assert label in contract.identifier_labels(text), (label, text)


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_pass(text):
    assert load_contract().identifier_labels(text) == [], text


def test_duckdb_and_python_agree():
    contract = load_contract()
    con = connect()
    texts = [t for examples in POSITIVES.values() for t in examples] + LOOKALIKES
    for pattern in contract.identifier_values:
        got = con.execute(
            "SELECT t, regexp_matches(lower(t), ?) FROM unnest(?) AS u(t)",
            [pattern.regex, texts],
        ).fetchall()
        import re

        py = re.compile(pattern.regex)
        for text, hit in got:
            assert hit == bool(py.search(text.lower())), (pattern.name, text)
    for key in (False, True):
        regex = contract.identifier_regex(key=key)
        got = dict(
            con.execute(
                "SELECT t, regexp_matches(lower(t), ?) FROM unnest(?) AS u(t)", [regex, texts]
            ).fetchall()
        )
        for text in texts:
            assert got[text] == bool(contract.identifier_labels(text, key=key)), text


def test_keys_are_checked_with_the_formatted_patterns_only():
    """A numeric pseudonym may be all digits: in a key column only a number written as a phone
    number counts (the compact form is caught in text)."""
    contract = load_contract()
    assert contract.identifier_labels("01761234567", key=True) == []
    assert contract.identifier_labels("01761234567") == ["Telefonnummer"]
    assert contract.identifier_labels("0176-1234567", key=True) == ["Telefonnummer"]
    assert contract.identifier_labels("DE89370400440532013000", key=True) == ["IBAN"]


def test_the_key_pattern():
    import re

    key = re.compile(load_contract().patterns["key"]["regex"])
    for ok in ["K1", "F-2024-0012", "a3f09c1e77b2", "fk.12_3", "0" * 64]:
        assert key.search(ok), ok
    for bad in ["", "<script>", "=SUM(A1)", "[Z1]", "(1)", ".K", "-K", "a" * 65, "K 1", "Kö"]:
        assert not key.search(bad), bad


def test_generated_demo_notes_pass_the_gate(tmp_path):
    """The false-positive rate on the demo generator's notes (6,000 cases, 8 providers) is 0."""
    import pandas as pd

    from generator import generate_inbox

    generate_inbox(tmp_path, cases=6000, providers=8, seed=7, with_faults=False, plain=True)
    notes = pd.concat(
        pd.read_csv(f, sep=None, engine="python", dtype=str)["note"]
        for f in tmp_path.rglob("*.csv")
        if f.name in ("huerden.csv", "barriers.csv")
    ).dropna()
    assert len(notes) > 1000
    contract = load_contract()
    hits = [n for n in notes if contract.identifier_labels(n)]
    assert hits == []
