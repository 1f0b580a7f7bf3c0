"""The leak search the hostile tests rely on finds a planted value wherever it is stored."""

from __future__ import annotations

import duckdb

from tests.hostile import leaks


def test_a_planted_value_is_found_in_every_column_type_and_case(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.notes (id INTEGER, note VARCHAR, tags VARCHAR[])")
    con.execute(
        "INSERT INTO audit.notes VALUES (1, 'ok', ['a']), (2, 'Anruf bei Max.Muster@Example.org',"
        " NULL), (3, NULL, ['x', '0171 5550123'])"
    )
    con.execute('CREATE TABLE main."odd name" (payload STRUCT(v VARCHAR), n BIGINT)')
    con.execute("INSERT INTO main.\"odd name\" VALUES ({'v': 'DE89370400440532013000'}, 7)")
    con.close()
    needles = ["max.muster@example.org", "0171 5550123", "DE89370400440532013000", "nirgends"]
    assert sorted(leaks.in_duckdb(db, needles)) == [
        "w.duckdb: audit.notes.note: 'max.muster@example.org'",
        "w.duckdb: audit.notes.tags: '0171 5550123'",
        "w.duckdb: main.odd name.payload: 'DE89370400440532013000'",
    ]
    assert leaks.everywhere(tmp_path, ["nirgends"]) == []
