"""One landed delivery's way through a run: decide whether to open it (a crash while reading
it before sends it to the probe first), count the attempt, read and check it, record it.
`pipelines.ingest.batch` runs these steps for several deliveries side by side; recording is
one transaction, begun only when the deliveries before it are recorded."""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from data_contracts import Contract
from kernel.workspace import Workspace
from pipelines.ingest import together
from pipelines.ingest.faults import interrupts, raise_if_ctrl_c
from pipelines.ingest.landing import crash_point, move_to_quarantine
from pipelines.ingest.limits import Limits, probe_survives, watchdog
from pipelines.ingest.load import (
    ApplyResult,
    Inspection,
    create_rejections_tmp,
    inspect_delivery,
    log_unreadable,
    record_inspection,
    rollback,
    unreadable_reason,
)
from pipelines.ingest.reader import Fault, ParsedDelivery
from pipelines.observe import stage

log = logging.getLogger("lagebild.ingest")


@dataclass
class Attempt:
    """A landed delivery under way: what landing recorded, and why it is not opened (if so)."""

    delivery_id: str
    source_name: str
    sha256: str
    received_at: datetime
    landed_at: datetime
    landed_path: str | None
    extra: list[str]
    unopened: str | None  # None: open it; else the reason ("" for landing's faults alone)

    @classmethod
    def of(cls, ws: Workspace, landing_row: tuple, limits: Limits) -> Attempt:
        """Decide whether to open a landed delivery (a crash while reading it before: probe it
        in another process first; twice: never again)."""
        did, source_name, sha, received_at, landed_at, landed_path, attempts, faults = landing_row
        unopened: str | None = None
        if landed_path is None:
            unopened = ""  # not copied (symlink, FIFO, too big …): quarantined with its faults
        elif attempts >= 2:
            unopened = (
                "nicht lesbar: die Verarbeitung wurde mehrfach abgebrochen (Absturz beim Lesen)"
            )
        elif attempts == 1 and not probe_survives(ws.root / landed_path, limits):
            unopened = (
                "nicht lesbar: das Lesen der Lieferung brach den Prozess ab (Absturz oder"
                " Speicher-/Zeitgrenze); sie wurde nicht erneut geöffnet"
            )
        return cls(
            did, source_name, sha, received_at, landed_at, landed_path, list(faults or []), unopened
        )

    def workdir(self, ws: Workspace) -> Path:
        return ws.root / ".work" / self.delivery_id


def mark_attempt(con: duckdb.DuckDBPyConnection, a: Attempt, step: int = 1) -> None:
    """Count an attempt before the delivery is opened (committed at once), so a crash while
    reading it is known at the next run; -1 when the user interrupted it."""
    con.execute(
        "UPDATE audit.landing SET attempts = attempts + ? WHERE delivery_id = ?",
        [step, a.delivery_id],
    )


def inspect_attempt(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    a: Attempt,
    contract: Contract,
    limits: Limits,
    rules: bool = True,
) -> Inspection:
    """Read and check a delivery into the connection's temp tables, in one transaction that
    writes nothing to the warehouse (a transaction per statement would commit every temp table
    of the reader to the warehouse file's log). Runs side by side with another delivery's.
    `rules=False`: read and gate only (its rows are checked with others': `read_apart`)."""
    if a.unopened is not None:
        create_rejections_tmp(con)
        insp = Inspection(parsed=ParsedDelivery(source_name=a.source_name, kind="other"))
        insp.quarantine = [Fault(f) for f in [*a.extra, a.unopened] if f]
        return insp
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "CREATE OR REPLACE TEMP VIEW provider_cases AS SELECT provider_id, case_id"
            " FROM staging.cases"
        )
        insp = inspect_delivery(
            con,
            ws.root / a.landed_path,
            a.workdir(ws),
            contract,
            known_cases="provider_cases",
            limits=limits,
            extra_faults=a.extra,
            received_on=a.received_at.date(),
            rules=rules,
        )
        if insp.unreadable:  # an error inside may have aborted the transaction: start over
            rollback(con)
            create_rejections_tmp(con)
        else:
            con.execute("COMMIT")
    except interrupts():
        rollback(con)
        raise
    except BaseException as exc:  # around the reading (the transaction): still the delivery's
        rollback(con)
        raise_if_ctrl_c(exc)
        log_unreadable(exc, a.source_name)
        create_rejections_tmp(con)
        insp = Inspection(parsed=ParsedDelivery(source_name=a.source_name, kind="other"))
        insp.quarantine = [Fault(f) for f in [*a.extra, unreadable_reason(exc)] if f]
        insp.unreadable = True
    return insp


