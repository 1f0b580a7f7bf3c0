"""Identifiers in unusual spellings (attacker review 2026-12-06, docs/decisions.md "Kennungen in
ungewöhnlicher Schreibweise"): Unicode blanks and dashes, control characters, accented letters,
case folding that differs between DuckDB and Python, and abbreviated headers. DuckDB (RE2, the
gate and the staging check) and Python (re: the labels, names, headers, manifest) must agree on
every one of them, and an RE2 hit Python cannot name still quarantines the delivery."""

from __future__ import annotations

import re

import pytest

from data_contracts import load_contract
from data_contracts.contract import Contract, match_lower
from data_contracts.rules import match_text
from kernel.warehouse import connect

# (label, text): found by the gate and by Python
VARIANTS = [
    # look-alikes (contract.FOLD_FROM): full-width forms, mathematical digits, ligatures
    (
        "Telefonnummer",
        "Rückruf unter \uff10\uff12\uff12\uff11 \uff19\uff18\uff17\uff16\uff15\uff14\uff13\uff12",
    ),
    (
        "E-Mail-Adresse",
        "\uff2d\uff21\uff38\uff0e\uff2d\uff35\uff33\uff34\uff25\uff32\uff20\uff27\uff2d\uff38\uff0e\uff24\uff25",
    ),
    ("E-Mail-Adresse", "max.muster\uff20example.org"),  # full-width @ only
    (
        "Telefonnummer",
        "Tel \U0001d7ce\U0001d7d0\U0001d7d0\U0001d7cf \U0001d7d7\U0001d7d6\U0001d7d5\U0001d7d4\U0001d7d3\U0001d7d2\U0001d7d1\U0001d7d0",
    ),
    ("E-Mail-Adresse", "kontakt@\ufb01rma-beispiel.de"),  # ﬁ ligature
    (
        "IBAN",
        "Konto \uff24\uff25\uff18\uff19 \uff13\uff17\uff10\uff14 \uff10\uff10\uff14\uff14 \uff10\uff15\uff13\uff12 \uff10\uff11\uff13\uff10 \uff10\uff10",
    ),
    ("E-Mail-Adresse", "Mail: MEHMET.ALİ@GMX.DE"),  # Turkish capital İ before @
    ("E-Mail-Adresse", "Mail rené@web.de"),
    ("E-Mail-Adresse", "Mail rene\u0301@web.de"),  # decomposed é (macOS names are NFD)
    ("E-Mail-Adresse", "Mail max.muster @ example.org"),
    ("E-Mail-Adresse", "Mail max.muster\u00a0@\u00a0example.org"),
    ("E-Mail-Adresse", "Mail max.muster\x00@example.org"),  # NUL
    ("E-Mail-Adresse", "Mail max.muster\x1f@example.org"),  # other C0 control
    ("E-Mail-Adresse", "\u212aONTAKT@EXAMPLE.ORG"),  # Kelvin sign
    ("E-Mail-Adresse", "STRAẞE@EXAMPLE.ORG"),  # capital sharp s
    ("E-Mail-Adresse", "ΟΔΟΣ@EXAMPLE.ORG"),  # final sigma
    ("E-Mail-Adresse", "kontakt\u00a0(at)\u00a0beispiel\u00a0(dot)\u00a0de"),
    # blanks around @: a local part with . _ - or a digit, or a big mail provider's domain
    ("E-Mail-Adresse", "Mail max.muster @ example.co.uk"),
    ("E-Mail-Adresse", "Mail m_muster1 @beispiel.de"),
    ("E-Mail-Adresse", "Mail mustermann @ gmx.de"),
    ("E-Mail-Adresse", "Mail Mustermann\u00a0@\u00a0T-Online.de"),
    ("Telefonnummer", "Rückruf unter 0221\u00a098765432"),
    ("Telefonnummer", "Rückruf unter 0221\u202f98765432"),  # narrow NBSP
    ("Telefonnummer", "Tel. 0221 – 98765431"),  # en dash
    ("Telefonnummer", "Tel. 0221—98765431"),  # em dash
    ("Telefonnummer", "Tel. 0221\u201198765431"),  # non-breaking hyphen
    ("Telefonnummer", "Handy 0170\t2345678"),
    ("Telefonnummer", "Handy 0170\x002345678"),
    ("Telefonnummer", "Mobil: 0176.123.45.67"),
    ("Telefonnummer", "Mobil: 0176.12.34.567"),
    ("Telefonnummer", "+49\u00a0170\u00a01234567"),
    ("Telefonnummer", "+49 (0)\u00a0221 – 98765432"),
    ("Telefonnummer", "0049\u2009221\u200998765432"),
    ("Telefonnummer", "0170\u00a0123\u00a045\u00a067"),
    ("Telefonnummer", "Frau M 0221\u00a098765438"),
    ("Telefonnummer", "Mobil: 0176.1234.56.78"),
    ("Telefonnummer", "Tel. 03546\u00a07281"),  # 5-digit area code, 4-digit number
    ("Telefonnummer", "Tel. 0221\u00a09876\u00a05432"),
    ("IBAN", "Konto DE89 370400440532013000"),
    ("IBAN", "Konto DE89 37040044 0532013000"),
    ("IBAN", "Konto DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000"),
    ("IBAN", "Konto DE89–3704–0044–0532–0130–00"),
    ("IBAN", "Konto AT61 19043002345732 01"),
    ("Geburtsdatum", "geb.\u00a012.03.1987"),
    ("Geburtsdatum", "Geb.–Datum 1987-03-12"),
    ("Anschrift (Straße mit Hausnummer)", "wohnt Hauptstraße\u00a012"),
    ("Anschrift (Straße mit Hausnummer)", "wohnt Kölner\u00a0Straße\u00a012, 50667 Köln"),
    ("Anschrift (Straße mit Hausnummer)", "HAUPTSTRAẞE 12"),
    ("Anschrift (Straße mit Hausnummer)", "Müllerstraße 5–7"),
]

