"""Reading delivered CSV files: encodings, separators, exact line numbers, nothing lost."""

from __future__ import annotations

import contextlib

import pytest

from kernel.warehouse import connect
from pipelines.ingest.csvfile import UnreadableFile, detect_encoding, inspect_csv, load_csv


def write(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def load(tmp_path, data: bytes):
    path = write(tmp_path, "t.csv", data)
    layout = inspect_csv(path, tmp_path)
    con = connect()
    loaded, malformed = load_csv(con, layout, "t")
    rows = con.execute("SELECT * EXCLUDE (__line), __line FROM t ORDER BY __line").fetchall()
    return layout, loaded, malformed, rows


def test_utf8_with_and_without_bom_and_cp1252_are_told_apart(tmp_path):
    assert detect_encoding(write(tmp_path, "a", "a;b\nä;ö\n".encode())) == "utf-8"
    assert detect_encoding(write(tmp_path, "b", b"\xef\xbb\xbfa;b\n")) == "utf-8-sig"
    assert detect_encoding(write(tmp_path, "c", "a;b\n„x“ 5 €;–\n".encode("cp1252"))) == "cp1252"


def test_cp1252_typographic_characters_arrive_intact(tmp_path):
    # bytes 0x84, 0x93, 0x80, 0x96 differ between cp1252 and latin-1
    _, _, _, rows = load(tmp_path, "a;notiz\n1;„Wartezeit“ – 30 €\n".encode("cp1252"))
    assert rows == [("1", "„Wartezeit“ – 30 €", 2)]


def test_bom_is_not_part_of_the_first_header(tmp_path):
    layout, *_ = load(tmp_path, b"\xef\xbb\xbfFall_ID,beginn\nK1,2025-01-01\n")
    assert layout.header == ["Fall_ID", "beginn"]
    assert layout.separator == ","


def test_undecodable_bytes_are_a_structural_fault(tmp_path):
    with pytest.raises(UnreadableFile, match="Zeichenkodierung"):
        inspect_csv(write(tmp_path, "x.csv", b"a;b\n\x81\x8d;\x90\n"), tmp_path)


def test_semicolon_quotes_line_breaks_and_doubled_quotes(tmp_path):
    data = b'a;b;c\r\n1;"x; y";z\r\n2;"zwei\r\nZeilen";z\r\n3;"sagt ""ja""";z\r\n'
    layout, loaded, malformed, rows = load(tmp_path, data)
    assert layout.separator == ";" and layout.newline == "\r\n"
    assert loaded == 3 and malformed == []
    assert rows == [
        ("1", "x; y", "z", 2),
        ("2", "zwei\r\nZeilen", "z", 3),
        ("3", 'sagt "ja"', "z", 5),
    ]


def test_line_numbers_are_the_file_lines_despite_blank_lines_and_wrapped_fields(tmp_path):
    data = b'a,b\n1,x\n\n2,"wrapped\nfield"\n\n\n3,y\n'
    _, _, _, rows = load(tmp_path, data)
    assert [r[-1] for r in rows] == [2, 4, 8]


def test_a_line_with_too_many_fields_is_rejected_with_its_line_and_the_rest_loads(tmp_path):
    data = b"a;b\n1;x\n2;x;zu viel\n3;y\n"
    _, loaded, malformed, rows = load(tmp_path, data)
    assert loaded == 2
    assert malformed == [(3, "Zeile hat mehr Felder als die Kopfzeile")]
    assert [r[-1] for r in rows] == [2, 4]


def test_short_lines_and_trailing_empty_columns_are_padded(tmp_path):
    _, loaded, malformed, rows = load(tmp_path, b"a;b;c;\n1;x\n2;y;z;\n")
    assert loaded == 2 and malformed == []
    assert rows == [("1", "x", None, None, 2), ("2", "y", "z", None, 3)]


def test_unterminated_quote_quarantines_instead_of_swallowing_rows(tmp_path):
    data = b'a;b\n1;x\n2;"offen\n3;y\n4;z\n'
    with pytest.raises(UnreadableFile, match="Anführungszeichen") as err:
        inspect_csv(write(tmp_path, "q.csv", data), tmp_path)
    assert err.value.line == 3


def test_empty_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFile, match="leer"):
        inspect_csv(write(tmp_path, "e.csv", b""), tmp_path)


