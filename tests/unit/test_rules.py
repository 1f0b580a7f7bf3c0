"""Row rules generated from the contract: typing and one German reason per broken rule."""

from __future__ import annotations

import datetime as dt

import pytest

from data_contracts import load_contract
from data_contracts.rules import checked_sql, reference_sql
from kernel.warehouse import connect

CASE_COLS = load_contract().tables["cases"].column_names


def check(table: str, rows: list[dict], marks=frozenset()):
    """Run the rules of `table` over hand-made raw rows; returns {line: (typed row, reasons)}."""
    t = load_contract().tables[table]
    con = connect()
    cols = ", ".join(f"{c} VARCHAR" for c in t.column_names)
    con.execute(f"CREATE TABLE raw (__line INTEGER, {cols})")
    for i, row in enumerate(rows, start=2):
        con.execute(
            f"INSERT INTO raw (__line, {', '.join(row)}) VALUES (?{', ?' * len(row)})",
            [i, *row.values()],
        )
    out = con.execute(
        f"SELECT * EXCLUDE (faults), list_transform(faults, lambda f: f.reason)"
        f" FROM ({checked_sql(t, 'raw', bool_mark_columns=marks)}) ORDER BY __line"
    ).fetchall()
    names = ["__line", *t.column_names]
    return {r[0]: (dict(zip(names, r[:-1], strict=True)), r[-1]) for r in out}


def case(**over) -> dict:
    base = dict(
        provider_id="p1",
        case_id="K1",
        program="kim",
        region_code="05315",
        caseworker_id="FK1",
        opened_on="2025-01-02",
        intensity="case_management",
    )
    return {**base, **over}


def test_valid_row_is_typed_both_date_formats_and_codes_lowercased():
    res = check(
        "cases",
        [
            case(),
            case(
                case_id="K2",
                opened_on="03.02.2025",
                program=" KIM ",
                closed_on="28.02.2025",
                close_reason="ziel_erreicht",
            ),
        ],
    )
    (r1, f1), (r2, f2) = res[2], res[3]
    assert f1 == [] and f2 == []
    assert r1["opened_on"] == dt.date(2025, 1, 2)
    assert r2["opened_on"] == dt.date(2025, 2, 3) and r2["closed_on"] == dt.date(2025, 2, 28)
    assert r2["program"] == "kim"


@pytest.mark.parametrize(
    "override, reason",
    [
        (
            {"opened_on": "31.02.2024"},
            "ungültiges Datum in ‚beginn‘ (erwartet JJJJ-MM-TT oder TT.MM.JJJJ)",
        ),
        ({"opened_on": "01.01.0024"}, "unplausibles Datum in ‚beginn‘ (Jahr außerhalb 1950–2100)"),
        (
            {"program": "kimm"},
            "unbekannter Code in ‚programm‘ (erlaubt: kim, jmd, mbe, pcve, sonstiges)",
        ),
        ({"closed_on": "2025-01-01", "close_reason": "ziel_erreicht"}, "‚ende‘ liegt vor ‚beginn‘"),
        ({"closed_on": "2025-03-01"}, "‚abschlussgrund‘ fehlt, obwohl ‚ende‘ gesetzt ist"),
        ({"caseworker_id": "  "}, "Pflichtwert ‚fachkraft_id‘ fehlt"),
        (
            {"region_code": "531"},
            "‚regionalschluessel‘: 5-stelliger Kreisschlüssel oder 8-stelliger Gemeindeschlüssel (AGS) erwartet",
        ),
    ],
)
def test_each_case_rule_rejects_with_its_reason(override, reason):
    (_, faults) = check("cases", [case(**override)])[2]
    assert faults == [reason]


CODE_COLUMNS = [c for c in load_contract().tables["cases"].columns if c.type == "code"]


@pytest.mark.parametrize("column", CODE_COLUMNS, ids=lambda c: c.name)
def test_a_code_is_exactly_one_of_its_list_after_case_and_spaces(column):
    """Every code of the list passes in any case and with spaces (also U+00A0) around it;
    anything else – a near miss, a prefix, two codes, a look-alike letter – is rejected."""
    allowed = list(load_contract().codes[column.codes].values)
    code = max(allowed, key=len)
    near = [code + "x", code[:-1], f"{allowed[0]},{allowed[-1]}", code + "\u200b", "Ｋ" + code]
    near = [v for v in dict.fromkeys([*near, code.replace("i", "ı")]) if v and v not in allowed]
    values = [f" {c.upper()}\u00a0" for c in allowed] + near
    rows = [case(case_id=f"K{i}", **{column.name: v}) for i, v in enumerate(values)]
    res = check("cases", rows)
    unknown = f"unbekannter Code in ‚{column.alias}‘"
    flagged = [any(f.startswith(unknown) for f in res[line][1]) for line in range(2, 2 + len(rows))]
    assert flagged == [False] * len(allowed) + [True] * len(near)
    assert [res[2 + i][0][column.name] for i in range(len(allowed))] == allowed


