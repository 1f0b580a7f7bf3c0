"""Deliveries are read and checked side by side (pipelines.ingest.batch, `readers`), recorded
one after the other in the pending order: the warehouse must be exactly what reading them one
after the other gives, whatever finishes first."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.ingest import attempt, batch
from pipelines.ingest.limits import Limits
from tests.fixtures import messy
from tests.hostile.corpus import HEAD, case_row, cases_csv, csv_text, folder, landed_workspace

# what differs between two workspaces by construction (ids, clocks, paths)
VOLATILE = {"delivery_id", "landed_at", "received_at", "run_id", "landed_path", "message"}
GOALS_HEAD = "provider_id,case_id,goal_id,domain,set_on,due_on,status,status_on,offer_available"


def _contents(con) -> dict[str, list[tuple]]:
    """Every staging and audit table, sorted, without the volatile columns."""
    out = {}
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema IN ('staging', 'audit') AND table_name <> 'runs' ORDER BY 1, 2"
    ).fetchall()
    for schema, table in tables:
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
            if c not in VOLATILE
        ]
        sel = ", ".join(f'"{c}"' for c in cols)
        out[f"{schema}.{table}"] = con.execute(
            f"SELECT {sel} FROM {schema}.{table} ORDER BY ALL"
        ).fetchall()
    return out


def test_reading_side_by_side_gives_what_one_after_the_other_gives(tmp_path):
    inbox = tmp_path / "inbox"
    messy.mixed_inbox(inbox)  # supersede, duplicates, quarantine, row faults, XLSX
    folder(inbox, "pz_nur_ziele", {"goals.csv": _goals("kim-koeln", ["K-1001", "K-1002"])})
    got = {}
    for readers in (1, 3):
        con, ws = landed_workspace(tmp_path / f"ws{readers}", inbox)
        results = batch.ingest_pending(con, ws, readers=readers)
        got[readers] = (sorted((r.source_name, r.status) for r in results), _contents(con))
        con.close()
    assert len(got[1][0]) >= 7
    assert {s for _, s in got[1][0]} >= {"accepted", "quarantined", "partial"}
    assert got[3][0] == got[1][0]
    for table, rows in got[1][1].items():
        assert got[3][1][table] == rows, table


def _good_deliveries(tmp_path, n: int):
    """A workspace with `n` valid deliveries landed, `{i}_gut` of provider `p{i}`."""
    inbox = tmp_path / "inbox"
    for i in range(n):
        folder(inbox, f"{i}_gut", {"cases.csv": cases_csv(f"p{i}")})
    return landed_workspace(tmp_path / "ws", inbox)


def _goals(pid: str, cases: list[str]) -> str:
    row = ["Z1", "sprache", "2025-02-01", "2025-06-01", "teilweise", "", "true"]
    return csv_text(GOALS_HEAD, [[pid, c, *row] for c in cases])


def test_a_delivery_without_cases_is_checked_against_the_cases_loaded_before_it(
    tmp_path, monkeypatch
):
    """Goals without a cases file refer to the provider's cases in staging: if they were read
    while the cases before them were still being recorded, every goal would be rejected as
    belonging to an unknown case. The reader checks them again in their turn."""
    inbox = tmp_path / "inbox"
    folder(inbox, "a_faelle", {"cases.csv": cases_csv("pa", n=2)})
    folder(inbox, "b_ziele", {"goals.csv": _goals("pa", ["K1", "K2"])})
    con, ws = landed_workspace(tmp_path / "ws", inbox)

    goals_read = threading.Event()
    real_inspect, real_record = batch.inspect_attempt, batch.record_attempt

    def inspect(cur, ws_, a, *args, **kw):
        insp = real_inspect(cur, ws_, a, *args, **kw)
        if a.source_name == "b_ziele":
            goals_read.set()
        return insp

    def record(cur, ws_, a, *args, **kw):
        if a.source_name == "a_faelle":  # the goals are read before the cases are loaded
            assert goals_read.wait(60)
        return real_record(cur, ws_, a, *args, **kw)

    monkeypatch.setattr(batch, "inspect_attempt", inspect)
    monkeypatch.setattr(attempt, "inspect_attempt", inspect)  # the first reading (`read_apart`)
    monkeypatch.setattr(batch, "record_attempt", record)
    results = {r.source_name: r for r in batch.ingest_pending(con, ws, readers=2)}
    assert results["a_faelle"].status == "accepted"
    assert (results["b_ziele"].status, results["b_ziele"].rows_loaded) == ("accepted", 2)
    assert con.execute("SELECT count(*) FROM staging.goals").fetchone()[0] == 2
    con.close()


@pytest.mark.parametrize("readers", [2, 3])
def test_an_interrupt_while_others_are_read_leaves_no_attempt_counted(
    tmp_path, monkeypatch, readers
):
    """The user stops the run while deliveries are read side by side: none of them counts as
    crashed (that would send it to the probe next time), none is recorded after the stop."""
    con, ws = _good_deliveries(tmp_path, 5)
    real = batch.inspect_attempt

    def inspect(cur, ws_, a, *args, **kw):
        if a.source_name == "1_gut":
            raise KeyboardInterrupt
        return real(cur, ws_, a, *args, **kw)

    monkeypatch.setattr(batch, "inspect_attempt", inspect)
    monkeypatch.setattr(attempt, "inspect_attempt", inspect)  # the first reading (`read_apart`)
    with pytest.raises(KeyboardInterrupt):
        batch.ingest_pending(con, ws, readers=readers)
    unrecorded = "SELECT max(attempts) FROM audit.landing WHERE NOT processed"
    assert con.execute(unrecorded).fetchone()[0] == 0
    recorded = {r[0] for r in con.execute("SELECT source_name FROM audit.deliveries").fetchall()}
    assert recorded <= {"0_gut"}  # only what came before the stop in the pending order
    con.close()


def test_a_provider_id_padded_with_non_breaking_spaces_is_that_provider(tmp_path):
    """Spreadsheet exports pad cells with U+00A0. The row rules trim it away when loading, so
    the provider check must read the same provider — else the new snapshot would not replace
    the old one, and the provider's cases would be counted twice."""
    inbox = tmp_path / "inbox"
    folder(inbox, "a_alt", {"cases.csv": cases_csv("pa", n=2)})
    folder(inbox, "b_neu", {"cases.csv": cases_csv("pa\u00a0", n=3)})
    con, ws = landed_workspace(tmp_path / "ws", inbox)
    results = {r.source_name: r for r in batch.ingest_pending(con, ws)}
    assert results["b_neu"].provider_id == "pa" and results["b_neu"].status == "accepted"
    assert results["a_alt"].status == "accepted"
    staged = con.execute("SELECT provider_id, count(*) FROM staging.cases GROUP BY 1").fetchall()
    assert staged == [("pa", 3)]
    con.close()


