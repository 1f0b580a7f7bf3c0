"""A run's ingest: every pending landed delivery in turn, then the duplicates' audit rows and
the data basis (the as_of every figure of the run counts to)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

import duckdb

from data_contracts import load_contract
from kernel.settings import Settings
from kernel.workspace import Workspace
from pipelines.ingest import holds
from pipelines.ingest.attempt import (
    Attempt,
    apply_delivery,
    check_parts,
    inspect_attempt,
    mark_attempt,
    read_apart,
    reads_current_cases,
    record_attempt,
    take_part,
)
from pipelines.ingest.faults import interrupts
from pipelines.ingest.landing import complete_moves
from pipelines.ingest.limits import Limits
from pipelines.ingest.load import (
    EARLIEST_EXPORT,
    ApplyResult,
    Inspection,
    create_rejections_tmp,
)
from pipelines.ingest.together import drop_together

# deliveries read at once: one per core, and one more that reads while another is recorded
# (1,000,000 cases on 2 cores: 82 s one after the other, 47 s with two readers, 43 s with three)
READERS = min(4, (os.cpu_count() or 1) + 1)
# deliveries a reader checks together (`pipelines.ingest.together`): the rules' statements are
# translated once for them all; more would leave one reader alone with the last run
TOGETHER = 4


def pending_deliveries(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Landed, not yet processed deliveries, oldest receipt first (snapshot order is decided
    per table when applying, so the order only matters for ties). Deliveries whose processing
    a crash interrupted come last, so they cannot hold up the others."""
    return con.execute(
        "SELECT delivery_id, source_name, sha256, received_at, landed_at, landed_path,"
        " coalesce(attempts, 0), landing_faults"
        " FROM audit.landing WHERE NOT processed AND duplicate_of IS NULL"
        " ORDER BY coalesce(attempts, 0) > 0, received_at, source_name"
    ).fetchall()


def ingest_pending(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    limits: Limits | None = None,
    readers: int = READERS,
) -> list[ApplyResult]:
    """Apply every pending delivery, in `pending_deliveries` order. With `readers` > 1 the
    next deliveries are read and checked (parse, identifier gate, row rules: the most of the
    time, and read-only) on their own connections while the one before is recorded; recording
    stays one writer, in order, each transaction begun after the previous one committed, so
    the result is that of one delivery after the other (tests/hostile/test_parallel_ingest)."""
    contract = load_contract()
    limits = limits or Limits()
    complete_moves(con, ws)
    holds.prepare(con, ws, run_id)  # thresholds and koordination's decisions (issue 13)
    pending = pending_deliveries(con)
    results = []

    def report(i: int, res: ApplyResult, seconds: float) -> None:
        results.append(res)
        if progress:
            loaded = (
                "gültige Zeilen, bis zur Freigabe nicht in den Zahlen"
                if res.status == "held"
                else "Zeilen geladen"
            )
            progress(
                f"Lieferung {i}/{len(pending)} {res.source_name}: {STATUS_DE[res.status]}"
                f" – {german_int(res.rows_loaded)} {loaded},"
                f" {german_int(res.rows_rejected)} abgelehnt ({seconds:.1f} s)"
            )

    # deliveries a crash interrupted before (attempts > 0, last in the list) are read alone:
    # the next crash must be charged to the delivery that caused it, not to its neighbours
    fresh = [row for row in pending if not row[6]]
    side_by_side = fresh if readers > 1 and len(fresh) > 1 else []
    if side_by_side:
        _side_by_side(con, ws, side_by_side, contract, run_id, limits, readers, report)
    for i, row in enumerate(pending[len(side_by_side) :], len(side_by_side) + 1):
        t0 = time.perf_counter()
        res = apply_delivery(con, ws, row, contract, run_id, limits)
        report(i, res, time.perf_counter() - t0)
    record_duplicates(con, run_id)
    return results


class _Stopped(Exception):
    """The run was stopped (the user, or another delivery's unexpected error): this delivery
    is not recorded, and its attempt does not count as a crash."""


