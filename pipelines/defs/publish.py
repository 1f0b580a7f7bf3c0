"""The published copy of the warehouse that dashboards and reports read.

DuckDB allows one writer, and even a read-only reader fails while another process holds the
write lock. So the pipeline writes a fresh copy of the read-side schemas (mart, audit, meta)
into a temporary file and swaps it in with an atomic rename: an open dashboard never blocks a
run, and a run never breaks an open dashboard (it keeps reading the old file until it reopens).
Staging — with its free-text notes — is not published.

After a re-delivery the marts are rebuilt for the changed providers only (transforms.runner),
and so is the copy: when the published file is the one written from the build before, its
partitioned mart tables get the same replacement of those providers' rows, and everything else
is copied anew (issue 15: at 1,000,000 cases the three large tables were 2.4 of 3 s).
"""

import contextlib
import logging
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from data_contracts.rules import lit
from kernel.errors import UserError
from kernel.private import tighten
from kernel.settings import Settings
from kernel.warehouse import connect, table_columns
from kernel.workspace import Workspace
from pipelines import grid_worker
from pipelines.observe import stage, timed_check
from pipelines.resources import LagebildResource

PUBLISHED_SCHEMAS = ("mart", "audit", "meta")
GRID_SCHEMA = "grid"
# which build the published file was written from, and the file itself (never published)
PUBLISH_STATE = "intermediate.publish_state"
# an updated copy keeps the blocks of what it replaced free for reuse (DuckDB does not shrink
# a file): 1.6-1.9x the size of a copy written anew after repeated updates; beyond this factor,
# and after this many updates in a row, the copy is written anew (docs/decisions.md)
MAX_GROWTH = 2.0
MAX_UPDATES = 10
log = logging.getLogger("lagebild.publish")


@dataclass(frozen=True)
class _Update:
    """How to bring the last published copy up to date instead of writing it anew."""

    providers: list[str]  # whose rows the last build replaced ...
    tables: frozenset[str]  # ... in these mart tables
    identity: list[int]  # the published file it starts from: size, mtime_ns, inode
    whole_size: int  # the size of the copy when it was last written anew
    updates: int  # updates in a row since then


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _update_basis(con: duckdb.DuckDBPyConnection) -> _Update | None:
    """An update when the last build replaced a few providers' rows and the last copy was
    written from the build before it; None when the copy must be written anew."""
    from transforms.runner import last_build

    build = last_build(con)
    if build is None or not build.partial:
        return None
    columns = {name for name, _ in table_columns(con, PUBLISH_STATE)}
    if not {"build_no", "file_identity", "whole_size", "updates"} <= columns:
        return None  # no state, or one an older version wrote
    state = con.execute(
        f"SELECT build_no, file_identity, whole_size, updates FROM {PUBLISH_STATE}"
    ).fetchone()
    if state is None or state[0] != build.number - 1 or state[3] >= MAX_UPDATES:
        return None
    return _Update(
        list(build.rebuilt_providers),
        frozenset(build.rebuilt_tables or ()),
        list(state[1] or ()),
        int(state[2] or 0),
        int(state[3]),
    )


def _copy_if_unchanged(src: Path, dst: Path, update: _Update) -> bool:
    """Copy the last published file to `dst` if it is still the one the state describes
    (checked on the opened file, so it cannot be swapped in between) and has not grown past
    MAX_GROWTH; False when it cannot be used (changed, unreadable, gone)."""
    try:
        with open(src, "rb") as source:
            st = os.fstat(source.fileno())
            if _identity(st) != update.identity or st.st_size > MAX_GROWTH * update.whole_size:
                return False
            with open(dst, "wb") as target:
                shutil.copyfileobj(source, target, 16 * 2**20)
        return True
    except OSError:
        dst.unlink(missing_ok=True)
        return False


