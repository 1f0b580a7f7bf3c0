"""The delivery watchdog (pipelines.ingest.limits.watchdog): a query past the delivery's deadline
or of a stopped run is interrupted, a finished reading never is, and all readings share one
thread instead of starting one each."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from pipelines.ingest.limits import Limits, watchdog

# a query that runs for minutes unless interrupted
ENDLESS = "SELECT count(*) FROM range(1_000_000_000_000) t(i) WHERE hash(i) = 7"


def _watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lagebild-watchdog"]


def test_a_query_past_the_deadline_is_interrupted():
    con = duckdb.connect()
    limits = Limits(timeout_seconds=0.3).start()
    started = time.monotonic()
    with pytest.raises(duckdb.InterruptException), watchdog(con, limits):
        con.execute(ENDLESS).fetchall()
    assert time.monotonic() - started < 5  # a tick (0.5 s) after the deadline, not minutes


def test_a_stopped_run_interrupts_the_query():
    con = duckdb.connect()
    cancel = threading.Event()
    limits = Limits(timeout_seconds=3600, cancel=cancel).start()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(duckdb.InterruptException), watchdog(con, limits):
        con.execute(ENDLESS).fetchall()


def test_a_finished_reading_is_not_interrupted_afterwards():
    con = duckdb.connect()
    limits = Limits(timeout_seconds=0.0001).start()  # past its deadline at once
    with watchdog(con, limits):
        pass
    time.sleep(1.2)  # two ticks of the watcher
    assert con.execute("SELECT count(*) FROM range(3000000)").fetchone()[0] == 3_000_000


def test_readings_share_one_watching_thread():
    con = duckdb.connect()
    with watchdog(con, Limits().start()):
        pass
    before = threading.active_count()
    for _ in range(50):
        with watchdog(con, Limits().start()), watchdog(con, Limits().start()):
            con.execute("SELECT 1").fetchall()
    assert threading.active_count() == before
    assert len(_watchdog_threads()) == 1


def test_readings_side_by_side_each_keep_their_deadline():
    slow, quick = duckdb.connect(), duckdb.connect()
    errors: list[BaseException] = []

    def read_long() -> None:
        try:
            with watchdog(slow, Limits(timeout_seconds=0.3).start()):
                slow.execute(ENDLESS).fetchall()
        except BaseException as exc:  # what the reading raised
            errors.append(exc)

    reader = threading.Thread(target=read_long)
    reader.start()
    with watchdog(quick, Limits(timeout_seconds=3600).start()):
        for _ in range(20):  # the other reading goes on through the interrupt
            assert quick.execute("SELECT count(*) FROM range(100000)").fetchone()[0] == 100_000
            time.sleep(0.05)
    reader.join(10)
    assert [type(e) for e in errors] == [duckdb.InterruptException]
