"""Dagster's SQLite event log keeps one connection per database file during a run
(pipelines/event_log.py): the same events are stored, far fewer connections are opened, a
wiped log is written anew, and disposing the instance closes what it kept."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psutil
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from pipelines.event_log import keep_connections

CHECKS = 12


@dg.asset
def counted():
    return 1


@dg.multi_asset_check(specs=[dg.AssetCheckSpec(f"rule_{i}", asset=counted) for i in range(CHECKS)])
def rules():
    for i in range(CHECKS):
        yield dg.AssetCheckResult(
            asset_key=counted.key, check_name=f"rule_{i}", passed=i != 3, metadata={"i": i}
        )


@pytest.fixture
def connects():
    """The event log's database files (the index and the runs' own, not runs.db), one entry
    per SQLite connection any SQLAlchemy engine opens to them while the test runs."""
    opened = []

    def on_connect(dbapi_con, _record):
        path = dbapi_con.execute("PRAGMA database_list").fetchone()[2]
        if os.path.basename(os.path.dirname(path)) == "runs":
            opened.append(path)

    event.listen(Engine, "connect", on_connect)
    yield opened
    event.remove(Engine, "connect", on_connect)


def _instance(home, keep: bool):
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    instance = dg.DagsterInstance.from_config(str(home))
    if keep:
        assert keep_connections(instance)
    return instance


def _stored(instance, run_id: str) -> list[tuple]:
    """What a reader of the log sees of a run: every event's type and step, in order, and the
    checks' outcomes."""
    events = [
        (r.dagster_event.event_type_value, r.dagster_event.step_key)
        for r in instance.all_logs(run_id)
        if r.dagster_event is not None
    ]
    checks = sorted(
        (key.name, record.status.value)
        for key, record in instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(counted.key, f"rule_{i}") for i in range(CHECKS)]
        ).items()
    )
    return [*events, *checks]


def test_the_log_stores_the_same_events_over_far_fewer_connections(tmp_path, connects):
    plain = _instance(tmp_path / "plain", keep=False)
    before = len(connects)
    run = dg.materialize([counted, rules], instance=plain, raise_on_error=False)
    plain_connects = len(connects) - before

    kept = _instance(tmp_path / "kept", keep=True)
    before = len(connects)
    run_kept = dg.materialize([counted, rules], instance=kept, raise_on_error=False)
    kept_connects = len(connects) - before

    assert _stored(kept, run_kept.run_id) == _stored(plain, run.run_id)
    assert ("rule_3", "FAILED") in _stored(kept, run_kept.run_id)
    # Dagster's own: one connection per transaction (> 3 per check); kept: one per file and
    # the few that create the run's file
    assert plain_connects > 3 * CHECKS
    assert kept_connects <= 8


def test_a_wiped_log_is_written_anew_not_into_deleted_files(tmp_path):
    instance = _instance(tmp_path / "home", keep=True)
    first = dg.materialize([counted, rules], instance=instance)
    instance.event_log_storage.wipe()
    assert not list(instance.all_logs(first.run_id))
    second = dg.materialize([counted, rules], instance=instance)
    stored = _stored(instance, second.run_id)  # its events (run's file), its checks (index)
    assert ("STEP_SUCCESS", "rules") in stored
    assert ("rule_3", "FAILED") in stored and ("rule_4", "SUCCEEDED") in stored


def test_disposing_the_instance_closes_the_kept_connections(tmp_path):
    instance = _instance(tmp_path / "home", keep=True)
    run = dg.materialize([counted, rules], instance=instance)
    run_db = instance.event_log_storage.path_for_shard(run.run_id)

    def open_files() -> set[str]:
        return {f.path for f in psutil.Process().open_files()}

    assert run_db in open_files()  # kept open after the run: that is the point
    instance.dispose()
    assert run_db not in open_files()


def _index_db(instance) -> str:
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME

    return instance.event_log_storage.path_for_shard(INDEX_SHARD_NAME)


def _checks_in_file(path: str) -> int:
    """Check results in the database file itself, its write-ahead log ignored."""
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return con.execute("SELECT count(*) FROM asset_check_executions").fetchone()[0]
    finally:
        con.close()


def test_the_index_commits_without_syncing_and_the_run_s_file_as_dagster_s_own(tmp_path):
    """The index is followed by no watcher: its commits need not wait for the disk (the
    seconds of a small run's ~420 index commits); the run's file still syncs and checkpoints
    at every commit, so the UI follows it live (test below)."""
    seen: dict[str, list] = {}

    def on_connect(dbapi_con, _record):
        path = dbapi_con.execute("PRAGMA database_list").fetchone()[2]
        seen.setdefault(path, []).append(dbapi_con)

    instance = _instance(tmp_path / "home", keep=True)
    event.listen(Engine, "connect", on_connect)
    try:
        run = dg.materialize([counted, rules], instance=instance)
    finally:
        event.remove(Engine, "connect", on_connect)

    def pragma(path: str, name: str) -> int:
        """On the connection kept open (Dagster's own, per transaction, are closed by now)."""
        values = set()
        for con in seen[path]:
            with contextlib.suppress(sqlite3.ProgrammingError):
                values.add(con.execute(f"PRAGMA {name}").fetchone()[0])
        assert len(values) == 1, (path, name, values)
        return values.pop()

    index, run_db = _index_db(instance), instance.event_log_storage.path_for_shard(run.run_id)
    assert (pragma(index, "synchronous"), pragma(index, "wal_autocheckpoint")) == (1, 1000)
    assert (pragma(run_db, "synchronous"), pragma(run_db, "wal_autocheckpoint")) == (2, 1)
    instance.dispose()


