"""Rows whose case a newer cases table no longer holds (exchange-format.md: "a goal or referral
whose case does not exist" is a row fault; that row is rejected).

Tables are replaced one by one (a delivery replaces only the tables it contains): a cases-only
update that drops a case left that case's goals, referrals, contacts, barriers and relapses of
earlier deliveries in staging, and the run's key check then failed for every provider
(review of 2026-12-06). `load._record_load` remembers the provider's cases before it replaces
them and calls `drop` after.
"""

from __future__ import annotations

from data_contracts import load_contract
from data_contracts.rules import lit

PREVIOUS_CASES = "previous_cases"  # the provider's case ids before a delivery replaced them


def remember_cases(con, pid: str | None) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PREVIOUS_CASES} AS SELECT DISTINCT case_id"
        " FROM staging.cases WHERE provider_id = ?",
        [pid],
    )


def forget_cases(con) -> None:
    con.execute(f"DROP TABLE IF EXISTS {PREVIOUS_CASES}")


def drop(con, pid: str | None, delivery_id: str, source_name: str) -> list[str]:
    """After a delivery replaced the provider's cases: the rows of its other tables in staging
    (goals, referrals, contacts, barriers, relapses of earlier deliveries) whose case was in
    the replaced cases and is not in the new ones are taken out of staging and counted as
    rejected rows of the delivery they came from, with the reason (exchange-format.md: "a goal
    or referral whose case does not exist" is a row fault; that row is rejected). So the run's
    check that every such row has its case holds, and received = loaded + rejected still does
    for every delivery. A row that had no case before (it cannot come from a delivery) is left
    for that check to find. Returns the notes for the replacing delivery's message (German)."""
    notes = []
    for table in (t for t in load_contract().tables.values() if t.references):
        orphan = (
            f"FROM staging.{table.name} s WHERE s.provider_id = ?"
            f" AND s.case_id IN (SELECT case_id FROM {PREVIOUS_CASES}) AND NOT EXISTS (SELECT 1"
            " FROM staging.cases c WHERE c.provider_id = s.provider_id AND c.case_id = s.case_id)"
        )
        counts = con.execute(
            f"SELECT s.delivery_id, count(*) {orphan} GROUP BY ALL ORDER BY 1", [pid]
        ).fetchall()
        if not counts:
            continue
        reason = (
            f"Fall fehlt im neueren Stand der Fälle (Lieferung {delivery_id}, {source_name});"
            " die Zeile wird nicht mehr geladen"
        )
        # staging keeps no line numbers: the row is named by its table, file and key column
        con.execute(
            f"""INSERT INTO audit.rejections
            SELECT s.delivery_id, {lit(table.name)}, t.file_name, NULL, 'case_id', ?, 'row'
            FROM (SELECT s.delivery_id {orphan}) s
            LEFT JOIN audit.delivery_tables t
              ON t.delivery_id = s.delivery_id AND t.table_name = {lit(table.name)}""",
            [reason, pid],
        )
        con.execute(f"DELETE {orphan}", [pid])
        for did, n in counts:
            con.execute(
                "UPDATE audit.delivery_tables SET rows_loaded = rows_loaded - ?,"
                " rows_rejected = rows_rejected + ? WHERE delivery_id = ? AND table_name = ?",
                [n, n, did, table.name],
            )
            con.execute(
                "UPDATE audit.deliveries SET rows_loaded = rows_loaded - ?,"
                " rows_rejected = rows_rejected + ?,"
                " status = CASE WHEN status = 'accepted' THEN 'partial' ELSE status END,"
                " message = concat_ws(' | ', message, ?) WHERE delivery_id = ?",
                [
                    n,
                    n,
                    f"{n} Zeilen in {table.name} nicht mehr geladen: ihr Fall fehlt im neueren"
                    f" Stand der Fälle (Lieferung {delivery_id}, {source_name})",
                    did,
                ],
            )
        total = sum(n for _, n in counts)
        notes.append(
            f"{total} Zeilen in {table.name} früherer Lieferungen nicht mehr geladen: ihr Fall"
            " fehlt in dieser Lieferung"
        )
    return notes