class _Turns:
    """Recording in the order of the list, one delivery at a time; `stop` ends it all."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.next = 0
        self.cancel = threading.Event()  # read by the readers' limits (watchdog, check_time)
        self.write = threading.Lock()  # one writing statement or transaction at a time

    @property
    def stopped(self) -> bool:
        return self.cancel.is_set()

    def wait(self, i: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.next == i or self.stopped)
        if self.stopped:
            raise _Stopped

    def done(self, i: int) -> None:
        with self.cond:
            self.next = max(self.next, i + 1)
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.cancel.set()
            self.cond.notify_all()


def _side_by_side(con, ws, pending, contract, run_id, limits, readers, report) -> None:
    """Read and check up to `readers` runs of deliveries at once, record them in order (see
    `ingest_pending`). Each reader is a cursor of `con`: its own temp tables, one database.
    A reader takes a run of up to TOGETHER deliveries in a row, reads and gates each, checks
    their rows together (`pipelines.ingest.together`), and records each at its turn. A stop
    ends the readings through their limits (`Limits.cancel`) and records nothing more; a
    cursor that records is never interrupted."""
    turns = _Turns()
    limits = dataclasses.replace(limits, cancel=turns.cancel)
    idle: queue.SimpleQueue = queue.SimpleQueue()
    opened = [con.cursor() for _ in range(readers)]
    for cur in opened:
        holds.prepare_reader(cur, ws)
        idle.put(cur)
    recorded: list[Future] = [Future() for _ in pending]  # (result, seconds) per delivery
    # at least two runs per reader: while one reader records, the others read their next run
    # (100,000 cases, 10 deliveries: runs of 4, 4 and 2 took 3.1-3.3 s, runs of 2 2.8-2.9 s)
    size = max(1, min(TOGETHER, math.ceil(len(pending) / (2 * readers))))

    def read_run(first: int) -> None:
        indices = range(first, min(first + size, len(pending)))
        unrecorded: dict[int, Attempt] = {}  # counted as attempted, not yet recorded
        current: int | None = None  # the delivery at work (an unexpected error is its own)
        cur = idle.get()
        try:
            t0 = time.perf_counter()
            ready: dict[int, Inspection | None] = {}  # None: read alone at its turn
            gated: set[int] = set()  # of them, judged by the gate (its rejections come later)
            parts: dict[int, int] = {}  # the others: their number in the joint check
            joined: list[Inspection] = []
            deadline = math.inf  # the joint check ends within every delivery's own time limit
            for i in indices:
                current = i
                if turns.stopped:  # before a probe or a read
                    raise _Stopped
                a = Attempt.of(ws, pending[i], limits)
                with turns.write:
                    if turns.stopped:
                        raise _Stopped
                    mark_attempt(cur, a)
                unrecorded[i] = a
                if len(indices) == 1:  # a run of one: read and checked alone
                    ready[i] = inspect_attempt(cur, ws, a, contract, limits)
                    continue
                deadline = min(deadline, limits.start().deadline)
                insp, joins = read_apart(cur, ws, a, contract, limits, len(joined))
                if joins:
                    parts[i] = len(joined)
                    joined.append(insp)
                else:
                    ready[i] = insp
                    if insp is not None:
                        gated.add(i)
            if joined:
                within = dataclasses.replace(limits, deadline=deadline)
                if not check_parts(cur, joined, contract, within):
                    ready |= dict.fromkeys(parts)  # each read alone
                    parts.clear()
            for i in indices:
                current = i
                a = unrecorded[i]
                if i in parts:
                    insp = take_part(cur, joined[parts[i]], parts[i])
                else:
                    insp = ready[i]
                    if i in gated:
                        create_rejections_tmp(cur)  # not the previous delivery's rejections
                turns.wait(i)
                if insp is None or reads_current_cases(insp):  # checked against its turn's staging
                    insp = inspect_attempt(cur, ws, a, contract, limits)
                with turns.write:
                    if turns.stopped:  # what was read after the stop is not recorded
                        raise _Stopped
                    res = record_attempt(cur, ws, a, insp, run_id)
                    del unrecorded[i]  # recorded: the attempt is done
                turns.done(i)
                recorded[i].set_result((res, time.perf_counter() - t0))
                t0 = time.perf_counter()
            current = None
            cur.execute("BEGIN TRANSACTION")  # temp tables only (`inspect_attempt`)
            drop_together(cur, joined)
            cur.execute("COMMIT")
        except (_Stopped, *interrupts()):
            turns.stop()
            _not_attempted(cur, ws, unrecorded.values(), turns)
            raise
        except BaseException:
            turns.stop()  # an unexpected error stops the run, as one after the other:
            # it counts for its delivery; the others of the run were only waiting
            _not_attempted(cur, ws, [a for i, a in unrecorded.items() if i != current], turns)
            raise
        finally:
            for i in indices:
                turns.done(i)
                if not recorded[i].done():
                    recorded[i].set_exception(_Stopped())
            idle.put(cur)

    with _one_thread_per_query(con):  # restored once the readers are done
        pool = ThreadPoolExecutor(readers, thread_name_prefix="lagebild-reader")
        runs = [pool.submit(read_run, first) for first in range(0, len(pending), size)]
        try:
            for i, fut in enumerate(recorded, 1):
                report(i, *fut.result())
        except BaseException as exc:
            turns.stop()
            if isinstance(exc, _Stopped):  # raise what stopped it (a later delivery's error)
                pool.shutdown(wait=True, cancel_futures=True)
                for fut in runs:
                    cause = None if fut.cancelled() else fut.exception()
                    if cause is not None and not isinstance(cause, _Stopped):
                        raise cause from None
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for cur in opened:
                with contextlib.suppress(Exception):
                    cur.close()


def _not_attempted(cur, ws: Workspace, attempts, turns: _Turns) -> None:
    """Read, but not recorded because the run stopped: no crash, nothing left in `.work`."""
    attempts = list(attempts)
    with turns.write:
        for a in attempts:
            mark_attempt(cur, a, -1)
    for a in attempts:
        shutil.rmtree(a.workdir(ws), ignore_errors=True)


@contextlib.contextmanager
def _one_thread_per_query(con: duckdb.DuckDBPyConnection):
    """While deliveries are read side by side, each DuckDB query runs on one thread: the
    readers are the parallelism. A delivery's queries are small (one provider's tables), and
    splitting each over all cores as well only adds threads that wait for each other
    (1,000,000 cases: ingest 42.1 / 43.2 -> 36.6 / 36.3 s, docs/performance-notes.md). DuckDB's
    `threads` belongs to the database, not a cursor: the run's other steps get theirs back."""
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):  # a broken connection is reported already
            con.execute(f"SET threads = {int(threads)}")