# ordinary notes that must stay free of identifiers, also with Unicode blanks and dashes
LOOKALIKES = [
    "Bericht \uff12\uff10\uff12\uff15 \uff31\uff13",  # full-width year and quarter
    "Gespr\u00e4ch \ufb01el aus",  # a ligature in a word
    "Termin am 01.02.2024 um 10.30 Uhr",
    "Termin 10.30 – 11.30 Uhr",
    "Zeitraum 01.02.2024 – 31.03.2024",
    "Zeitraum 01.02.2024\u00a0–\u00a031.03.2024",
    "Version 1.2.3 der Software, Stand 0.5.1",
    "Kosten 1.200,00\u00a0€, Eigenanteil 0,5",
    "Jobcenter\u00a050667\u00a0Köln verweist an Sozialamt",
    "PLZ-Bereich 04109\u00a0Leipzig",
    "Raum 0815, Termin 12.03.2026",
    "ab 01.08.2026\u00a0– bis 31.12.2026",
    "Seite 3\u00a0von\u00a010",
    "Café besucht, André kam mit",
    "Straße\u00a0und Hausnummer wurden nicht erfasst",
    "Therapieplatz\u00a03 Monate gewartet",
    "Wartezeit 9–12 Monate",
    "Linie 705\u00a0fährt nur 2x täglich",
    "Kita ab 08.2026, Kurs 2024–2025",
    "Sprachkurs B1 (Modul 4) – 120 € Eigenanteil",
    "10.30\t11.30\t12.30",
    "01.08.2026 07.30 Uhr",
    "IDs 0a3f09c1e77b\u00a00917263548a1",
    "ΟΔΟΣ",
    "İstanbul, Kelvin \u212a, STRAẞE, ｆｕｌｌｗｉｄｔｈ, ﬁnanziert",
    # false positives of the widening (review 2026-12-07): blanks around @ without an address
    "Treffen @ Jugendamt.Mutter kam mit",
    "Gespräch @ Schule.Danach Heimweg",
    "Termin @ JC.Klient pünktlich",
    "Erstgespräch @Schule.Nachgespräch",
    "Gruppe @ Kita.Sonnenschein",
    "Café @ Rathaus.De",
    # times and ranges with (en) dashes and blanks
    "Sprechzeit 0900–1200 Uhr",
    "Sprechzeit 0900-1200 Uhr",
    "Öffnungszeiten 0800 – 1600",
    "Termin 0930 – 1030",
    "Gruppe 0915–1045",
    "PLZ 01067–01099",
    # dot groups: case numbers, file references, dates
    "Fall 012.34.56 abgeschlossen",
    "Gz. 051.12.34",
    "Raum 0123.45.67",
    "030.12.2024",
    "0211.01.2024",
    # a region key followed by a year or a date (NBSP, tab-separated lines)
    "Region\u00a005315\u00a02024",
    "Region 05315 2024",
    "05315\t2025-01-01",
    "kim\t05315\t2024-01-01",
]

