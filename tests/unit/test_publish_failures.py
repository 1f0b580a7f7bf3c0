"""A publication that fails: the grid built beside the copy is called off, the error is the
copy's own, and no unfinished copy of the marts stays in the published folder."""

from __future__ import annotations

import os
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from benchmarks.staging_fill import fill_staging
from data_contracts.schema import AUDIT_DDL
from kernel.settings import Settings
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.defs import publish as pub
from transforms.runner import build_marts

AS_OF = date(2026, 8, 20)
SETTINGS = Settings(workspace=Path("/nonexistent"))


def built(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.root.mkdir(parents=True)
    con = connect(ws.db_path)
    con.execute(AUDIT_DDL)
    fill_staging(con, 300, providers=2, as_of=AS_OF)
    build_marts(con, SETTINGS, AS_OF)
    con.close()
    return ws


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return built(tmp_path / "ws")


class SlowGrid:
    """Stands in for the grid's build: works until it is called off (at most 30 s)."""

    def __init__(self) -> None:
        self.calls = 0
        self.called_off = False

    def __call__(self, cursor, settings, cancel: threading.Event) -> dict:
        self.calls += 1
        try:
            self.called_off = cancel.wait(30)
            return {}
        finally:
            cursor.close()


def leftovers(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.published_dir.glob(".lagebild.*"))


def test_a_failed_copy_calls_off_the_grid_and_leaves_no_copy_behind(ws, monkeypatch):
    grid = SlowGrid()
    monkeypatch.setattr(pub, "_build_grid", grid)
    con = connect(ws.db_path)
    try:
        con.execute("CREATE VIEW mart.zz_broken AS SELECT error('kaputt') AS x")
        started = time.monotonic()
        with pytest.raises(duckdb.Error, match="kaputt"):
            pub.publish(con, ws, SETTINGS)
        assert time.monotonic() - started < 10  # not the grid's 30 s
    finally:
        con.close()
    assert grid.calls == 1 and grid.called_off
    assert leftovers(ws) == [] and not ws.published_db_path.exists()


def test_a_copy_that_cannot_be_opened_starts_no_grid(ws, monkeypatch):
    grid = SlowGrid()
    monkeypatch.setattr(pub, "_build_grid", grid)
    monkeypatch.setattr(pub.os, "getpid", lambda: 4242)
    ws.published_dir.mkdir()
    (ws.published_dir / ".lagebild.4242.duckdb.tmp").mkdir()  # not a file: ATTACH fails
    con = connect(ws.db_path)
    try:
        with pytest.raises(duckdb.Error):
            pub.publish(con, ws, SETTINGS)
    finally:
        con.close()  # not busy: no grid thread holds the connection
    assert grid.calls == 0
    assert not any(t.name.startswith("lagebild-grid-build") for t in threading.enumerate())


def test_a_workspace_path_with_a_quote_is_published(tmp_path):
    ws = built(tmp_path / "o'brien")
    con = connect(ws.db_path)
    try:
        counts = pub.publish(con, ws)
    finally:
        con.close()
    assert counts["mart.cases"] > 0 and ws.published_db_path.is_file()


def test_unfinished_copies_of_earlier_runs_are_swept(ws, tmp_path):
    ws.published_dir.mkdir()
    for name in (".lagebild.99999.duckdb.tmp", ".lagebild.99999.duckdb.tmp.wal"):
        (ws.published_dir / name).write_bytes(b"marts")
    outside = tmp_path / "draussen.txt"
    outside.write_text("bleibt")
    (ws.published_dir / ".lagebild.88888.duckdb.tmp").symlink_to(outside)
    (ws.published_dir / "notiz.txt").write_text("bleibt")
    con = connect(ws.db_path)
    try:
        pub.publish(con, ws)
    finally:
        con.close()
    assert leftovers(ws) == [".lagebild.88888.duckdb.tmp"]  # a link is not followed
    assert outside.read_text() == "bleibt" and (ws.published_dir / "notiz.txt").exists()


def test_a_called_off_grid_begins_no_family_and_keeps_no_memo(ws):
    from dashboards.disclosure import publication

    cancel = threading.Event()
    cancel.set()
    con = connect(ws.db_path)
    try:
        with pytest.raises(publication.Cancelled):
            publication.build(con, SETTINGS, reuse=True, cancel=cancel)
        memo = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'grid_memo%'"
        ).fetchone()[0]
    finally:
        con.close()
    assert memo == 0


@pytest.mark.parametrize(("helpers", "workers"), [("1", os.cpu_count()), ("0", 1)])
def test_the_grid_builds_its_families_side_by_side_only_where_cores_are_free(
    monkeypatch, helpers, workers
):
    """LAGEBILD_HELPERS=0 says other work keeps every core busy: the grid's families are then
    built one after another (side by side they only cost a third more CPU time there); else as
    many at a time as there are cores. The publish step, a release and its rebuild alike."""
    from dashboards.disclosure import publication

    class Asked(Exception):
        pass

    def pool(max_workers, **kw):
        raise Asked(max_workers)

    monkeypatch.setattr(publication, "ThreadPoolExecutor", pool)
    monkeypatch.setenv("LAGEBILD_HELPERS", helpers)
    with pytest.raises(Asked) as asked:
        pub._build_grid(duckdb.connect().cursor(), SETTINGS, threading.Event())
    assert asked.value.args == (min(workers, len(publication.families(SETTINGS))),)
