"""Import thresholds: a snapshot that changes too much is held until koordination decides.

Before a provider's new snapshot supersedes its current one (`load._record_load`), `judge`
compares them per table, in SQL over `staging.<table>` (the current rows) and the delivery's
`checked_<table>` (its valid rows): rows loaded (`row_change`), share of rejected rows
(`rejected_share`), closed cases of the current snapshot missing from the new one
(`closed_lost`), filled share of each optional column (`fill_drop`, see
`data_contracts.schema.quality_columns`) and a snapshot date older than a current one loaded
by an earlier run (`snapshot_older`; within one run deliveries are put in snapshot order). Beyond
a threshold the delivery is recorded `held`: nothing of it reaches staging, the current
snapshot stays current, and each reason is a row of `audit.holds`. A provider's first delivery
(and a table it delivers for the first time) is never held.

Thresholds come from the workspace settings (`import_thresholds`, per table and per provider),
written by `prepare` into the temp table `import_thresholds` at the start of a run and resolved
most specific first: provider and table, provider, table, default.

Decisions (`kernel/decisions.py`, append-only) take effect in the next run: `prepare` copies the
latest decision of each held delivery into `audit.delivery_decisions`; a rejected delivery
becomes `rejected` (never current), a released one is queued again and loaded as if no
threshold applied — a delivery held only for its older date then replaces the newer snapshot
(that is what releasing it means). A released delivery is not held again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from data_contracts import load_contract
from data_contracts.schema import quality_columns
from kernel import decisions
from kernel.settings import IMPORT_THRESHOLDS, Settings, load_settings
from kernel.workspace import Workspace
from pipelines.observe import stage

RULES_DE = {
    "row_change": "Zeilenzahl",
    "rejected_share": "Anteil abgelehnter Zeilen",
    "closed_lost": "abgeschlossene Fälle fehlen",
    "fill_drop": "Füllgrad optionaler Felder",
    "snapshot_older": "älterer Stand",
}


@dataclass
class Verdict:
    reasons: list[tuple] = field(default_factory=list)  # rows of audit.holds without the ids
    force: bool = False  # released after a hold for its older date: replaces the newer snapshot

    @property
    def held(self) -> bool:
        return bool(self.reasons)

    @property
    def message(self) -> str:
        n = len(self.reasons)
        more = f" (und {n - 1} weitere)" if n > 1 else ""
        return (
            f"zurückgehalten: {self.reasons[0][-1]}{more}; der bisherige Stand bleibt aktuell,"
            " bis die Koordination freigibt oder verwirft"
        )


def _num(x: float) -> str:
    return f"{x:,.0f}".replace(",", ".")


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %".replace(".", ",")


def write_thresholds(con: duckdb.DuckDBPyConnection, settings: Settings | None) -> None:
    rows = (settings or Settings(workspace=Path("."))).threshold_rows()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE import_thresholds (provider_id VARCHAR, table_name VARCHAR,"
        " rule VARCHAR, value DOUBLE)"
    )
    con.executemany("INSERT INTO import_thresholds VALUES (?, ?, ?, ?)", rows)


def prepare(con: duckdb.DuckDBPyConnection, ws: Workspace, run_id: str | None = None) -> None:
    """Start of a run's ingest: the thresholds as a temp table, the decisions applied."""
    write_thresholds(con, load_settings(ws.root))
    apply_decisions(con, decisions.read(ws.root, "delivery"), run_id)