def test_reasons_never_repeat_the_offending_value():
    (_, faults) = check("cases", [case(program="max.muster@example.org", opened_on="geb. 1990")])[2]
    assert faults and not any("muster" in f or "1990" in f for f in faults)


def test_leading_zero_of_a_region_key_lost_by_a_spreadsheet_is_restored():
    res = check("cases", [case(region_code="5315"), case(case_id="K2", region_code="5315000")])
    assert res[2][0]["region_code"] == "05315" and res[2][1] == []
    assert res[3][0]["region_code"] == "05315000" and res[3][1] == []


def test_duplicate_key_keeps_the_first_and_points_to_it():
    res = check("cases", [case(), case(opened_on="2025-02-02"), case(case_id="K3")])
    assert res[2][1] == [] and res[4][1] == []
    assert res[3][1] == ["doppelter Schlüssel (‚traeger_id‘, ‚fall_id‘ bereits in Zeile 2)"]


def staff(**over) -> dict:
    base = dict(
        provider_id="p1",
        caseworker_id="FK1",
        program="kim",
        region_code="05315",
        valid_from="01.01.2025",
        fte="0,5",
    )
    return {**base, **over}


def test_fte_accepts_decimal_comma_and_rejects_out_of_range():
    res = check(
        "staffing",
        [
            staff(),
            staff(caseworker_id="FK2", fte="1,5"),
            staff(caseworker_id="FK3", fte="0"),
            staff(caseworker_id="FK4", fte="1"),
            staff(caseworker_id="FK5", fte="halb"),
        ],
    )
    assert res[2][0]["fte"] == 0.5 and res[2][1] == []
    assert res[3][1] == ["‚vzae‘ muss größer als 0 und höchstens 1 sein"]
    assert res[4][1] == ["‚vzae‘ muss größer als 0 und höchstens 1 sein"]
    assert res[5][0]["fte"] == 1.0 and res[5][1] == []
    assert res[6][1] == ["keine Zahl in ‚vzae‘"]


def goal(**over) -> dict:
    base = dict(
        provider_id="p1",
        case_id="K1",
        goal_id="Z1",
        domain="wohnen",
        set_on="2025-01-05",
        status="offen",
        offer_available="ja",
    )
    return {**base, **over}