def _remember_publication(
    con: duckdb.DuckDBPyConnection, ws: Workspace, update: _Update | None
) -> None:
    """What the copy now in place was written from; `update`: how it was brought up to date
    (None: written anew)."""
    from transforms.runner import last_build

    build = last_build(con)
    identity = _identity(ws.published_db_path.stat())
    con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
    con.execute(
        f"CREATE OR REPLACE TABLE {PUBLISH_STATE} AS SELECT ?::BIGINT AS build_no,"
        " ?::BIGINT[] AS file_identity, ?::BIGINT AS whole_size, ?::INTEGER AS updates",
        [
            build.number if build else None,
            identity,
            update.whole_size if update else identity[0],
            update.updates + 1 if update else 0,
        ],
    )


def publish(
    con: duckdb.DuckDBPyConnection, ws: Workspace, settings: Settings | None = None
) -> dict[str, int]:
    """Copy the read-side schemas into WORKSPACE/published/lagebild.duckdb (atomic swap), with
    the publication grid built from the marts when `settings` are given.

    Views are materialised as tables, so the copy is self-contained and fast to read.
    Returns rows per published table.
    """
    ws.published_dir.mkdir(parents=True, exist_ok=True)
    _sweep_unfinished(ws.published_dir)
    tmp = ws.published_dir / f".lagebild.{os.getpid()}.duckdb.tmp"
    update = _update_basis(con)
    if update is not None and not _copy_if_unchanged(ws.published_db_path, tmp, update):
        update = None  # the last copy cannot be used: written anew
    objects = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables()"
        " WHERE database_name = current_database()"
        f" AND schema_name IN {PUBLISHED_SCHEMAS} AND NOT temporary"
        " UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name ="
        f" current_database() AND schema_name IN {PUBLISHED_SCHEMAS} AND NOT temporary"
        " ORDER BY 1, 2"
    ).fetchall()
    counts: dict[str, int] = {}
    updated = update.tables if update is not None else frozenset()
    # the grid is built while the tables are copied: its suppression is mostly Python and
    # HiGHS, the copy DuckDB's own threads (1,000,000 cases: copy ~3 s, grid ~4.6 s, one
    # after the other before). It reads the marts over a cursor of its own and writes only
    # its memo; it is written into the copy once both are done
    try:
        con.execute(f"ATTACH {lit(str(tmp))} AS published")
    except BaseException:
        _remove_unfinished(tmp)
        raise
    pool = ThreadPoolExecutor(1, thread_name_prefix="lagebild-grid-build")
    cancel = threading.Event()  # a failed copy or a stop: no family is begun any more
    done = False
    try:
        grid = None
        if settings is not None:
            _log_copy_in_place(ws, settings)
            grid = pool.submit(_build_grid, con.cursor(), settings, cancel)
        _drop_stale(con, {f"{s}.{t}" for s, t in objects} & updated)
        for schema in {s for s, _ in objects}:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS published.{schema}")
        for schema, table in objects:
            key = f"{schema}.{table}"
            if key in updated and table_columns(con, key) == table_columns(con, key, "published"):
                # the partial build's replacement of the changed providers' rows, repeated
                in_list = "(SELECT unnest(?::VARCHAR[]))"
                con.execute(
                    f"DELETE FROM published.{key} WHERE provider_id IN {in_list}",
                    [update.providers],
                )
                con.execute(
                    f"INSERT INTO published.{key} SELECT * FROM {key}"
                    f" WHERE provider_id IN {in_list}",
                    [update.providers],
                )
            else:
                con.execute(f"DROP TABLE IF EXISTS published.{key}")
                con.execute(f"CREATE TABLE published.{key} AS SELECT * FROM {key}")
            counts[f"{schema}.{table}"] = con.execute(
                f"SELECT count(*) FROM published.{schema}.{table}"
            ).fetchone()[0]
        if grid is not None:
            from dashboards.disclosure import publication

            built = grid.result()
            _refuse_unprotected(built)
            with stage("grid"):
                publication.write(con, built, f"published.{GRID_SCHEMA}")
        done = True
    finally:
        if not done:
            cancel.set()
            grid_worker.kill()  # a suppression in its worker is not waited for
        pool.shutdown(wait=True)  # the grid's cursor is done before the copy is let go
        con.execute("DETACH published")
        if not done:  # nothing of a copy that is not swapped in stays behind
            _remove_unfinished(tmp)
    # read by the dashboards (same account), written by nobody, private to the owner
    tmp.chmod(0o400)
    if settings is not None:  # before the swap: a copy in place is always on the log
        _record_publication(con, ws, settings)
    os.replace(tmp, ws.published_db_path)
    _remember_publication(con, ws, update)
    return counts