def test_record_structure_is_exact_across_chunk_boundaries(tmp_path, monkeypatch):
    from pipelines.ingest import csvfile

    monkeypatch.setattr(csvfile, "CHUNK", 7)  # force many chunks, quotes split across them
    data = b'a,b\n1,"q\nq"\n\n2,"x""y"\n3,z\n'
    _, loaded, _, rows = load(tmp_path, data)
    assert loaded == 3
    assert [r[-1] for r in rows] == [2, 5, 6]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # "ü" split between two chunks, then ASCII-only chunks: one valid character
        ("ab;cd\nx;fghijü\n1234567\n1234567\n".encode(), ("utf-8", "\n")),
        # CRLF split between chunks, then chunks without any CR
        (b"abcdef\r\n1234567890123\r\n", ("utf-8", "\r\n")),
        (b"abcdef\r\n1234567\n1234567\n", ("utf-8", "")),  # CRLF and LF mixed
        (b"abcde\r\n1234567\r\n7654321\r\n", ("utf-8", "\r\n")),
    ],
)
def test_sniff_across_chunk_boundaries(tmp_path, monkeypatch, data, expected):
    from pipelines.ingest import csvfile

    monkeypatch.setattr(csvfile, "CHUNK", 7)
    found = csvfile.sniff(write(tmp_path, "s.csv", data))
    assert (found.encoding, found.newline) == expected


def test_a_broken_character_before_an_ascii_chunk_names_its_line(tmp_path, monkeypatch):
    from pipelines.ingest import csvfile

    monkeypatch.setattr(csvfile, "CHUNK", 7)
    # a chunk ends with the first byte of "ü" only; the following chunk is plain ASCII
    data = "ab;cd\nx;ä\nx;".encode() + b"\xc3\n1234567\n"
    with pytest.raises(UnreadableFile, match="uneinheitlich") as err:
        csvfile.sniff(write(tmp_path, "b.csv", data))
    assert err.value.line == 3


@pytest.mark.parametrize(
    "data",
    [
        b"a;b\r1;x\r\r2;y\r3;z\r",  # CR only (old Mac exports), with a blank line
        b"a;b\n1;x\r\n\n2;y\r3;z",  # LF, CRLF and CR mixed, no final line break
        b"a;b\r\n1;x\r\n\r\n2;y\r\n3;z\r\n",  # CRLF
    ],
)
def test_every_line_ending_and_mixtures_count_every_record_on_its_physical_line(tmp_path, data):
    _, loaded, malformed, rows = load(tmp_path, data)
    assert loaded == 3 and malformed == []
    assert rows == [("1", "x", 2), ("2", "y", 4), ("3", "z", 5)]


def test_a_quoted_line_break_in_a_mixed_file_keeps_the_following_line_numbers(tmp_path):
    data = b'a;b\r\n1;"zwei\nZeilen"\r3;z\n'
    _, loaded, _, rows = load(tmp_path, data)
    assert loaded == 2
    assert rows == [("1", "zwei\nZeilen", 2), ("3", "z", 4)]


@pytest.mark.parametrize("data", [b"a;b", b"a;b\n", b"a;b\r\n", b"\xef\xbb\xbfa;b\r"])
def test_a_header_only_file_is_an_empty_table(tmp_path, data):
    layout, loaded, malformed, rows = load(tmp_path, data)
    assert layout.header == ["a", "b"] and loaded == 0 and malformed == [] and rows == []


