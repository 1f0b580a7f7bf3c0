"""DuckDB connections: the pipeline's single writer and short read-only readers.

DuckDB allows one writing process. The pipeline takes an exclusive file lock around every
write session (a whole `lagebild run` holds it from before the Dagster instance is touched
until its summary is printed), so a second run on the same workspace waits for it or stops
with a clear message instead of a lock error deep inside DuckDB. Dashboards never open the
warehouse itself; they read the published copy (see pipelines/defs/publish.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb

# Built-in extensions only: DuckDB must never fetch anything from the internet at run time.
DUCKDB_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def limit_memory(memory_limit: str | None, temp_directory: Path | str) -> None:
    """DuckDB's memory limit and spill folder for every connection this process opens from
    now on (a run: `Settings.duckdb_memory_limit` / `duckdb_temp_directory`). Beyond the limit
    joins, aggregations and sorts spill to the folder instead of failing."""
    temp_directory = Path(temp_directory).resolve()  # the same folder for the suites' worker
    temp_directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    DUCKDB_CONFIG["temp_directory"] = str(temp_directory)
    if memory_limit:
        DUCKDB_CONFIG["memory_limit"] = memory_limit
    else:
        DUCKDB_CONFIG.pop("memory_limit", None)


class WorkspaceBusy(RuntimeError):
    """Another process is writing to this workspace."""


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with run-time downloads disabled. `path=None` is in-memory."""
    target = ":memory:" if path is None else str(path)
    return duckdb.connect(target, read_only=read_only, config=dict(DUCKDB_CONFIG))


_held: dict[Path, list] = {}  # lock file -> [open file, depth]; re-entrant within a process
_held_guard = threading.Lock()


def _holder(fh) -> str:
    """What the lock file says about the process holding it ("Prozess 123, seit 10:02 Uhr")."""
    try:
        fh.seek(0)
        pid, _, since = fh.read(200).strip().partition(" ")
        return f" (Prozess {int(pid)}, seit {since} Uhr)" if pid else ""
    except (OSError, ValueError):
        return ""


@contextlib.contextmanager
def write_lock(
    lock_file: Path,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Exclusive, re-entrant (per process) lock on a workspace.

    Held by another process: wait up to `wait_seconds` (telling `on_wait` once), then raise
    WorkspaceBusy with a German message naming the holder.
    """
    lock_file = Path(lock_file).resolve()
    with _held_guard:
        entry = _held.get(lock_file)
        if entry is None:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock_file, "a+")  # noqa: SIM115 - held across the with-block below
            deadline = time.monotonic() + max(0.0, wait_seconds)
            told = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    holder = _holder(fh)
                    if time.monotonic() >= deadline:
                        fh.close()
                        waited = (
                            f" Nach {wait_seconds:.0f} s Wartezeit ist er noch nicht beendet."
                            if wait_seconds > 0
                            else ""
                        )
                        raise WorkspaceBusy(
                            "Der Arbeitsbereich wird gerade von einem anderen Lauf beschrieben"
                            f" ({lock_file.parent}{holder}).{waited} Bitte warten Sie, bis"
                            " dieser Lauf beendet ist, und starten Sie dann erneut"
                            " (die Wartezeit legt lock_wait_seconds in lagebild.yaml fest)."
                        ) from exc
                    if on_wait and not told:
                        on_wait(
                            "Ein anderer Lauf beschreibt den Arbeitsbereich gerade"
                            f"{holder}; warte bis zu {wait_seconds:.0f} s …"
                        )
                        told = True
                    time.sleep(0.2)
            try:  # who holds it, for the message of a process that has to wait
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()} {time.strftime('%H:%M')}\n")
                fh.flush()
            except OSError:
                pass
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


# DuckDB writes its log into the database file (a checkpoint) whenever the log passes this
# size; its default of 16 MB made a run checkpoint after nearly every delivery, and with the
# deliveries read side by side often in the middle of another one's work. 1 GB: the ingest of
# 1,000,000 cases 46.5 -> 41.3 s (docs/performance.md); the committed data not yet in the
# file stay bounded (they live in DuckDB's buffer, which spills under its memory limit).
CHECKPOINT_THRESHOLD = "1GB"


@contextlib.contextmanager
def writer(db_path: Path, lock_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The pipeline's write connection, held under the workspace lock."""
    with write_lock(lock_file):
        con = connect(db_path)
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        try:
            yield con
        finally:
            con.close()


def open_problem(exc: BaseException | str, db_path: Path) -> str | None:
    """A German sentence (cause and remedy) for an error opening the warehouse (an exception
    or its text), or None when the error is not one of the known situations."""
    text = str(exc)
    if "Conflicting lock" in text or "Could not set lock" in text:
        m = re.search(r"\(PID (\d+)\)", text)
        who = f" (Prozess {m.group(1)})" if m else ""
        return (
            f"Die Warehouse-Datei {db_path} ist von einem anderen Programm geöffnet{who},"
            " zum Beispiel einer DuckDB-Shell. Bitte dieses Programm schließen und den Lauf"
            " wiederholen; für Auswertungen bitte die veröffentlichte Kopie"
            " published/lagebild.duckdb verwenden, sie blockiert keinen Lauf."
        )
    if (
        "not a valid DuckDB database file" in text
        or "Corrupt database file" in text
        or ("checksum" in text and "block" in text)
    ):
        return (
            f"Die Warehouse-Datei {db_path} ist beschädigt oder keine DuckDB-Datei. Bitte die"
            " Datei umbenennen (oder aus einer Sicherung zurückholen) und den Lauf wiederholen;"
            " die Lieferungen werden dann aus dem Posteingang neu eingelesen."
        )
    if isinstance(exc, PermissionError) or "Permission denied" in text or "Read-only" in text:
        return (
            f"Keine Schreibrechte für {db_path.parent}. Bitte einen beschreibbaren Arbeitsbereich"
            " angeben oder die Rechte des Ordners anpassen."
        )
    return None


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


def table_columns(
    con: duckdb.DuckDBPyConnection, key: str, database: str | None = None
) -> list[tuple[str, str]]:
    """(column, type) of the table `key` ("schema.table") in `database` (default: the
    connection's own), in order; empty when there is no such table."""
    schema, table = key.split(".")
    return [
        tuple(r)
        for r in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name ="
            " coalesce(?, current_database()) AND schema_name = ? AND table_name = ?"
            " ORDER BY column_index",
            [database, schema, table],
        ).fetchall()
    ]