def german_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def record_duplicates(con: duckdb.DuckDBPyConnection, run_id: str | None) -> None:
    """Audit rows for landed duplicates whose original has been processed."""
    con.execute(
        """INSERT INTO audit.deliveries
        SELECT l.delivery_id, o.provider_id, l.source_name, l.sha256, l.received_at, l.landed_at,
               o.exported_on, o.snapshot_on, o.format, o.tables, [], 'duplicate', 0, 0, 0,
               'gleiche Bytes wie Lieferung ' || o.delivery_id || ' (' || o.source_name
               || '); nicht erneut geladen', ?
        FROM audit.landing l JOIN audit.deliveries o ON o.delivery_id = l.duplicate_of
        WHERE l.delivery_id NOT IN (SELECT delivery_id FROM audit.deliveries)""",
        [run_id],
    )


STATUS_DE = {
    "accepted": "angenommen",
    "partial": "teilweise angenommen",
    "quarantined": "Quarantäne",
    "duplicate": "Duplikat",
    "superseded": "ersetzt",
    "held": "zurückgehalten",
    "rejected": "verworfen",
}


def resolve_data_basis(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None,
    run_id: str | None = None,
    first_receipt_days: int = Settings.first_receipt_days,
) -> date | None:
    """Write meta.data_basis: as_of given, else the earliest current snapshot date. A receipt
    held at the edge of a new workspace's window (`landing.received`: its file time was older,
    e.g. 1980 from unzip) says only that the delivery came before its landing: for the cut-off
    it counts as landed, so it cannot cut every provider's figures off (review of 2026-12-06).
    A snapshot date before any date a row may carry (recorded before implausible export dates
    were distrusted, `load._gate`) counts as its landing date as well."""
    providers, deliveries, earliest = con.execute(
        "SELECT count(DISTINCT provider_id), count(*), min(CASE"
        " WHEN snapshot_on < ? THEN landed_at::DATE"
        " WHEN snapshot_on IS DISTINCT FROM exported_on"
        " AND received_at <= landed_at - to_days(?) THEN landed_at::DATE"
        " ELSE snapshot_on END)"
        " FROM audit.deliveries WHERE len(current_tables) > 0",
        [EARLIEST_EXPORT, first_receipt_days - 1],
    ).fetchone()
    resolved = as_of or earliest
    source = "argument" if as_of else "lieferungen"
    con.execute("DELETE FROM meta.data_basis")
    con.execute(
        "INSERT INTO meta.data_basis VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?)",
        [resolved, source, providers, deliveries, run_id],
    )
    return resolved
