"""Dagster's SQLite event log with its connections kept open during a run (issue 15).

Dagster's `SqliteEventLogStorage` creates an engine and opens a SQLite connection for every
transaction and closes both afterwards (SQLAlchemy's NullPool; sqlalchemy/sqlalchemy#7490
describes the cost). An event takes one to three transactions (its run's database, the index
database, the asset check table), and a run of Lagebild writes about 350 events: a check cost
about 20 ms of bookkeeping, and a run at 10,000 cases spent 1.4 s opening and closing
connections (docs/performance-notes.md). Here the storage of a run's own instance keeps one
connection per database file. A run's own file commits and syncs as before and is
checkpointed after every commit as Dagster's own closing did, so the Dagster UI follows a
command-line run live (`_kept_engine`). The index database, which no watcher follows, commits
without waiting for the disk (SQLite's `synchronous = NORMAL` in WAL mode, checkpointed at the
end of the run): a killed process loses nothing committed, a power loss in the middle of a run
at most the index entries of that run, and neither corrupts the file (docs/decisions.md,
„sechzehnter Teil“). Its ~420 syncing commits and checkpoints cost a run 0.3–0.5 s.

Dagster offers no setting for this; the storage's `_connect` is replaced on the instance a
run opens (`keep_connections`), the pinned Dagster's private method, guarded by
tests/integration/test_event_log.py. `dagster dev` and any other process keep Dagster's own.
"""

from __future__ import annotations

import collections
import contextlib
import os
from pathlib import Path

KEPT = 4  # database files with an open connection: the index, the run's, a few read
CHECKPOINT_ALWAYS = "PRAGMA wal_autocheckpoint = 1"  # pages: after every commit (_kept_engine)
NO_WAIT = "PRAGMA synchronous = NORMAL"  # the index: a commit does not wait for the disk
CHECKPOINT_NOW = "PRAGMA wal_checkpoint(PASSIVE)"  # the index at the end of the run


def _kept_engine(url: str, connect_args: dict, *, watched: bool = True):
    """An engine of one kept connection. A `watched` file's connection checkpoints after every
    commit: a run's file is in WAL mode (Dagster sets it), and a watcher of a live run (the
    Dagster UI) reacts to changes of the file itself, which Dagster's own storage makes when it
    closes the connection after each transaction. Without it, the UI showed a command-line
    run's events only when the run had ended. The index (not `watched`) keeps SQLite's default
    checkpoints and does not sync at commit (NO_WAIT); `keep_connections` checkpoints it when
    the instance is disposed."""
    from sqlalchemy import create_engine, event

    pragma = CHECKPOINT_ALWAYS if watched else NO_WAIT
    engine = create_engine(url, pool_size=1, max_overflow=0, connect_args=connect_args)
    event.listen(engine, "connect", lambda dbapi_con, _: dbapi_con.execute(pragma))
    return engine


def made_durable(engine, path: str) -> None:
    """The index's entries onto the disk at the end of the run, not at SQLite's next
    checkpoint: copied into the database file (a reader such as the Dagster UI may keep the
    file open, and then closing copies nothing). A reader in the middle of a read transaction
    holds the copy back; then the write-ahead log itself is synced (with `NO_WAIT` a commit
    does not), so what the run wrote survives a power loss either way."""
    with engine.connect() as conn:
        busy, log, copied = conn.exec_driver_sql(CHECKPOINT_NOW).fetchone()
    if busy or copied < log:
        fd = os.open(f"{path}-wal", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def keep_connections(instance) -> bool:
    """Let the instance's SQLite event log keep its connections; False if it is another kind
    of storage (then nothing changes)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        INDEX_SHARD_NAME,
        SqliteEventLogStorage,
    )
    from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from pipelines.dagster_home import seed_run

    storage = instance.event_log_storage
    if type(storage) is not SqliteEventLogStorage:
        return False
    engines: collections.OrderedDict = collections.OrderedDict()
    timeout = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}

    def engine_for(shard: str):
        url = storage.conn_string_for_shard(shard)
        if shard not in storage._initialized_dbs:
            # first use of the file in this storage, or after `wipe`/`upgrade` emptied the set:
            # a connection kept to a file deleted since would write into nothing
            if (old := engines.pop(shard, None)) is not None:
                old.dispose()
            # a new run's file: a copy of the one Dagster made at installation, as Dagster's
            # `_initdb` would make it (pipelines.dagster_home); else Dagster makes it
            if shard == INDEX_SHARD_NAME or not seed_run(Path(storage.path_for_shard(shard))):
                init = create_engine(url, poolclass=NullPool, connect_args=timeout)
                storage._initdb(init)
                init.dispose()
            storage._initialized_dbs.add(shard)
        engine = engines.pop(shard, None) or _kept_engine(
            url, timeout, watched=shard != INDEX_SHARD_NAME
        )
        engines[shard] = engine  # most recently used last
        while len(engines) > KEPT:  # the least recently used, never the index (`made_durable`)
            oldest = next(name for name in engines if name != INDEX_SHARD_NAME)
            engines.pop(oldest).dispose()
        return engine

    @contextlib.contextmanager
    def connect(shard: str):
        # under the storage's lock, as Dagster's own: one transaction of the storage at a time
        with storage._db_lock, engine_for(shard).connect() as conn, conn.begin():
            yield conn

    tables: set[str] = set()  # present once, present for good (`wipe` empties, not drops)
    has_table = storage.has_table

    def has_table_known(name: str) -> bool:
        # Dagster asks before every check result whether its table exists, on a new engine
        if name not in tables and has_table(name):
            tables.add(name)
        return name in tables

    dispose = storage.dispose

    def dispose_all() -> None:
        index = engines.get(INDEX_SHARD_NAME)
        if index is not None:
            with contextlib.suppress(Exception), storage._db_lock:
                made_durable(index, storage.path_for_shard(INDEX_SHARD_NAME))
        while engines:
            engines.popitem()[1].dispose()
        dispose()

    storage._connect = connect
    storage.has_table = has_table_known
    storage.dispose = dispose_all
    return True
