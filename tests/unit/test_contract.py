"""The machine-readable contract says exactly what the exchange-format page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from data_contracts import load_contract, normalise_header

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "exchange-format.md"


def spec_tables() -> dict[str, dict]:
    """{table: {"alias": ..., "columns": {name: (alias, type, required, codes)}}} from the page."""
    text = SPEC.read_text(encoding="utf-8")
    tables: dict[str, dict] = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        head = re.match(r"(\w+) — alias `(\w+)`", block)
        if not head:
            continue
        cols: dict[str, tuple] = {}
        for line in block.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or cells[0] in ("column",) or set(cells[0]) <= {"-"}:
                continue
            names, alias, typ, notes = cells
            for raw in names.split(","):
                name = raw.strip()
                if not name:
                    continue
                required = name.endswith("*")
                codes = tuple(re.findall(r"`([a-z0-9_]+)`", notes)) if typ == "code" else ()
                cols[name.rstrip("*")] = (alias, typ, required, codes)
        tables[head.group(1)] = {"alias": head.group(2), "columns": cols}
    return tables


def test_spec_page_is_parsed():
    tables = spec_tables()
    assert set(tables) == {
        "cases",
        "goals",
        "referrals",
        "contacts",
        "barriers",
        "staffing",
        "relapses",
    }
    assert tables["cases"]["columns"]["program"][3] == ("kim", "jmd", "mbe", "pcve", "sonstiges")


@pytest.mark.parametrize("table", sorted(spec_tables()))
def test_table_columns_aliases_types_and_required_match_the_page(table):
    spec = spec_tables()[table]
    ours = load_contract().tables[table]
    assert ours.alias == spec["alias"]
    assert ours.column_names == list(spec["columns"])
    for name, (alias, typ, required, codes) in spec["columns"].items():
        col = ours.column(name)
        assert col.required == required, name
        if typ:  # shared key rows (provider_id*, case_id*) leave alias and type empty
            assert col.type == typ, name
        if alias:
            assert col.alias == alias, name
        if codes:
            assert tuple(load_contract().codes[col.codes].values) == codes, name


def test_every_code_has_a_german_label():
    for code_list in load_contract().codes.values():
        assert code_list.label
        for code, label in code_list.values.items():
            assert code == code.lower() and code.isascii()
            assert label.strip(), code


def test_identifier_headers_named_on_the_page_are_caught():
    text = re.sub(r"\s+", " ", SPEC.read_text(encoding="utf-8"))
    listed = re.search(r"header names one \((.*?), and the English equivalents", text).group(1)
    names = [n.strip() for n in listed.split(",")]
    assert "name" in names and "ausweisnummer" in names
    spellings = re.search(r"compounds and separators such as (.*?)\) or a value", text).group(1)
    examples = re.findall(r"`([^`]+)`", spellings)
    assert "Klientenname" in examples and "Steuer-ID-Nr." in examples
    contract = load_contract()
    for name in names + examples:
        assert contract.is_identifier_header(name), name
    for english in (
        "last_name",
        "First Name",
        "date_of_birth",
        "E-Mail",
        "Telefonnummer",
        "street_address",
        "IBAN",
        "phone",
    ):
        assert contract.is_identifier_header(english), english


def test_no_contract_header_is_mistaken_for_an_identifier():
    contract = load_contract()
    for table in contract.tables.values():
        for col in table.columns:
            assert not contract.is_identifier_header(col.name), col.name
            assert not contract.is_identifier_header(col.alias), col.alias


def test_headers_match_regardless_of_case_blanks_and_umlauts():
    lookup = load_contract().tables["cases"].header_lookup
    assert lookup[normalise_header(" Fall_ID ")] == "case_id"
    assert lookup[normalise_header("INTENSITÄT")] == "intensity"
    assert lookup[normalise_header("Regionalschlüssel")] == "region_code"