@pytest.mark.parametrize("together", [1, 2])
def test_the_users_stop_while_waiting_for_a_delivery_records_nothing_more(
    tmp_path, monkeypatch, together
):
    """Ctrl-C reaches the main thread while it waits for the readers (here: raised from the
    progress line of the first delivery): nothing begun after it is recorded, no attempt counts
    as a crash, nothing is left in the work folder. The other readers' deliveries are still
    being read when the stop comes (their reading waits for it), as on a real Ctrl-C. With runs
    of two, the second delivery of the first run is read already: its turn comes as the first
    is recorded, so it may be recorded before the main thread stops the run (a recording that
    has begun is completed, never cut off) – but never a delivery of another run."""
    monkeypatch.setattr(batch, "TOGETHER", together)
    first_run = {f"{i}_gut" for i in range(together)}
    con, ws = _good_deliveries(tmp_path, 12)  # enough for runs of two on three readers
    stopped = threading.Event()
    real_stop, real_inspect = batch._Turns.stop, batch.inspect_attempt

    def stop(self) -> None:
        real_stop(self)
        stopped.set()

    def inspect(cur, ws_, a, *args, **kw):
        if a.source_name not in first_run:
            assert stopped.wait(60)
        return real_inspect(cur, ws_, a, *args, **kw)

    def progress(line: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch._Turns, "stop", stop)
    monkeypatch.setattr(batch, "inspect_attempt", inspect)
    monkeypatch.setattr(attempt, "inspect_attempt", inspect)  # the first reading (`read_apart`)
    with pytest.raises(KeyboardInterrupt):
        batch.ingest_pending(con, ws, progress=progress, readers=3)
    unrecorded = "SELECT max(attempts) FROM audit.landing WHERE NOT processed"
    assert con.execute(unrecorded).fetchone()[0] == 0
    recorded = [r[0] for r in con.execute("SELECT source_name FROM audit.deliveries").fetchall()]
    in_flight = sorted(first_run)[: len(recorded)]  # in the pending order, from the first on
    assert recorded[:1] == ["0_gut"] and sorted(recorded) == in_flight
    assert not any((ws.root / ".work").glob("*/*"))
    con.close()