# decided to stay hits (review 2026-12-07): a public service number is no personal identifier,
# but the pattern cannot know which numbers are public; "*" + date and street + number + dash
# were hits with a plain space before the widening (1e5ccf0), the no-break space only spells
# them differently
STAYS_A_HIT = [
    ("Telefonnummer", "Nr. 0800 – 1110111 Telefonseelsorge"),
    ("Geburtsdatum", "*\u00a012.03.2024 Erstgespräch"),
    ("Geburtsdatum", "* 12.03.2024 Erstgespräch"),
    ("Anschrift (Straße mit Hausnummer)", "Marktplatz\u00a03 –"),
    ("Anschrift (Straße mit Hausnummer)", "Marktplatz 3 –"),
]

# tricky case folding and compatibility forms: RE2 and Python must give the same answer on all
FOLDING = [
    "MEHMET.ALİ@GMX.DE",
    "İ@x.de",
    "x@İ.de",
    "ALİ İSTANBUL",
    "STRAẞE 12",
    "STRASSE 12",
    "Straße 12",
    "\u212aONTAKT@EXAMPLE.ORG",
    "ｍａｘ＠ｅｘａｍｐｌｅ．ｏｒｇ",
    "ＭＡＸ@EXAMPLE.ORG",
    "０２２１ ９８７６５４３２",
    "ＤＥ89 3704 0044 0532 0130 00",
    "oﬃce@example.org",
    "ﬁle@example.org",
    "Hauptﬆraße 12",
    "ΟΔΟΣ@example.org",
    "ΣΑΣ 12",
    "ǅ@example.org",
    "ᾼ@example.org",
    "Ω@example.org",  # ohm sign
    "Å@example.org",  # angstrom sign
    "rene\u0301@web.de",
    "geb.\u00a012.03.1987",
    "\u0130\u0307@x.de",
]


def _duckdb(con, regex: str, texts: list[str]) -> dict[str, bool]:
    """What the gate and the staging check do: regexp_matches(match_text(v), regex)."""
    return dict(
        con.execute(
            f"SELECT t, regexp_matches({match_text('t')}, ?) FROM unnest(?) AS u(t)",
            [regex, texts],
        ).fetchall()
    )


def test_python_lowers_every_character_as_duckdb_does():
    """... and folds the look-alikes alike (match_lower in Python, match_text in SQL)."""
    con = connect()
    chars = [chr(c) for c in range(1, 0x20000) if not 0xD800 <= c <= 0xDFFF]
    got = con.execute(f"SELECT c, {match_text('c')} FROM unnest(?) AS u(c)", [chars]).fetchall()
    assert [(c, low) for c, low in got if low != match_lower(c)] == []
    words = ["MEHMET.ALİ", "ΟΔΟΣ", "ΣΑΣ Σ", "ΌΣΟΣ.", "İİ", "STRAẞE", "\u212aELVIN", "ǅǄǆ"]
    got = con.execute(f"SELECT w, {match_text('w')} FROM unnest(?) AS u(w)", [words]).fetchall()
    assert [(w, low) for w, low in got if low != match_lower(w)] == []


@pytest.mark.parametrize("label,text", VARIANTS, ids=[repr(t) for _, t in VARIANTS])
def test_unusual_spellings_are_found(label, text):
    assert label in load_contract().identifier_labels(text), text


@pytest.mark.parametrize("text", LOOKALIKES)
def test_ordinary_notes_with_unicode_blanks_and_dashes_pass(text):
    assert load_contract().identifier_labels(text) == [], text


@pytest.mark.parametrize("label,text", STAYS_A_HIT, ids=[repr(t) for _, t in STAYS_A_HIT])
def test_decided_hits_stay_hits_with_any_blank(label, text):
    assert load_contract().identifier_labels(text) == [label], text


def test_names_with_unicode_blanks_are_caught():
    """Delivery, file and sheet names go through the same patterns (find_identifier)."""
    contract = load_contract()
    assert contract.find_identifier("Frau M 0221\u00a098765438", name=True) == "Telefonnummer"
    assert contract.find_identifier("Rückfragen 0221\u00a098765439") == "Telefonnummer"
    assert contract.find_identifier("export_max.muster\x00@example.org", name=True)


