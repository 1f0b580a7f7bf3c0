"""A query call reads the published copy over one connection (scope.one_connection): opened by
its first read, shared by the queries it calls, closed at its end, never shared across
threads. The dashboard server keeps the copy open, reads a new publication from the next query
on and closes the old one when its last reader is done. And the re-entry grid's margin cells are looked up as the mask over all breakdowns
finds them."""

from __future__ import annotations

import os
import shutil
import threading

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure.families import ALL
from dashboards.read import scope
from dashboards.read.reentry import _margin, _margins
from kernel.warehouse import connect


@pytest.fixture
def opened(monkeypatch):
    """Every connection Source.read opens inside a query call."""
    cons: list[duckdb.DuckDBPyConnection] = []
    real = scope.connect

    def counting(*args, **kwargs):
        con = real(*args, **kwargs)
        cons.append(con)
        return con

    monkeypatch.setattr(scope, "connect", counting)
    return cons


def _closed(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("SELECT 1").fetchall()
    except duckdb.ConnectionException:
        return True
    return False


@pytest.mark.parametrize("role", ["foerderer", "koordination"])
def test_a_query_call_opens_one_connection_and_closes_it(workspace, opened, role):
    src = read.Source.of(workspace)
    viewer = src.viewer(role)
    filters = read.Filters("2026-Q1", "2026-Q1") if role == "foerderer" else read.ALL
    read.decisions(src, viewer, filters)  # gap matrix, caseload and themes: queries within
    read.reentry(src, viewer, filters)
    assert len(opened) == 2
    assert all(_closed(con) for con in opened)


def test_the_connection_is_closed_when_a_query_fails(workspace, opened):
    src = read.Source.of(workspace)
    with pytest.raises(read.NotInGrid):  # two programmes: no cell of the grid
        read.caseload(src, src.viewer("foerderer"), read.Filters(programs=("a", "b")))
    assert len(opened) <= 1 and all(_closed(con) for con in opened)


def test_the_three_reports_are_built_over_one_connection(workspace, opened, tmp_path):
    """`write_all` (the pipeline's reports): all reads of the three reports share one
    connection, closed at the end (one per query took 1.3 s at 10,000 cases)."""
    from dashboards.reports import write_all

    written = write_all(workspace, "2026-Q1", out_dir=tmp_path, formats=(".html", ".xlsx"))
    assert len(written) == 6
    assert len(opened) == 1
    assert _closed(opened[0])


def test_reads_outside_a_query_and_in_other_threads_have_their_own(workspace):
    src = read.Source.of(workspace)
    with src.read() as a, src.read() as b:
        assert a is not b
    assert _closed(a) and _closed(b)
    seen = {}
    with scope.one_connection(), src.read() as outer:
        with src.read() as inner:
            assert inner is outer

        def other():
            with src.read() as con:
                seen["con"] = con

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen["con"] is not outer and _closed(seen["con"])
        assert not _closed(outer)
    assert _closed(outer)


@pytest.fixture
def kept_open(monkeypatch):
    """Published copies kept open as in the dashboard server (at most two)."""
    copies = scope._OpenCopies(keep=2)
    copies.enabled = True
    monkeypatch.setattr(scope, "_OPEN", copies)
    yield copies
    copies.close_all()


def _publish_again(root) -> None:
    """A new publication, as the pipeline swaps it in: a changed copy renamed over the old."""
    db = read.Source.of(root).db
    tmp = db.with_name(".neu.duckdb.tmp")
    shutil.copyfile(db, tmp)
    tmp.chmod(0o600)
    con = connect(tmp)
    con.execute("CREATE TABLE meta.neue_veroeffentlichung AS SELECT 1 AS x")
    con.close()
    os.replace(tmp, db)


def _is_new(con) -> bool:
    return scope.has_table(con, "meta", "neue_veroeffentlichung")


def test_the_server_opens_the_copy_once_and_a_new_publication_at_once(
    workspace, tmp_path, kept_open, opened
):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    src = read.Source.of(root)
    for _ in range(3):
        read.decisions(src, src.viewer("koordination"), read.ALL)
    assert len(opened) == 1  # opened by the first query, kept for the others
    _publish_again(root)
    with src.read() as con:
        assert _is_new(con)  # the next read reads the new publication
    assert len(opened) == 2 and _closed(opened[0]) and not _closed(opened[1])


def test_a_new_publication_is_read_at_once_even_while_the_old_one_is_read(
    workspace, tmp_path, kept_open
):
    """Under steady load some query is always reading: new ones must still get the new
    copy (DuckDB would hand out the old database for the same path)."""
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    src = read.Source.of(root)
    with src.read() as reading:
        _publish_again(root)
        with src.read() as meanwhile:
            assert _is_new(meanwhile)
        assert not _is_new(reading)  # a query under way finishes on what it began with
    with src.read() as con:
        assert _is_new(con)
    (kept,) = kept_open.held.values()
    assert not kept.stale and not _closed(kept.db)


def test_the_old_copy_is_closed_when_its_last_reader_ends(workspace, tmp_path, kept_open):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    src = read.Source.of(root)
    with src.read():
        first = next(iter(kept_open.held.values()))
        _publish_again(root)
        with src.read():
            pass
        assert first.stale and not _closed(first.db)  # still read
    assert _closed(first.db)
    with pytest.raises(RuntimeError), src.read():  # a failing query gives its cursor back
        raise RuntimeError("Abfrage fehlgeschlagen")
    assert [c.in_use for c in kept_open.held.values()] == [0]


def test_at_most_keep_copies_stay_open(workspace, tmp_path, kept_open):
    for name in ("a", "b", "c"):
        shutil.copytree(workspace, tmp_path / name)
        with read.Source.of(tmp_path / name).read() as con:
            assert not _is_new(con)
    assert [p.parent.parent.name for p in kept_open.held] == ["b", "c"]


def test_the_pipeline_process_does_not_keep_copies_open(workspace, opened):
    assert not scope._OPEN.enabled  # only dashboards/server.py switches it on
    src = read.Source.of(workspace)
    read.themes(src, src.viewer("koordination"), read.ALL)
    assert len(opened) == 1 and _closed(opened[0])


def _margin_by_mask(cells: pd.DataFrame, fixed: dict[str, str]) -> pd.Series:
    """The definition: every breakdown at the given code or its total, the first such cell."""
    dims = [c for c in cells.columns if c == "person_key" or c.endswith(("_obs", "_km"))]
    mask = np.ones(len(cells), dtype=bool)
    for d in dims:
        mask &= (cells[d] == fixed.get(d, ALL)).to_numpy()
    hit = cells[mask]
    return hit.iloc[0] if len(hit) else pd.Series({"value": 0, "status": ""})


def test_reentry_margins_are_the_cells_the_mask_finds(workspace):
    src = read.Source.of(workspace)
    with src.read() as con:
        cells = con.execute("SELECT * FROM grid.reentry").df()
    dims = [c for c in cells.columns if c == "person_key" or c.endswith(("_obs", "_km"))]
    codes = sorted({v for d in dims for v in cells[d].dropna().unique()} | {"gibt-es-nicht"})
    populations = cells.groupby(["provider_id", "program", "region_code"], dropna=False)
    assert populations.ngroups > 1
    for _, population in populations:
        population = population.reset_index(drop=True)
        margins = _margins(population)
        for fixed in [{}, *({d: c} for d in [*dims, "fehlt_183_km"] for c in codes)]:
            got, want = _margin(margins, fixed), _margin_by_mask(population, fixed)
            assert (int(got["value"]), got["status"]) == (int(want["value"]), want["status"])