def test_the_index_is_in_its_file_once_the_run_s_instance_is_disposed(tmp_path):
    """Checkpointed at the end even when a reader (the Dagster UI) keeps the file open, so its
    closing would not: the run's check results are in the database file, not only its log."""
    instance = _instance(tmp_path / "home", keep=True)
    dg.materialize([counted, rules], instance=instance)
    index = _index_db(instance)
    reader = sqlite3.connect(index)  # a reader's open connection
    try:
        reader.execute("SELECT count(*) FROM asset_check_executions").fetchone()
        assert _checks_in_file(index) == 0  # before: in the write-ahead log only
        instance.dispose()
        assert _checks_in_file(index) == CHECKS
    finally:
        reader.close()


def test_a_reader_holding_the_index_back_gets_the_log_synced_instead(tmp_path, monkeypatch):
    """A reader in the middle of a read transaction (begun before the run wrote) keeps the
    checkpoint from copying anything into the file; then the write-ahead log itself is synced,
    so the run's entries survive a power loss all the same."""
    import pipelines.event_log as event_log

    synced = []  # the files synced by path (os is the one module: others' syncs are here too)
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(event_log.os, "fsync", fsync)
    instance = _instance(tmp_path / "home", keep=True)
    dg.materialize([counted], instance=instance)  # the index exists, in WAL mode
    index = _index_db(instance)
    reader = sqlite3.connect(index, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM asset_check_executions").fetchone()  # a snapshot
        dg.materialize([counted, rules], instance=instance)
        instance.dispose()
        assert _checks_in_file(index) == 0  # held back by the reader ...
        assert synced.count(f"{index}-wal") == 1  # ... so the log went onto the disk
    finally:
        reader.close()


KILLED_RUN = """
import os, sys
import dagster as dg
sys.path.insert(0, {root!r})
from tests.integration.test_event_log import counted, rules
from pipelines.event_log import keep_connections
instance = dg.DagsterInstance.from_config({home!r})
assert keep_connections(instance)
dg.materialize([counted, rules], instance=instance)
os._exit(0)  # killed: no dispose, no close, no checkpoint
"""


def test_a_killed_run_loses_no_index_entry_it_committed(tmp_path):
    """Without syncing at commit, what was committed is in the write-ahead log, which the
    operating system holds even when the process dies: the next instance reads all of it."""
    home = tmp_path / "home"
    _instance(home, keep=False).dispose()
    root = str(Path(__file__).resolve().parents[2])
    script = KILLED_RUN.format(root=root, home=str(home))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=root)
    after = dg.DagsterInstance.from_config(str(home))
    try:
        assert _checks_in_file(_index_db(after)) == 0  # the kill left them in the log only
        records = after.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(counted.key, f"rule_{i}") for i in range(CHECKS)]
        )
        assert len(records) == CHECKS
        assert records[dg.AssetCheckKey(counted.key, "rule_3")].status.value == "FAILED"
    finally:
        after.dispose()


def test_another_storage_is_left_as_it_is(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "event_log_storage:\n"
        "  module: dagster._core.storage.event_log\n"
        "  class: ConsolidatedSqliteEventLogStorage\n"
        f"  config:\n    base_dir: {tmp_path / 'events'}\n",
        encoding="utf-8",
    )
    instance = dg.DagsterInstance.from_config(str(home))
    assert keep_connections(instance) is False
    run = dg.materialize([counted, rules], instance=instance)
    assert len(list(instance.all_logs(run.run_id))) > CHECKS


def test_a_watcher_sees_a_run_s_events_while_it_runs(tmp_path):
    """The Dagster UI follows a running run by watching its event file; a command-line run
    with kept connections must change that file as it goes, not only when it ends."""
    import queue
    import threading

    home = tmp_path / "home"
    writer = _instance(home, keep=True)
    ui = dg.DagsterInstance.from_config(str(home))  # Dagster's own storage, as `dagster dev`
    run_ids: queue.Queue = queue.Queue()
    watching, seen_live = threading.Event(), threading.Event()

    @dg.asset
    def slow(context):
        run_ids.put(context.run_id)
        watching.wait(10)
        for i in range(3):
            context.log.info(f"Zwischenstand {i}")
        seen_live.wait(10)  # the run goes on until the watcher saw them (or 10 s passed)
        return 1

    def on_event(entry, _cursor):
        if "Zwischenstand" in (entry.user_message or ""):
            seen_live.set()

    run = threading.Thread(target=dg.materialize, args=([slow],), kwargs={"instance": writer})
    run.start()
    run_id = run_ids.get(timeout=30)
    ui.event_log_storage.watch(run_id, None, on_event)
    watching.set()
    try:
        assert seen_live.wait(10), "the run's events reached the UI only after the run"
    finally:
        seen_live.set()
        run.join(30)
        ui.event_log_storage.end_watch(run_id, on_event)
        ui.dispose()
        writer.dispose()