def test_duckdb_and_python_agree_on_unusual_spellings_and_case_folding():
    contract = load_contract()
    con = connect()
    texts = [t for _, t in VARIANTS] + LOOKALIKES + FOLDING + [t for _, t in STAYS_A_HIT]
    for pattern in contract.identifier_values:
        py = re.compile(pattern.regex)
        for text, hit in _duckdb(con, pattern.regex, texts).items():
            assert hit == bool(py.search(match_lower(text))), (pattern.name, text)
    for key in (False, True):
        got = _duckdb(con, contract.identifier_regex(key=key), texts)
        for text in texts:
            assert got[text] == bool(contract.identifier_labels(text, key=key)), (key, text)


@pytest.mark.parametrize(
    "header",
    [
        "Sozialvers.-Nr.",
        "Rentenvers.-Nr.",
        "RV-Nummer",
        "RV-Nr.",
        "St.-IdNr.",
        "IdNr",
        "Steuerident-Nr.",
        "Aktenz.",
        "Nachn.",
        "Vorn.",
        "Kto.-Nr.",
        "Kto-Nummer",
        "KV-Nr",
        "KV-Nummer",
        "ID card no",
        "Rufnr.",
        "Versicherungsnr",
        "Versichertennr.",
        "File number",
        "Case number",
        "Mobilfunknummer",
        "Ruf-Nr.",
        "Rufnr. Klient",
        "Mobilfunk-Nr.",
        "Kto.",
        "RV-Nr",
        "Aktenz.-Nr.",
        "ID card number",
        "Case no.",
    ],
)
def test_abbreviated_identifier_headers_are_caught(header):
    assert load_contract().identifier_header_kind(header), header


@pytest.mark.parametrize(
    "header",
    [
        "Servicenummer",
        "Serv.-Nr.",
        "Kursnummer",
        "Raumnr",
        "Versicherungsart",
        "Teilnehmerzahl",
        "Nachnutzung",
        "Bemerkung",
        "Fall-ID",
        "Vorheriger Fall",
        # false positives of the abbreviations (review 2026-12-07)
        "Beruf-Nr.",
        "BerufNr",
        "Aufruf-Nr.",
        "Mobilfunkvertrag",
        "Mobilfunk vorhanden",
        "Aktenzugang",
        "Aktenzustand",
        "Aktenz_vorhanden",
        "Sozialversorgung",
        "sozialvers_pflichtig",
        "Rentenvers_Status",
        "KV-Nr-Typ",
        "Kto_vorhanden",
        "KTO_Art",
        "Valid card",
        "profile_number",
        "Case number type",
    ],
)
def test_ordinary_headers_are_not_identifiers(header):
    assert load_contract().identifier_header_kind(header) is None, header


def test_contract_columns_and_aliases_stay_allowed():
    contract = load_contract()
    for table in contract.tables.values():
        for col in table.columns:
            assert contract.identifier_header_kind(col.name) is None, col.name
            assert contract.identifier_header_kind(col.alias) is None, col.alias


def _note_delivery(root, note: str):
    from tests.hostile.corpus import with_note

    return with_note(note)(root / "inbox", "p-variant")


def test_gate_names_the_turkish_i_email(tmp_path):
    """A1: RE2 flagged the value, Python found no label, the delivery was accepted and the
    staging check failed the whole run."""
    from pipelines.ingest.load import inspect_delivery

    path = _note_delivery(tmp_path, "Mail: MEHMET.ALİ@GMX.DE")
    insp = inspect_delivery(connect(), path, tmp_path / "work")
    reasons = [f.reason for f in insp.quarantine]
    assert any("E-Mail-Adresse" in r for r in reasons), reasons
    assert not any("gmx" in r.lower() for r in reasons)


def test_an_re2_hit_python_cannot_name_still_quarantines(tmp_path, monkeypatch):
    """Defence: should Python ever disagree with RE2 again, the hit is not dropped."""
    from pipelines.ingest.load import inspect_delivery

    path = _note_delivery(tmp_path, "Mail max.muster@example.org")
    monkeypatch.setattr(Contract, "identifier_labels", lambda self, *a, **k: [])
    insp = inspect_delivery(connect(), path, tmp_path / "work")
    reasons = [f.reason for f in insp.quarantine]
    assert any("Möglicher Identifikator" in r for r in reasons), reasons
    assert not any("example" in r for r in reasons)