def _refuse_unprotected(built: dict) -> None:
    """A grid with a cell the audit could narrow below k is never swapped in: the copy in
    place stays what readers see, and the run fails (fail closed)."""
    left = {name: s.get("unprotected") or 0 for name, (_, s) in built.items()}
    if any(left.values()):
        cells = ", ".join(f"{name} {n}" for name, n in left.items() if n)
        raise UserError(
            f"Das Veröffentlichungsraster hält die Geheimhaltung nicht (ungeschützte Zellen: "
            f"{cells}). Die bisherige Veröffentlichung bleibt unverändert; bitte der "
            "Entwicklung melden."
        )


def _providers_and_cut_off(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> tuple[dict[str, list[str]], str | None]:
    """The providers of the copy (mart.cases) and of each table the grid is counted from,
    and the data cut-off (kernel.publications)."""
    from dashboards.disclosure.families import families
    from kernel.publications import ALL

    tables = {ALL: "mart.cases"}
    for table in sorted({t for f in families(settings) for t in f.sources or ()}):
        if "provider_id" in {name for name, _ in table_columns(con, table)}:
            tables[table] = table
    held = {
        key: sorted(
            str(p) for (p,) in con.execute(f"SELECT DISTINCT provider_id FROM {t}").fetchall()
        )
        for key, t in tables.items()
    }
    (as_of,) = con.execute("SELECT max(as_of)::VARCHAR FROM meta.data_basis").fetchone()
    return held, as_of


def _record_publication(con: duckdb.DuckDBPyConnection, ws: Workspace, settings: Settings) -> None:
    """Which providers the copy about to be published rests on (kernel.publications)."""
    from kernel import publications

    publications.record(ws.root, *_providers_and_cut_off(con, settings))


def _log_copy_in_place(ws: Workspace, settings: Settings) -> None:
    """With no log yet (a workspace from before it, or a lost log) the copy in place is the
    earlier publication the grid must know: its providers and cut-off go first."""
    from kernel import publications
    from kernel.warehouse import connect

    if publications.published_sets(ws.root) or not ws.published_db_path.is_file():
        return
    try:
        old = connect(ws.published_db_path, read_only=True)
        try:
            tables, as_of = _providers_and_cut_off(old, settings)
        finally:
            old.close()
    except duckdb.Error:  # no copy of this layout: nothing to protect against
        log.warning("Die bisherige veröffentlichte Kopie ist nicht lesbar; ohne Vorgänger.")
        return
    publications.record(ws.root, tables, as_of)


def _build_grid(
    cursor: duckdb.DuckDBPyConnection, settings: Settings, cancel: threading.Event
) -> dict:
    from dashboards.disclosure import publication

    try:
        with stage("grid"):
            return publication.build(
                cursor, settings, reuse=True, cancel=cancel, elsewhere=grid_worker.take
            )
    finally:
        grid_worker.stop()  # not asked (every family reused): it ends with the grid
        cursor.close()


_UNFINISHED = re.compile(r"\.lagebild\.\d+\.duckdb\.tmp(\.wal)?")


def _remove_unfinished(tmp: Path) -> None:
    """Best effort, on the way out of a failure: never in place of the error that ended it."""
    for path in (tmp, tmp.with_name(tmp.name + ".wal")):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _sweep_unfinished(folder: Path) -> None:
    """Copies a failed or killed run left behind (a whole copy of the marts each): removed
    under the workspace's lock, which the publishing run holds."""
    for entry in os.scandir(folder):
        if _UNFINISHED.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)