def read_apart(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    a: Attempt,
    contract: Contract,
    limits: Limits,
    part: int,
) -> tuple[Inspection | None, bool]:
    """Read and gate a delivery whose rows are checked with others' (`pipelines.ingest.together`)
    as number `part`. Returns (inspection, joined): joined, its raw tables are set aside for
    `check_parts`; not joined, the inspection is final (quarantined), or None when the
    delivery must be read alone at its turn (its rows refer to the provider's cases in
    staging)."""
    insp = inspect_attempt(con, ws, a, contract, limits, rules=False)
    if insp.quarantine or insp.unreadable:
        return insp, False
    if not together.may_join(insp):
        return None, False
    try:
        with _temp_only(con):
            together.set_aside(con, insp, part)
    except interrupts():
        raise
    except BaseException as exc:
        raise_if_ctrl_c(exc)
        return None, False
    shutil.rmtree(a.workdir(ws), ignore_errors=True)  # its rows are read: no unpacked files wait
    return insp, True


def check_parts(
    con: duckdb.DuckDBPyConnection, insps: list[Inspection], contract: Contract, limits: Limits
) -> bool:
    """The row rules of the joined deliveries in one statement per table. `limits` carries the
    earliest deadline of theirs: a delivery never gets more time here than alone. False when
    that fails (whatever the reason, also the time limit): each is then read alone, where a
    fault of its own quarantines it alone."""
    try:
        with _temp_only(con), stage("validate"), watchdog(con, limits):
            together.check_together(con, insps, contract)
    except interrupts():
        raise
    except BaseException as exc:
        raise_if_ctrl_c(exc)
        if not (limits.cancel is not None and limits.cancel.is_set()):
            log.info("Zeilenregeln von %d Lieferungen gemeinsam nicht geprüft: einzeln", len(insps))
        return False
    return True


def take_part(con: duckdb.DuckDBPyConnection, insp: Inspection, part: int) -> Inspection | None:
    """The joined delivery's checked rows, rejections and counts, as if it had been checked
    alone; None when that fails (it is read alone then)."""
    try:
        with _temp_only(con), stage("validate"):
            together.take_part(con, insp, part)
    except interrupts():
        raise
    except BaseException as exc:
        raise_if_ctrl_c(exc)
        return None
    return insp


@contextlib.contextmanager
def _temp_only(con: duckdb.DuckDBPyConnection):
    """A transaction around statements on temp tables only (see `inspect_attempt`)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:  # also a failed COMMIT: the cursor never stays in a transaction
        rollback(con)
        raise


def reads_current_cases(insp: Inspection) -> bool:
    """Whether the checks read the provider's cases in staging (a delivery without cases whose
    rows refer to cases): then it must be checked after the deliveries before it are loaded."""
    tables = insp.parsed.tables
    return "cases" not in tables and any(st.table.references for st in tables.values())


def record_attempt(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    a: Attempt,
    insp: Inspection,
    run_id: str | None,
) -> ApplyResult:
    """Record an inspected delivery (quarantine or load into staging): one transaction. Never
    raises for anything in the delivery: a failure while recording quarantines it unopened."""
    args = (a.delivery_id, a.source_name, a.sha256, a.received_at, a.landed_at, run_id)
    try:
        try:
            con.execute("BEGIN TRANSACTION")
            result = record_inspection(con, insp, *args)
            crash_point("apply.before_commit")
            with stage("staging"):  # writing the recorded rows to the warehouse file
                con.execute("COMMIT")
        except interrupts():
            rollback(con)
            raise
        except BaseException as exc:  # recording failed: quarantine it unopened
            rollback(con)
            raise_if_ctrl_c(exc)
            log_unreadable(exc, a.source_name)
            con.execute("BEGIN TRANSACTION")
            create_rejections_tmp(con)
            insp = Inspection(parsed=ParsedDelivery(source_name=a.source_name, kind="other"))
            insp.quarantine = [Fault(f) for f in [*a.extra, unreadable_reason(exc)] if f]
            result = record_inspection(con, insp, *args)
            con.execute("COMMIT")
    finally:
        shutil.rmtree(a.workdir(ws), ignore_errors=True)
    if result.status == "quarantined":
        crash_point("quarantine.committed")
        move_to_quarantine(ws, a.delivery_id, [f.reason for f in insp.quarantine])
    return result


def apply_delivery(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    landing_row: tuple,
    contract: Contract,
    run_id: str | None,
    limits: Limits | None = None,
) -> ApplyResult:
    """Inspect a landed delivery and record it. Never raises for anything in the delivery: it
    ends quarantined "nicht lesbar" instead (see the module docstring)."""
    limits = limits or Limits()
    a = Attempt.of(ws, landing_row, limits)
    mark_attempt(con, a)
    try:
        insp = inspect_attempt(con, ws, a, contract, limits)
    except interrupts():
        mark_attempt(con, a, -1)
        shutil.rmtree(a.workdir(ws), ignore_errors=True)
        raise
    try:
        return record_attempt(con, ws, a, insp, run_id)
    except interrupts():
        mark_attempt(con, a, -1)
        raise