@pytest.mark.parametrize(
    "text, value",
    [
        ("ja", True),
        ("Nein", False),
        ("TRUE", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("x", True),
    ],
)
def test_boolean_spellings(text, value):
    (row, faults) = check("goals", [goal(offer_available=text)])[2]
    assert faults == [] and row["offer_available"] is value


def test_empty_boolean_is_no_only_under_the_x_convention():
    marked = check(
        "goals",
        [goal(offer_available="x"), goal(goal_id="Z2", offer_available=None)],
        marks={"offer_available"},
    )
    assert marked[3][0]["offer_available"] is False and marked[3][1] == []
    plain = check("goals", [goal(offer_available=None)])
    assert plain[2][1] == ["Pflichtwert ‚angebot_vorhanden‘ fehlt"]


def test_unknown_boolean_spelling_is_rejected():
    assert check("goals", [goal(offer_available="vielleicht")])[2][1] == [
        "ungültiger Ja/Nein-Wert in ‚angebot_vorhanden‘ (erlaubt: ja/nein, true/false, 1/0, x/leer)"
    ]


def test_note_longer_than_1000_characters_is_rejected():
    row = dict(
        provider_id="p1",
        case_id="K1",
        noted_on="2025-01-01",
        barrier_code="kosten",
        note="a" * 1001,
    )
    assert check("barriers", [row])[2][1] == ["‚notiz‘ ist länger als 1000 Zeichen"]


def test_several_faults_of_one_row_are_all_reported():
    (_, faults) = check("cases", [case(program="x", opened_on="morgen")])[2]
    assert len(faults) == 2


def test_child_rows_need_an_existing_valid_case():
    con = connect()
    con.execute("CREATE TABLE cases AS SELECT 'p1' AS provider_id, 'K1' AS case_id")
    con.execute(
        "CREATE TABLE checked AS SELECT * FROM (VALUES ('p1', 'K1', []::STRUCT(col VARCHAR,"
        " reason VARCHAR)[]), ('p1', 'K9', []), ('p2', 'K1', [])) t(provider_id, case_id,"
        " faults)"
    )
    out = con.execute(
        f"SELECT case_id, provider_id, len(faults) FROM ({reference_sql('checked', 'cases')})"
        " ORDER BY 2, 1"
    ).fetchall()
    assert out == [("K1", "p1", 0), ("K9", "p1", 1), ("K1", "p2", 1)]


# every Unicode space separator (category Zs, what DuckDB's trim removes), characters that look
# like spaces but are not Zs (tab, zero-width space, byte order mark, NEL) and plain text
_SPACES = [chr(c) for c in (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)]
_NOT_SPACES = ["\t", "\n", "\r", "\u200b", "\ufeff", "\x85", "x", "ä", "€", "😀", "%", "_"]


def _edge_values() -> list[str | None]:
    values: list[str | None] = [None, "", " ", "  ", "a", "a b", "K-1", "%", "_ _"]
    for s in _SPACES:
        values += [s, s + "K1", "K1" + s, s + "K1" + s, "K" + s + "1", s * 3, s + "ä" + s]
    for t in _NOT_SPACES:
        values += [t, t + "K1", "K1" + t, t + " K1 " + t, " " + t + " "]
    return values


def test_trim_fast_path_gives_exactly_what_trim_gives_for_every_edge_value():
    """`trimmed` skips `trim` for plain values; it must never differ from `trim` itself."""
    from data_contracts.rules import trimmed

    con = connect()
    con.execute("CREATE TABLE v (i INTEGER, s VARCHAR)")
    values = _edge_values()
    con.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(values)))
    rows = con.execute(f"SELECT i, trim(s), {trimmed('s')} FROM v ORDER BY i").fetchall()
    assert len(rows) == len(values) > 150
    differ = [(values[i], a, b) for i, a, b in rows if a != b]
    assert differ == []
    # the fast path is taken for plain values and trim still removes every separator
    assert con.execute(f"SELECT {trimmed('s')} FROM (SELECT '\u3000K1\u00a0' AS s)").fetchone() == (
        "K1",
    )


@pytest.mark.parametrize("table", ["cases", "contacts", "staffing"])
def test_row_rules_of_a_small_and_a_large_table_give_the_same_rows_and_reasons(table):
    """Small tables are trimmed with plain `trim` (cheaper to compile), large ones with the
    fast path (cheaper per row): the typed rows and every reason must be the same."""
    from data_contracts.rules import TRIM_FAST_PATH_ROWS, trim_sql, trimmed

    assert trim_sql("s", 10) == "trim(s)"
    assert trim_sql("s", TRIM_FAST_PATH_ROWS) == trimmed("s") == trim_sql("s")
    t = load_contract().tables[table]
    con = connect()
    con.execute(
        f"CREATE TABLE raw (__line INTEGER, {', '.join(f'{c} VARCHAR' for c in t.column_names)})"
    )
    values = [*_edge_values(), "2025-01-02", " 02.01.2025 ", "kim", " ja ", "1,5", "05315"]
    con.executemany(
        f"INSERT INTO raw VALUES (?{', ?' * len(t.column_names)})",
        # every column of every row an edge value, shifted per column so rows differ
        [
            [i, *(values[(i + k) % len(values)] for k in range(len(t.column_names)))]
            for i in range(len(values))
        ],
    )
    small, large = (
        con.execute(f"SELECT * FROM ({checked_sql(t, 'raw', rows=n)}) ORDER BY __line").fetchall()
        for n in (0, TRIM_FAST_PATH_ROWS)
    )
    assert len(small) == len(values) and small == large
    assert "trim(" in checked_sql(t, "raw", rows=0) and " LIKE ' %'" not in checked_sql(
        t, "raw", rows=0
    )


@pytest.mark.parametrize("space", ["\u00a0", "\u2007", "\u3000", " "])
def test_codes_and_keys_padded_with_any_unicode_space_are_read_as_without(space):
    res = check(
        "cases",
        [case(case_id=f"{space}K7{space}", program=f"{space}KIM", region_code=f"05315{space}")],
    )
    row, reasons = res[2]
    assert reasons == []
    assert (row["case_id"], row["program"], row["region_code"]) == ("K7", "kim", "05315")


def test_a_tab_or_zero_width_space_around_a_key_is_not_a_space_and_is_rejected():
    res = check("cases", [case(case_id="\tK7"), case(case_id="K8\u200b")])
    assert [len(res[line][1]) for line in (2, 3)] == [1, 1]
    assert all("Pseudonym" in res[line][1][0] for line in (2, 3))