def prepare_reader(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    """What `judge` reads on a further connection of the run (a reader of
    pipelines.ingest.batch): the thresholds and the decision log, as temp tables of its own."""
    write_thresholds(con, load_settings(ws.root))
    write_decision_log(con, decisions.read(ws.root, "delivery"))


def apply_decisions(con: duckdb.DuckDBPyConnection, entries: list[dict], run_id=None) -> None:
    """The latest decision of each held delivery: reject it, or queue it again (released)."""
    if not write_decision_log(con, entries):
        return
    con.execute("BEGIN TRANSACTION")
    try:
        _apply(con, run_id)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def write_decision_log(con: duckdb.DuckDBPyConnection, entries: list[dict]) -> bool:
    """The delivery decisions as the temp table `decision_log`; False when there are none."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE decision_log (seq INTEGER, delivery_id VARCHAR,"
        " action VARCHAR, reason VARCHAR, decided_by VARCHAR, decided_at TIMESTAMP)"
    )
    rows = [
        (i, e.get("delivery_id"), e.get("action"), e.get("reason") or "", e.get("user"), e["at"])
        for i, e in enumerate(entries)
        if e.get("action") in decisions.DELIVERY_ACTIONS and e.get("at")
    ]
    if not rows:
        return False
    con.executemany("INSERT INTO decision_log VALUES (?, ?, ?, ?, ?, ?)", rows)
    return True


def _apply(con: duckdb.DuckDBPyConnection, run_id: str | None) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE decided_now AS
        SELECT l.delivery_id, l.action, l.reason, l.decided_by, l.decided_at
        FROM decision_log l JOIN audit.deliveries d USING (delivery_id)
        WHERE d.status = 'held'
        QUALIFY row_number() OVER (PARTITION BY l.delivery_id ORDER BY l.seq DESC) = 1"""
    )
    con.execute(
        "INSERT INTO audit.delivery_decisions SELECT delivery_id, action, reason, decided_by,"
        " decided_at, ? FROM decided_now",
        [run_id],
    )
    con.execute(
        """UPDATE audit.deliveries SET status = 'rejected', message = concat_ws(' | ', message,
               'von der Koordination verworfen; wird nicht übernommen')
           WHERE delivery_id IN (SELECT delivery_id FROM decided_now WHERE action = 'reject')"""
    )
    released = "(SELECT delivery_id FROM decided_now WHERE action = 'release')"
    for table in ("audit.rejections", "audit.delivery_tables", "audit.deliveries"):
        con.execute(f"DELETE FROM {table} WHERE delivery_id IN {released}")
    con.execute(
        f"UPDATE audit.landing SET processed = false, attempts = 0 WHERE delivery_id IN {released}"
    )


def _resolved(con, pid: str, table: str) -> dict[str, float]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'import_thresholds' AND temporary"
    ).fetchone()[0]
    if not exists:
        write_thresholds(con, None)
    rows = con.execute(
        """SELECT rule, arg_max(value, (provider_id IS NOT NULL)::INT * 2
                                       + (table_name IS NOT NULL)::INT)
           FROM import_thresholds
           WHERE coalesce(provider_id, $pid) = $pid AND coalesce(table_name, $t) = $t
           GROUP BY rule""",
        {"pid": pid, "t": table},
    ).fetchall()
    return {**IMPORT_THRESHOLDS, **dict(rows)}


def _figures(con, pid: str, table: str, cols: list[str]) -> tuple:
    """(rows before, rows after, filled before per column, filled after, closed, closed lost)."""
    fills = "".join(f", count({c})" for c in cols)
    lost = (
        """, count(*) FILTER (WHERE closed_on IS NOT NULL),
           count(*) FILTER (WHERE closed_on IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM checked_cases c WHERE len(c.faults) = 0 AND c.case_id = s.case_id))"""
        if table == "cases"
        else ", 0, 0"
    )
    before = con.execute(
        f"SELECT count(*){fills}{lost} FROM staging.{table} s WHERE provider_id = ?", [pid]
    ).fetchone()
    after = con.execute(
        f"SELECT count(*){fills} FROM checked_{table} WHERE len(faults) = 0"
    ).fetchone()
    k = len(cols)
    return before[0], after[0], before[1 : 1 + k], after[1:], before[-2], before[-1]


