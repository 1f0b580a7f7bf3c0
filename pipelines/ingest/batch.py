"""A run's ingest: every pending landed delivery in turn, then the duplicates' audit rows and
the data basis (the as_of every figure of the run counts to)."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import duckdb

from data_contracts import load_contract
from kernel.settings import load_settings
from kernel.workspace import Workspace
from pipelines.ingest import holds
from pipelines.ingest.attempt import (
    Attempt,
    apply_delivery,
    inspect_attempt,
    mark_attempt,
    reads_current_cases,
    record_attempt,
)
from pipelines.ingest.landing import complete_moves
from pipelines.ingest.limits import Limits
from pipelines.ingest.load import ApplyResult

# deliveries read at once: one per core, and one more that reads while another is recorded
# (1,000,000 cases on 2 cores: 82 s one after the other, 47 s with two readers, 43 s with three)
READERS = min(4, (os.cpu_count() or 1) + 1)


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

    if readers <= 1 or len(pending) <= 1:
        for i, row in enumerate(pending, 1):
            t0 = time.perf_counter()
            res = apply_delivery(con, ws, row, contract, run_id, limits)
            report(i, res, time.perf_counter() - t0)
    else:
        _side_by_side(con, ws, pending, contract, run_id, limits, readers, report)
    record_duplicates(con, run_id)
    return results


class _Stopped(Exception):
    """Another delivery was interrupted by the user: do not record this one."""


class _Turns:
    """Recording in the order of the pending list, one delivery at a time."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.next = 0
        self.stopped = False
        self.write = threading.Lock()  # one writing statement or transaction at a time

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
            self.stopped = True
            self.cond.notify_all()


def _side_by_side(con, ws, pending, contract, run_id, limits, readers, report) -> None:
    """Read and check up to `readers` deliveries at once, record them in order (see
    `ingest_pending`). Each reader is a cursor of `con`: its own temp tables, one database."""
    turns = _Turns()
    idle: queue.SimpleQueue = queue.SimpleQueue()
    opened = [con.cursor() for _ in range(readers)]
    reading: set = set()  # cursors reading a delivery: interrupted when the user stops the run
    for cur in opened:
        holds.write_thresholds(cur, load_settings(ws.root))
        idle.put(cur)

    def read(cur, a: Attempt):
        reading.add(cur)
        try:
            return inspect_attempt(cur, ws, a, contract, limits)
        finally:
            reading.discard(cur)

    def one(i: int, row: tuple) -> tuple[ApplyResult, float]:
        cur = idle.get()
        t0 = time.perf_counter()
        try:
            a = Attempt.of(ws, row, limits)
            with turns.write:
                mark_attempt(cur, a)
            try:
                if turns.stopped:
                    raise _Stopped
                insp = read(cur, a)
                turns.wait(i)
                if reads_current_cases(insp):  # checked against the staging of its turn
                    insp = read(cur, a)
            except BaseException:
                with turns.write:
                    mark_attempt(cur, a, -1)
                shutil.rmtree(a.workdir(ws), ignore_errors=True)
                raise
            with turns.write:
                return record_attempt(cur, ws, a, insp, run_id), time.perf_counter() - t0
        except BaseException:
            turns.stop()  # nothing after a delivery that failed or was interrupted is recorded
            raise
        finally:
            turns.done(i)
            idle.put(cur)

    pool = ThreadPoolExecutor(readers, thread_name_prefix="lagebild-reader")
    futures = [pool.submit(one, i, row) for i, row in enumerate(pending)]
    try:
        for i, fut in enumerate(futures, 1):
            report(i, *fut.result())
    except BaseException as exc:
        turns.stop()
        for cur in list(reading):
            with contextlib.suppress(Exception):
                cur.interrupt()
        if isinstance(exc, _Stopped):  # raise what stopped it (a later delivery's error)
            pool.shutdown(wait=True, cancel_futures=True)
            for fut in futures:
                cause = None if fut.cancelled() else fut.exception()
                if cause is not None and not isinstance(cause, _Stopped):
                    raise cause from None
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for cur in opened:
            with contextlib.suppress(Exception):
                cur.close()


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
    con: duckdb.DuckDBPyConnection, as_of: date | None, run_id: str | None = None
) -> date | None:
    """Write meta.data_basis: as_of given, else the earliest current snapshot date."""
    providers, deliveries, earliest = con.execute(
        "SELECT count(DISTINCT provider_id), count(*), min(snapshot_on) FROM audit.deliveries"
        " WHERE len(current_tables) > 0"
    ).fetchone()
    resolved = as_of or earliest
    source = "argument" if as_of else "lieferungen"
    con.execute("DELETE FROM meta.data_basis")
    con.execute(
        "INSERT INTO meta.data_basis VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?)",
        [resolved, source, providers, deliveries, run_id],
    )
    return resolved