def _drop_stale(con: duckdb.DuckDBPyConnection, kept: set[str]) -> None:
    """In a copy of the last publication: drop every table and view but those in `kept` (the
    rest is written anew, as in a fresh copy) and every schema but the published ones."""
    for schema, name, kind in con.execute(
        "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name ="
        " 'published' UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views()"
        " WHERE database_name = 'published' AND NOT internal"
    ).fetchall():
        if f"{schema}.{name}" not in kept:
            con.execute(f"DROP {kind} published.{schema}.{name}")
    for (schema,) in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'published'"
        " AND NOT internal"
    ).fetchall():
        if schema not in (*PUBLISHED_SCHEMAS, "main"):  # the grid is written anew too
            con.execute(f"DROP SCHEMA published.{schema} CASCADE")


def _upstream() -> list[dg.AssetKey]:
    """Every mart and theme asset: the copy is taken when all of them are built."""
    from pipelines.defs import marts, themes

    return [
        key
        for a in dg.load_assets_from_modules([marts, themes])
        if isinstance(a, dg.AssetsDefinition)
        for key in a.keys
    ]


@dg.asset(
    key="published_warehouse",
    deps=_upstream() or ["staging"],
    group_name="publish",
    description="Schreibgeschützte Kopie (mart, audit, meta) für Dashboards und Berichte,"
    " atomar ausgetauscht.",
)
def published_warehouse(lagebild: LagebildResource) -> dg.MaterializeResult:
    ws = lagebild.ws
    with stage("publish"), lagebild.write() as con:
        counts = publish(con, ws, lagebild.settings())
    # landing and quarantine copies keep their source's mode: owner-only, also for runs
    # started from the Dagster UI (docs/security.md); the inbox is input and stays as it is
    inboxes = (ws.root / "inbox", *((Path(lagebild.inbox),) if lagebild.inbox else ()))
    tighten(ws.root, skip=inboxes)
    log.info(f"Veröffentlichte Kopie geschrieben: {ws.published_db_path}")
    return dg.MaterializeResult(
        metadata={
            "path": str(ws.published_db_path),
            "tables": len(counts),
            "size_mb": round(ws.published_db_path.stat().st_size / 2**20, 1),
        }
    )


@dg.asset_check(
    asset="published_warehouse",
    blocking=True,
    description="Geheimhaltungsprüfung des Veröffentlichungsrasters: Für jede unterdrückte"
    " Zelle lässt sich aus allen veröffentlichten Zellen (lineare Optimierung, nicht negative"
    " Zahlen, alle Summen) kein Intervall schmaler als k ableiten.",
)
@timed_check
def grid_protection_audit(lagebild: LagebildResource) -> dg.AssetCheckResult:
    con = connect(lagebild.ws.published_db_path, read_only=True)
    try:
        audit = con.execute("SELECT * FROM grid.audit ORDER BY family").df()
    finally:
        con.close()
    unprotected = int(audit["unprotected"].fillna(0).sum()) if len(audit) else 0
    widths = audit["narrowest_width"].dropna() if len(audit) else audit
    return dg.AssetCheckResult(
        passed=unprotected == 0,
        metadata={
            "families": len(audit),
            "cells": int(audit["cells"].sum()) if len(audit) else 0,
            "cells_audited": int(audit["cells_audited"].sum()) if len(audit) else 0,
            "unprotected": unprotected,
            "narrowest_width": float(widths.min()) if len(widths) else None,
            "seconds": float(audit["seconds"].sum()) if len(audit) else 0.0,
        },
    )


@dg.asset_check(
    asset="published_warehouse",
    description="Die Kopie ist lesbar und enthält keine Staging-Tabellen (keine Freitexte).",
)
@timed_check
def readable_without_free_text(lagebild: LagebildResource) -> dg.AssetCheckResult:
    con = connect(lagebild.ws.published_db_path, read_only=True)
    try:
        schemas = {
            r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()
        }
        notes = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE column_name IN ('note', 'notiz')"
        ).fetchone()[0]
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed="staging" not in schemas and notes == 0,
        metadata={"schemas": sorted(schemas), "free_text_columns": notes},
    )