def test_deliveries_a_crash_interrupted_are_read_one_at_a_time(tmp_path, monkeypatch):
    """A delivery with a counted attempt (a crash while reading it) is probed and read alone,
    after the others: a second crash is then charged to the delivery that caused it."""
    con, ws = _good_deliveries(tmp_path, 4)
    con.execute("UPDATE audit.landing SET attempts = 1 WHERE source_name IN ('1_gut', '2_gut')")
    monkeypatch.setattr(attempt, "probe_survives", lambda *a: True)
    alone: list[str] = []
    real = batch.apply_delivery

    def apply(con_, ws_, row, *a, **k):
        alone.append(row[1])
        return real(con_, ws_, row, *a, **k)

    monkeypatch.setattr(batch, "apply_delivery", apply)
    results = batch.ingest_pending(con, ws, readers=3)
    assert [r.source_name for r in results] == ["0_gut", "3_gut", "1_gut", "2_gut"]
    assert alone == ["1_gut", "2_gut"]
    assert {r.status for r in results} == {"accepted"}
    con.close()


@pytest.mark.parametrize("stop", [False, True])
def test_readers_query_on_one_thread_each_and_the_run_gets_its_threads_back(
    tmp_path, monkeypatch, stop
):
    """Side by side, each delivery's queries run on one DuckDB thread (the readers are the
    parallelism); DuckDB's `threads` belongs to the whole database, so the marts after the
    ingest must get the setting back, also when the user stopped the ingest."""
    con, ws = _good_deliveries(tmp_path, 4)
    con.execute("SET threads = 2")
    seen = []
    real = batch.inspect_attempt

    def inspect(cur, ws_, a, *args, **kw):
        seen.append(cur.execute("SELECT current_setting('threads')").fetchone()[0])
        if stop and a.source_name == "2_gut":
            raise KeyboardInterrupt
        return real(cur, ws_, a, *args, **kw)

    monkeypatch.setattr(batch, "inspect_attempt", inspect)
    monkeypatch.setattr(attempt, "inspect_attempt", inspect)  # the first reading (`read_apart`)
    if stop:
        with pytest.raises(KeyboardInterrupt):
            batch.ingest_pending(con, ws, readers=3)
    else:
        assert len(batch.ingest_pending(con, ws, readers=3)) == 4
    assert seen and set(seen) == {1}
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    con.close()


@pytest.mark.parametrize("failing", ["check_together", "take_part"])
def test_deliveries_whose_joint_check_fails_are_each_read_alone(tmp_path, monkeypatch, failing):
    """Whatever goes wrong when a reader checks its run of deliveries together (the shared
    statement, or taking one delivery's part of it), each delivery is read and judged alone:
    nothing is lost or quarantined for a neighbour's sake."""
    from pipelines.ingest import together

    inbox = tmp_path / "inbox"
    for i in range(7):  # runs of two on two readers
        folder(inbox, f"{i}_gut", {"cases.csv": cases_csv(f"p{i}", n=2)})
    bad = csv_text(HEAD, [case_row("p7", "K1"), case_row("p7", "K2", program="xyz")])
    folder(inbox, "7_teils", {"cases.csv": bad})
    joint = []
    real_check = batch.check_parts

    def check(*args, **kw):
        joint.append(real_check(*args, **kw))
        return joint[-1]

    monkeypatch.setattr(batch, "check_parts", check)
    con, ws = landed_workspace(tmp_path / "ws", inbox)

    def boom(*args, **kw):
        raise RuntimeError("kaputt")

    monkeypatch.setattr(batch, "TOGETHER", 4)
    monkeypatch.setattr(together, failing, boom)
    results = {r.source_name: r for r in batch.ingest_pending(con, ws, readers=2)}
    assert {n: (r.status, r.rows_loaded, r.rows_rejected) for n, r in results.items()} == {
        **{f"{i}_gut": ("accepted", 2, 0) for i in range(7)},
        "7_teils": ("partial", 1, 1),
    }
    assert len(joint) == 4 and all(joint) == (failing == "take_part")
    assert con.execute("SELECT count(*) FROM staging.cases").fetchone()[0] == 15
    assert con.execute("SELECT count(*) FROM audit.rejections").fetchone()[0] == 1
    con.close()