def _table_reasons(con, pid: str, name: str, count, current: tuple) -> list[tuple]:
    th = _resolved(con, pid, name)
    table = load_contract().tables[name]
    cols = quality_columns(table)
    n0, n1, f0, f1, closed, lost = _figures(con, pid, name, cols)
    label, small = table.label, th["min_rows"]
    out = []
    if n0 >= max(small, 1) and abs(n1 - n0) / n0 > th["row_change"]:
        change = (n1 - n0) / n0
        out.append(
            (name, "row_change", None, n0, n1, th["row_change"],
             f"{label}: Zeilen {_num(n0)} → {_num(n1)} ({'+' if change > 0 else '−'}"
             f"{_pct(abs(change))}), Schwelle ±{_pct(th['row_change'])}")
        )  # fmt: skip
    share = count.rejected / count.received if count.received else 0.0
    if count.received >= small and share > th["rejected_share"]:
        out.append(
            (name, "rejected_share", None, current[3], share, th["rejected_share"],
             f"{label}: abgelehnte Zeilen {_pct(current[3])} → {_pct(share)},"
             f" Schwelle {_pct(th['rejected_share'])}")
        )  # fmt: skip
    if closed and closed >= small and lost / closed > th["closed_lost"]:
        out.append(
            (name, "closed_lost", None, closed, closed - lost, th["closed_lost"],
             f"{label}: {_num(lost)} von {_num(closed)} abgeschlossenen Fällen fehlen im neuen"
             f" Stand ({_pct(lost / closed)}), Schwelle {_pct(th['closed_lost'])}")
        )  # fmt: skip
    if n0 >= max(small, 1) and n1:
        for col, b, a in zip(cols, f0, f1, strict=True):
            s0, s1 = b / n0, a / n1
            if s0 - s1 > th["fill_drop"]:
                out.append(
                    (name, "fill_drop", col, s0, s1, th["fill_drop"],
                     f"{label}, Spalte {col}: gefüllt {_pct(s0)} → {_pct(s1)}, Schwelle"
                     f" −{_pct(th['fill_drop'])}-Punkte".replace(" %-Punkte", " Prozentpunkte"))
                )  # fmt: skip
    return out


def _released(con, did: str) -> bool:
    """Released by a decision a run applied — or, in verify's replay (which knows the decisions
    before the deliveries), by the latest logged decision of a delivery not yet held."""
    logged = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'decision_log' AND temporary"
    ).fetchone()[0]
    latest = (
        " UNION ALL SELECT count(*) FROM (SELECT action FROM decision_log WHERE delivery_id = $d"
        " ORDER BY seq DESC LIMIT 1) WHERE action = 'release'"
        if logged
        else ""
    )
    return any(
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM audit.delivery_decisions WHERE delivery_id = $d AND action ="
            f" 'release'{latest}",
            {"d": did},
        ).fetchall()
    )


def judge(con: duckdb.DuckDBPyConnection, pid: str | None, a, counts: dict) -> Verdict:
    """Compare a delivery (`Arrival` a, its `TableCount`s) with the provider's current snapshot;
    record the reasons in audit.holds when it is held. Timed as stage `thresholds` (make bench:
    at most a second per run at 1,000,000 cases)."""
    with stage("thresholds"):
        return _judge(con, pid, a, counts)


def _judge(con: duckdb.DuckDBPyConnection, pid: str | None, a, counts: dict) -> Verdict:
    if pid is None:
        return Verdict()
    if _released(con, a.delivery_id):
        older = con.execute(
            "SELECT count(*) FROM audit.holds WHERE delivery_id = ? AND rule = 'snapshot_older'",
            [a.delivery_id],
        ).fetchone()[0]
        return Verdict(force=bool(older))
    current = {
        r[0]: r[1:]
        for r in con.execute(
            """SELECT t, d.snapshot_on, d.received_at, d.delivery_id,
                      coalesce(dt.rows_rejected / nullif(dt.rows_received, 0), 0),
                      d.run_id IS NOT DISTINCT FROM ?
               FROM (SELECT *, unnest(current_tables) AS t FROM audit.deliveries
                     WHERE provider_id = ?) d
               LEFT JOIN audit.delivery_tables dt
                 ON dt.delivery_id = d.delivery_id AND dt.table_name = d.t""",
            [a.run_id, pid],
        ).fetchall()
    }
    reasons = []
    for name in [t for t in a.tables if t in current and t in counts]:
        cur = current[name]
        if (cur[0], cur[1], cur[2]) > a.snapshot_key:
            # within one run the snapshots are put in order: older is only a hold across runs
            if not cur[4] and _resolved(con, pid, name)["snapshot_older"] > 0:
                reasons.append(
                    (name, "snapshot_older", None, None, None, None,
                     f"{load_contract().tables[name].label}: Stand vom {a.snapshot_on:%d.%m.%Y}"
                     f" ist älter als der aktuelle vom {cur[0]:%d.%m.%Y}")
                )  # fmt: skip
            continue
        reasons += _table_reasons(con, pid, name, counts[name], cur)
    if reasons:
        con.executemany(
            "INSERT INTO audit.holds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.delivery_id, pid, *r) for r in reasons],
        )
    return Verdict(reasons)
