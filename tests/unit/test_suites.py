"""The Great Expectations suites and the SQL row rules come from one contract and agree."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import load_contract, suites
from data_contracts.suites import build_suite, ephemeral_context, validate_frame
from kernel.warehouse import connect
from pipelines.ingest.load import inspect_delivery
from tests.fixtures import messy


@pytest.fixture(scope="module")
def gx_context():
    return ephemeral_context()


def gx_flagged(context, table_name: str, frame):
    """Row positions each failing expectation flags (COMPLETE result format)."""
    table = load_contract().tables[table_name]
    _, raw = validate_frame(context, table, frame, result_format="COMPLETE")
    return {
        (r.expectation_config.type, str(r.expectation_config.kwargs.get("column"))): set(
            r.result.get("unexpected_index_list") or []
        )
        for r in raw.results
        if not r.success
    }


def test_every_table_has_a_suite_with_the_contract_rules(gx_context):
    contract = load_contract()
    suite = build_suite(contract.tables["staffing"])
    kinds = {e.expectation_type for e in suite.expectations}
    assert {
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_null",
    } <= kinds
    for t in contract.tables.values():
        assert build_suite(t).expectations


def test_gx_flags_exactly_the_rows_the_sql_rules_reject(tmp_path, gx_context):
    path = messy.mbe_essen_faults(tmp_path / "inbox")
    con = connect()
    insp = inspect_delivery(con, path, tmp_path / "work")
    cols = ", ".join(load_contract().tables["cases"].column_names)
    frame = con.execute(
        f"SELECT {cols}, NULL::VARCHAR AS delivery_id FROM checked_cases ORDER BY __line"
    ).df()
    lines = [
        r[0] for r in con.execute("SELECT __line FROM checked_cases ORDER BY __line").fetchall()
    ]
    sql_rejected = {
        lines.index(r[0])
        for r in con.execute("SELECT __line FROM checked_cases WHERE len(faults) > 0").fetchall()
    }
    assert insp.counts["cases"].rejected == len(sql_rejected) == 6

    flagged = gx_flagged(gx_context, "cases", frame)
    unique = flagged.pop(("expect_compound_columns_to_be_unique", "None"))
    by_rules = set().union(*flagged.values())
    first_e1, second_e1 = lines.index(2), lines.index(6)
    # GX marks both rows of a duplicated key; the SQL rules keep the first and reject the second
    assert unique == {first_e1, second_e1}
    assert by_rules | {second_e1} == sql_rejected


def test_clean_delivery_passes_every_suite(tmp_path, gx_context):
    path = messy.kim_koeln_new(tmp_path / "inbox")
    con = connect()
    insp = inspect_delivery(con, path, tmp_path / "work")
    assert not insp.quarantine and insp.rows_rejected == 0
    for name in insp.counts:
        table = load_contract().tables[name]
        frame = con.execute(
            f"SELECT {', '.join(table.column_names)}, 'x' AS delivery_id FROM checked_{name}"
        ).df()
        result, _ = validate_frame(gx_context, table, frame)
        assert result.success, (name, result.failed)


def test_a_validated_frame_is_not_kept_by_the_context(gx_context):
    """The contract checks validate in batches; each batch must be freed after it (a context
    that kept them held 14.6 GB at 10,000,000 cases)."""
    import gc
    import weakref

    import pandas as pd

    table = load_contract().tables["staffing"]
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in table.column_names})
    frame["delivery_id"] = pd.Series([], dtype=object)
    result, _ = validate_frame(gx_context, table, frame)
    assert result.success and result.rows == 0
    gone = weakref.ref(frame)
    del frame
    gc.collect()
    assert gone() is None
    assert not gx_context.data_sources.all()


def _barriers_with_notes(tmp_path, notes: list[str]):
    """One valid barrier row per note, fetched as the contract checks fetch (through Arrow)."""
    from data_contracts.suites import frames

    con = connect()
    inspect_delivery(con, messy.kim_koeln_new(tmp_path / "inbox"), tmp_path / "work")
    cols = ", ".join(load_contract().tables["barriers"].column_names)
    sql = (
        f"SELECT * REPLACE (n AS note) FROM (SELECT {cols}, 'x' AS delivery_id"
        " FROM checked_barriers LIMIT 1), unnest(?) WITH ORDINALITY AS u(n, i) ORDER BY i"
    )
    frame = pd.concat(list(frames(con, sql, [notes], rows=7)))
    return con, frame.drop(columns=["i"]).reset_index(drop=True)


def test_the_suites_find_every_kind_of_identifier_in_a_note_as_the_gate_does(tmp_path, gx_context):
    """Every identifier kind of the contract is in the barriers suite (IBAN and address too),
    and a note ending in a newline is judged as the SQL gate (RE2) judges it."""
    from tests.unit.test_identifier_patterns import LOOKALIKES, POSITIVES

    texts = [t for examples in POSITIVES.values() for t in examples] + LOOKALIKES
    notes = texts + [t + "\n" for t in texts]
    con, frame = _barriers_with_notes(tmp_path, notes)
    assert list(frame["note"]) == notes
    regex = load_contract().identifier_regex(key=False)
    gate = [
        i
        for (i, hit) in con.execute(
            "SELECT i - 1, regexp_matches(lower(n), ?) FROM unnest(?) WITH ORDINALITY AS u(n, i)",
            [regex, notes],
        ).fetchall()
        if hit
    ]
    flagged = gx_flagged(gx_context, "barriers", frame)
    suite = flagged[("expect_column_values_to_not_match_regex_list", "note")]
    assert sorted(suite) == sorted(gate)
    assert len(gate) == 2 * sum(len(v) for v in POSITIVES.values())
    for label in ("IBAN", "Anschrift (Straße mit Hausnummer)"):
        assert {notes.index(t) for t in POSITIVES[label]} <= suite, label


def test_the_suites_regexes_run_in_re2_not_in_pythons_backtracking_re(tmp_path):
    """Notes hold newlines; with `$` in a pattern pandas then falls back to Python's `re`
    (seconds per 100,000 notes for IBAN and address). Written as `\\Z` they stay in RE2."""
    from data_contracts.suites import end_of_text, expectations_for

    assert end_of_text(r"(^|[^0-9])($|[^0-9])") == r"(^|[^0-9])(\Z|[^0-9])"
    assert end_of_text(r"[$]\$a$") == r"[$]\$a\Z"
    assert end_of_text(r"[]$]$") == r"[]$]\Z"
    _, frame = _barriers_with_notes(tmp_path, ["Zeile eins\nZeile zwei, Straße ä"])
    notes = frame["note"].array
    assert type(notes).__name__ == "ArrowStringArray"
    contract = load_contract()
    regexes = [
        r
        for t in contract.tables.values()
        for e in expectations_for(t, contract)
        for r in [getattr(e, "regex", None), *(getattr(e, "regex_list", None) or [])]
        if r
    ]
    assert len(regexes) > len(contract.identifier_values)
    assert not [r for r in regexes if notes._needs_python_regex(r)]


def test_a_validated_batch_is_not_fingerprinted(gx_context):
    """The md5 fingerprint GX computes of every pandas batch was 40 % of the contract checks;
    the context switches it off (if GX renames its switch, this fails)."""
    table = load_contract().tables["staffing"]
    frame = pd.DataFrame({c: pd.Series(["x"], dtype=object) for c in table.column_names})
    frame["delivery_id"] = "d"
    _, raw = validate_frame(gx_context, table, frame)
    assert "ge_load_time" in raw.meta["batch_markers"]
    assert "pandas_data_fingerprint" not in raw.meta["batch_markers"]


def test_the_rows_for_the_suites_are_streamed_not_copied_whole(tmp_path):
    """20 million rows (about 1.6 GB as Arrow) through `frames` in a fresh process: its peak
    memory stays far below one copy of them (10,000,000 cases: a copy cost 11.6 GB). Here the
    copy peaks at 1,812 MB, streaming at 350 MB alone and up to 812 MB on a loaded machine
    (DuckDB reads ahead while the consumer waits for a core): the bound lies between."""
    import os
    import subprocess
    import sys

    script = tmp_path / "stream.py"
    script.write_text(
        "import resource, duckdb\n"
        "from data_contracts.suites import frames\n"
        "con = duckdb.connect()\n"
        "con.execute('SELECT 42').fetchone()  # a result not read to the end\n"
        "sql = \"SELECT range AS i, repeat('x', 40) || range AS s FROM range(?)\"\n"
        "n = sum(len(f) for f in frames(con, sql, [20_000_000]))\n"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert int(out[0]) == 20_000_000
    assert int(out[1]) < 1_200, f"peak {out[1]} MB"


def test_the_checks_count_failing_rows_without_locating_them(gx_context):
    """The contract checks need how many rows fail an expectation, not which: GX's BASIC
    result. SUMMARY located every failing row (two more filters of the whole frame per
    expectation, a third of the checks' time at 1,000,000 cases), and its row positions
    must not travel with the check's result anyway."""
    table = load_contract().tables["staffing"]
    frame = pd.DataFrame(
        {
            "provider_id": ["T1", "T1", "T1"],
            "caseworker_id": ["F1", "F2", "F3"],
            "program": ["kim", "kim", "kim"],
            "region_code": ["05315", "05315", "05315"],
            "valid_from": pd.to_datetime(["2024-01-01"] * 3),
            "valid_to": pd.to_datetime([None] * 3),
            "fte": [2.0, 0.5, 1.5],  # two above one position
            "delivery_id": ["d", "d", "d"],
        }
    )
    result, raw = validate_frame(gx_context, table, frame)
    counted = {(f["expectation"], str(f["column"])): f["unexpected_count"] for f in result.failed}
    assert counted == {("expect_column_values_to_be_between", "fte"): 2}
    located = {"partial_unexpected_index_list", "unexpected_index_list", "unexpected_index_query"}
    assert not [r for r in raw.results if located & set(r.result)]


def test_code_columns_as_categories_keep_their_rules(gx_context):
    """The suites see code columns as pandas categories (cheaper to filter). A code in the
    key (staffing: program) still makes keys distinct or duplicate, and a missing or unknown
    code is still counted."""
    table = load_contract().tables["staffing"]

    def staffing(programs: list) -> pd.DataFrame:
        n = len(programs)
        return pd.DataFrame(
            {
                "provider_id": ["T1"] * n,
                "caseworker_id": ["F1"] * n,
                "program": programs,
                "region_code": ["05315"] * n,
                "valid_from": pd.to_datetime(["2024-01-01"] * n),
                "valid_to": pd.to_datetime([None] * n),
                "fte": [0.5] * n,
                "delivery_id": ["d"] * n,
            }
        )

    def counted(programs: list) -> dict:
        result, _ = validate_frame(gx_context, table, staffing(programs))
        return {(f["expectation"], str(f["column"])): f["unexpected_count"] for f in result.failed}

    key = str(list(table.key))
    assert counted(["kim", "kim", "jmd"]) == {("expect_compound_columns_to_be_unique", key): 2}
    assert counted(["kim", "mbe", "jmd"]) == {}
    assert counted(["kim", "KIMX", None]) == {
        ("expect_column_values_to_not_be_null", "program"): 1,
        ("expect_column_values_to_be_in_set", "program"): 1,
    }


def test_each_validated_frame_is_freed_before_the_next_is_read(gx_context, monkeypatch):
    """GX keeps a validated frame in reference cycles that only a full collection frees, and
    Python's automatic ones came so seldom that a table's frames piled up (10,000,000 cases:
    one thread's contacts grew to 3.0 GB). `validate_frames` frees each before the next."""
    table = load_contract().tables["staffing"]
    validated: list[weakref.ref] = []  # the frames GX was given (code columns converted)
    convert = suites.codes_as_categories

    def recorded(table, frame):
        converted = convert(table, frame)
        validated.append(weakref.ref(converted))
        return converted

    monkeypatch.setattr(suites, "codes_as_categories", recorded)
    read: list[weakref.ref] = []  # the frames as read
    alive_when_read: list[tuple[int, int]] = []

    def frames():
        for program in ("kim", "jmd", "mbe"):
            alive_when_read.append(
                (
                    sum(ref() is not None for ref in validated),
                    sum(ref() is not None for ref in read),
                )
            )
            frame = pd.DataFrame(
                {
                    "provider_id": ["T1"],
                    "caseworker_id": ["F1"],
                    "program": [program],
                    "region_code": ["05315"],
                    "valid_from": pd.to_datetime(["2024-01-01"]),
                    "valid_to": pd.to_datetime([None]),
                    "fte": [0.5],
                    "delivery_id": ["d"],
                }
            )
            read.append(weakref.ref(frame))
            yield frame
            del frame

    gc.collect()
    gc.disable()  # no automatic collection: only the one validate_frames makes counts
    try:
        with suites.frozen_heap():
            results = suites.validate_frames(gx_context, table, frames())
        still_held = sum(ref() is not None for ref in validated + read)
    finally:
        gc.enable()
    assert [r.success for r in results] == [True, True, True]
    assert len(validated) == len(read) == 3
    assert alive_when_read == [(0, 0), (0, 0), (0, 0)]
    assert still_held == 0
    assert gc.get_freeze_count() == 0  # unfrozen again: later garbage is collected as before
