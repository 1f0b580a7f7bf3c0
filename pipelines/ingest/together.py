"""The row rules of several deliveries in one statement per table (issue 15).

A delivery's row rules are one statement per table (`data_contracts.rules.checked_sql`), and
DuckDB spends about half of such a statement's time translating it (parse, bind, optimise:
11–15 ms for the cases' rules, whatever the number of rows). A reader therefore checks the
rows of a few deliveries together: each is parsed and gated on its own (`inspect_delivery`
with ``rules=False``), its raw tables set aside under names of their own (`set_aside`), then
one statement per table checks the rows of all of them (`check_together`), each row tagged
with its delivery's number (`PART`): a key is a duplicate only within its delivery, a row's
case must be one of its own delivery's. Before a delivery is recorded, its part becomes its
`checked_<table>` tables and its rejections, as if it had been checked alone (`take_part`).

Judged as alone: the same rules, rows, reasons and counts (tests/unit/test_together.py, over
every delivery of the hostile corpus). A delivery whose rows refer to the provider's cases in
staging (no cases table of its own) is not checked here: it is read alone at its turn, as
before. Neither is a run of one delivery (`pipelines.ingest.batch`).
"""

from __future__ import annotations

from data_contracts import Contract
from data_contracts.rules import checked_sql, reference_sql
from pipelines.ingest.load import (
    TABLE_ORDER,
    Inspection,
    count_rows,
    create_rejections_tmp,
    quarantine_if_nothing_valid,
    show_checked,
)

PART = "__d"  # the delivery's number within the together tables
TABLE = "together_{}"  # the rows of all deliveries checked together, per contract table
VALID_CASES = "together_cases_valid"


def may_join(insp: Inspection) -> bool:
    """Whether a gated delivery's rows can be checked with others': it was readable, passed
    the gate, and its rows refer to cases of its own (not to the provider's in staging)."""
    tables = insp.parsed.tables
    return (
        not insp.quarantine
        and not insp.unreadable
        and bool(tables)
        and ("cases" in tables or not any(st.table.references for st in tables.values()))
    )


def set_aside(con, insp: Inspection, part: int) -> None:
    """Give the delivery's raw tables names of their own: the next delivery's parse writes
    `raw_<table>` again."""
    for st in insp.parsed.tables.values():
        kept = f"{st.raw}_part{part}"
        con.execute(f"DROP TABLE IF EXISTS {kept}")
        con.execute(f"ALTER TABLE {st.raw} RENAME TO {kept}")
        st.raw = kept


def check_together(con, insps: list[Inspection], contract: Contract) -> None:
    """The row rules of the set-aside deliveries `insps` (numbered by their position) into the
    temp tables `together_<table>`. Deliveries whose statement would differ (other headers
    named in the reasons, a column of ticks) are checked in one statement per kind."""
    con.execute(f"DROP TABLE IF EXISTS {VALID_CASES}")
    for name in TABLE_ORDER:
        target = TABLE.format(name)
        con.execute(f"DROP TABLE IF EXISTS {target}")
        kinds: dict[tuple, list] = {}
        for part, insp in enumerate(insps):
            st = insp.parsed.tables.get(name)
            if st is not None:
                kind = (tuple(sorted(st.headers.items())), frozenset(st.bool_mark_columns))
                kinds.setdefault(kind, []).append((part, st))
        for n, members in enumerate(kinds.values()):
            st = members[0][1]
            columns = ", ".join(c.name for c in st.table.columns)
            source = " UNION ALL ".join(
                f"SELECT {part} AS {PART}, __line, {columns} FROM {m.raw}" for part, m in members
            )
            rows = sum(m.rows_received for _, m in members)
            sql = checked_sql(
                st.table, f"({source})", st.headers, st.bool_mark_columns, contract, rows, PART
            )
            if st.table.references:  # members have cases of their own (`may_join`)
                shown_case = st.headers.get("case_id", "fall_id")
                sql = reference_sql(f"({sql})", VALID_CASES, shown_case, PART)
            if n:
                con.execute(f"INSERT INTO {target} BY NAME {sql}")
            else:
                con.execute(f"CREATE TEMP TABLE {target} AS {sql}")
        if name == "cases" and kinds:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {VALID_CASES} AS SELECT {PART}, provider_id,"
                f" case_id FROM {target} WHERE len(faults) = 0"
            )
    for insp in insps:  # read no more: a reader holds a run's raw rows only while checking
        for st in insp.parsed.tables.values():
            con.execute(f"DROP TABLE IF EXISTS {st.raw}")


def take_part(con, insp: Inspection, part: int) -> None:
    """The delivery's part of the together tables as its own `checked_<table>` tables, its
    rejections and counts: what `load.check_rows` leaves for it when it is checked alone."""
    create_rejections_tmp(con)
    for name in TABLE_ORDER:
        if name in insp.parsed.tables:
            show_checked(
                con,
                name,
                f"SELECT * EXCLUDE ({PART}) FROM {TABLE.format(name)} WHERE {PART} = {int(part)}",
            )
            count_rows(con, insp, name)
    quarantine_if_nothing_valid(insp)


def drop_together(con, insps: list[Inspection]) -> None:
    """The together tables, and the raw tables a failed check left, once every delivery took
    its part."""
    for name in TABLE_ORDER:
        con.execute(f"DROP TABLE IF EXISTS {TABLE.format(name)}")
    con.execute(f"DROP TABLE IF EXISTS {VALID_CASES}")
    for insp in insps:
        for st in insp.parsed.tables.values():
            con.execute(f"DROP TABLE IF EXISTS {st.raw}")