def test_utf8_with_one_stray_windows_byte_names_the_line_and_is_never_mojibake(tmp_path):
    data = "a;b\n1;Müller\n2;ok\n".encode() + b"3;M\xfcller\n"
    with pytest.raises(UnreadableFile, match="uneinheitlich") as err:
        inspect_csv(write(tmp_path, "m.csv", data), tmp_path)
    assert err.value.line == 4


def test_the_first_bad_byte_decides_even_before_any_umlaut(tmp_path):
    data = b"a;b\r1;M\xfcller\r2;" + "Müller".encode() + b"\r"
    with pytest.raises(UnreadableFile, match="uneinheitlich") as err:
        inspect_csv(write(tmp_path, "m.csv", data), tmp_path)
    assert err.value.line == 2


def test_windows_1252_without_any_utf8_sequence_is_read_as_such(tmp_path):
    _, _, _, rows = load(tmp_path, "a;b\r\n1;Müller – „x“\r\n".encode("cp1252"))
    assert rows == [("1", "Müller – „x“", 2)]


def test_too_many_columns_is_refused_before_duckdb_reads_them(tmp_path):
    from pipelines.ingest.limits import LimitExceeded, Limits

    head = ",".join(f"c{i}" for i in range(100_000)) + "\n"
    path = write(tmp_path, "w.csv", head.encode() + b"1\n")
    with pytest.raises(LimitExceeded, match=r"100\.000 Spalten"):
        inspect_csv(path, tmp_path, Limits())
    layout = inspect_csv(write(tmp_path, "t.csv", b"a,b" + b"," * 500 + b"\n1,2\n"), tmp_path)
    assert len(layout.header) == 502  # trailing empty columns are ignored, not counted


def _temp_objects(con) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary"
            " UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
        ).fetchall()
    }


def test_loaded_rows_are_a_view_that_drop_loaded_removes_with_its_tables(tmp_path):
    from pipelines.ingest.csvfile import drop_loaded

    layout = inspect_csv(write(tmp_path, "t.csv", b"a,b\n1,2\n\n3,4\n"), tmp_path)
    con = connect()
    load_csv(con, layout, "t")
    load_csv(con, layout, "t")  # a second file of the same table name replaces the first
    assert con.execute("SELECT c0, c1, __line FROM t ORDER BY __line").fetchall() == [
        ("1", "2", 2),
        ("3", "4", 4),
    ]
    drop_loaded(con, "t")
    assert _temp_objects(con) == set()


def test_a_file_that_fails_while_loading_leaves_no_temp_tables(tmp_path):
    layout = inspect_csv(write(tmp_path, "t.csv", b"a,b\n1,2\n3,4\n"), tmp_path)
    # the file changed between inspection and loading: one record more than inspected
    layout.record_lines, layout.record_offsets = (
        layout.record_lines[:-1],
        layout.record_offsets[:-1],
    )
    con = connect()
    with pytest.raises(UnreadableFile, match="Zeilenstruktur"):
        load_csv(con, layout, "t")
    assert _temp_objects(con) == set()


def test_an_error_inside_a_transaction_is_reported_not_the_failed_cleanup(tmp_path, monkeypatch):
    # the ingest reads every delivery inside a transaction; an interrupt (its time limit)
    # aborts it, and the cleanup's DROP must not replace the interrupt with DuckDB's
    # "transaction is aborted" (the quarantine reason would then be a read error)
    import duckdb

    from pipelines.ingest import csvfile

    def interrupted(con, *args):
        with contextlib.suppress(duckdb.Error):
            con.execute("SELECT error('abgebrochen')")  # leaves the transaction aborted
        raise duckdb.InterruptException("interrupted")

    monkeypatch.setattr(csvfile, "_scan_records", interrupted)
    layout = inspect_csv(write(tmp_path, "t.csv", b"a,b\n1,2\n"), tmp_path)
    con = connect()
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.InterruptException):
        load_csv(con, layout, "t")
