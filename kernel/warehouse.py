"""DuckDB connections: the pipeline's single writer and short read-only readers.

DuckDB allows one writing process. The pipeline takes an exclusive file lock around every
write session, so a second `lagebild run` on the same workspace fails fast with a clear message
instead of a lock error deep inside DuckDB. Dashboards never open the warehouse itself; they
read the published copy (see pipelines/defs/publish.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb

# Built-in extensions only: DuckDB must never fetch anything from the internet at run time.
DUCKDB_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class WorkspaceBusy(RuntimeError):
    """Another process is writing to this workspace."""


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with run-time downloads disabled. `path=None` is in-memory."""
    target = ":memory:" if path is None else str(path)
    return duckdb.connect(target, read_only=read_only, config=dict(DUCKDB_CONFIG))


_held: dict[Path, list] = {}  # lock file -> [open file, depth]; re-entrant within a process
_held_guard = threading.Lock()


@contextlib.contextmanager
def write_lock(lock_file: Path) -> Iterator[None]:
    """Exclusive, re-entrant (per process) lock on a workspace."""
    lock_file = Path(lock_file).resolve()
    with _held_guard:
        entry = _held.get(lock_file)
        if entry is None:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock_file, "a+")  # noqa: SIM115 - held across the with-block below
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                fh.close()
                raise WorkspaceBusy(
                    "Der Arbeitsbereich wird gerade von einem anderen Lauf beschrieben"
                    f" ({lock_file.parent}). Bitte warten Sie, bis dieser Lauf beendet ist."
                ) from exc
            entry = _held[lock_file] = [fh, 0]
        entry[1] += 1
    try:
        yield
    finally:
        with _held_guard:
            entry[1] -= 1
            if entry[1] == 0:
                fcntl.flock(entry[0], fcntl.LOCK_UN)
                entry[0].close()
                del _held[lock_file]


@contextlib.contextmanager
def writer(db_path: Path, lock_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The pipeline's write connection, held under the workspace lock."""
    with write_lock(lock_file):
        con = connect(db_path)
        try:
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def reader(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection (one per query or page; DuckDB connections are not
    thread-safe and Streamlit serves sessions in threads)."""
    con = connect(db_path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def current_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The run's resolved data cut-off, written by the staging step (meta.data_basis)."""
    rows = con.execute("SELECT as_of FROM meta.data_basis").fetchall()  # fetchall: leaves no
    row = rows[0] if rows else None  # unfinished result behind (DuckDB 2.0 refuses con.sql then)
    if row is None or row[0] is None:
        raise RuntimeError("Kein Datenstand bestimmt: Es wurde noch keine Lieferung geladen.")
    return row[0]