def test_an_unexpected_error_counts_only_for_its_delivery_not_for_its_run(tmp_path, monkeypatch):
    """An error nobody foresaw while one delivery is recorded stops the run, as one after the
    other. It counts as an attempt of that delivery; the others of its run, read and waiting
    for their turn, count as not attempted and leave nothing in the work folder."""
    con, ws = _good_deliveries(tmp_path, 8)
    real = batch.record_attempt

    def record(cur, ws_, a, *args, **kw):
        if a.source_name == "0_gut":
            raise OSError("Platte voll")
        return real(cur, ws_, a, *args, **kw)

    monkeypatch.setattr(batch, "TOGETHER", 4)
    monkeypatch.setattr(batch, "record_attempt", record)
    with pytest.raises(OSError):
        batch.ingest_pending(con, ws, readers=2)  # runs of two: 0 and 1, 2 and 3, …
    attempts = dict(con.execute("SELECT source_name, attempts FROM audit.landing").fetchall())
    assert attempts == {"0_gut": 1, **{f"{i}_gut": 0 for i in range(1, 8)}}
    culprit = con.execute(
        "SELECT delivery_id FROM audit.landing WHERE source_name = '0_gut'"
    ).fetchone()[0]
    assert {p.name for p in (ws.root / ".work").glob("*")} <= {culprit}
    con.close()


def test_the_joint_check_ends_within_the_first_deliverys_time_limit(tmp_path, monkeypatch):
    """Alone, reading and checking a delivery share one time limit. Checked with others, its
    rows are checked after the whole run is read: that check must end by the earliest deadline
    of the run's deliveries, never get a fresh one."""
    con, ws = _good_deliveries(tmp_path, 8)
    starts: dict[int, list[float]] = {}  # per reader thread
    missed: list[tuple] = []
    real_read, real_check = batch.read_apart, batch.check_parts

    def read(*args, **kw):
        starts.setdefault(threading.get_ident(), []).append(time.monotonic())
        got = real_read(*args, **kw)
        time.sleep(0.4)  # a slow reading: the run's second one starts 0.4 s later
        return got

    def check(cur, insps, contract, limits):
        first = starts[threading.get_ident()][-2]  # this run's first reading (runs of two)
        missed.append((len(insps), round(limits.deadline - (first + 600), 3)))
        return real_check(cur, insps, contract, limits)

    monkeypatch.setattr(batch, "TOGETHER", 2)
    monkeypatch.setattr(batch, "read_apart", read)
    monkeypatch.setattr(batch, "check_parts", check)
    limits = Limits(timeout_seconds=600)
    results = batch.ingest_pending(con, ws, limits=limits, readers=2)
    assert {r.status for r in results} == {"accepted"} and len(missed) == 4
    assert all(n == 2 and abs(late) < 0.2 for n, late in missed), missed
    con.close()


def test_a_run_of_one_delivery_is_read_and_checked_alone(tmp_path, monkeypatch):
    """Fewer deliveries than readers: each reader has one, read as before, without the joint
    check's copies."""
    con, ws = _good_deliveries(tmp_path, 2)

    def read_apart(*args, **kw):
        raise AssertionError("a run of one is read alone")

    monkeypatch.setattr(batch, "read_apart", read_apart)
    results = batch.ingest_pending(con, ws, readers=3)
    assert [(r.source_name, r.status) for r in results] == [
        ("0_gut", "accepted"),
        ("1_gut", "accepted"),
    ]
    con.close()


def test_a_failed_commit_of_temp_tables_leaves_the_cursor_usable():
    """`_temp_only` rolls back when its COMMIT fails too: a cursor left in a transaction would
    quarantine the next delivery it reads as unreadable."""
    import duckdb

    class FailingCommit:
        def __init__(self, con):
            self.con = con

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise duckdb.TransactionException("commit failed")
            return self.con.execute(sql, *args)

    con = duckdb.connect()
    with pytest.raises(duckdb.TransactionException), attempt._temp_only(FailingCommit(con)):
        con.execute("CREATE TEMP TABLE t AS SELECT 1 AS x")
    con.execute("BEGIN TRANSACTION")  # fails if the cursor were still in the old transaction
    con.execute("ROLLBACK")
    assert (
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'").fetchone()[0]
        == 0
    )
