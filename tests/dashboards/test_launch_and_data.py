"""Launch command (nothing phones home), preparation checks, and the published-copy cache."""

from __future__ import annotations

import os
import shutil

import pytest

from dashboards import read
from dashboards.launch import command, prepare
from dashboards.read import AccessDenied, Filters, Source, Viewer
from kernel.errors import UserError
from tests.dashboards.fixture_warehouse import build


def test_command_is_headless_without_usage_stats(tmp_path):
    cmd = command(tmp_path, port=8765, demo=True)
    joined = " ".join(cmd)
    assert "--browser.gatherUsageStats false" in joined
    assert "--server.headless true" in joined
    assert "--server.address 127.0.0.1" in joined  # no external-IP lookup at start
    assert cmd[-3:] == ["--workspace", str(tmp_path.resolve()), "--demo"]


def test_prepare_requires_users_unless_demo(tmp_path):
    with pytest.raises(UserError, match="users add"):
        prepare(tmp_path, demo=False)
    with pytest.raises(UserError, match="gibt es nicht"):
        prepare(tmp_path / "fehlt", demo=False)


def test_prepare_demo_creates_labelled_users(workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    (ws / "users.yaml").unlink()
    users = prepare(ws, demo=True)
    assert {u.role for u in users} == {"koordination", "traeger", "evaluation", "foerderer"}
    assert all(u.demo and u.label.startswith("Demo:") for u in users)
    assert next(u for u in users if u.role == "traeger").provider == "p01"


def test_new_publication_is_read_without_restart(tmp_path):
    """The pipeline swaps the published file atomically; the cache key follows the file."""
    from kernel.workspace import Workspace

    ws = Workspace(tmp_path)
    build(ws.published_db_path, seed=3)
    src = Source.of(tmp_path)
    v = src.viewer("koordination")
    key1 = src.identity()
    before = read.case_counts(src, v, Filters()).table

    # a reader holding the old file open is not disturbed by the swap
    from kernel.warehouse import reader

    with reader(ws.published_db_path) as con:
        tmp = tmp_path / "new.duckdb"
        build(tmp, seed=11)
        os.replace(tmp, ws.published_db_path)
        assert con.execute("SELECT count(*) FROM mart.cases").fetchone()[0] > 0
    key2 = src.identity()
    assert key1 != key2
    after = read.case_counts(src, v, Filters()).table
    assert not before.equals(after)


def test_funder_gets_no_case_level_data(workspace):
    src = Source.of(workspace)
    f = Filters()
    v = Viewer("foerderer")
    for fn in (read.cases, read.reentry_cases, read.caseload_by_caseworker):
        with pytest.raises(AccessDenied):
            fn(src, v, f)
    with pytest.raises(AccessDenied):
        read.deliveries(src, v)
    with pytest.raises(AccessDenied):
        read.rejections(src, v)
    with pytest.raises(AccessDenied):
        read.theme_cases(src, v, theme_id="T-kein_angebot-wohnen")


def test_provider_filter_cannot_be_widened(workspace):
    src = Source.of(workspace)
    v = Viewer("traeger", "p04")
    wide = Filters(providers=("p01", "p02", "p03", "p04"))
    assert set(read.cases(src, v, wide)["provider_id"]) == {"p04"}
    assert set(read.deliveries(src, v)["provider_id"]) == {"p04"}
    assert set(read.rejections(src, v)["provider_id"]) <= {"p04"}
    cl = read.caseload(src, v, wide)
    assert set(cl.table["provider_id"]) == {"p04"}
    assert cl.k is None  # its own cases, unsuppressed (metrics.md: beyond its own cases)
    assert read.filter_options(src, v)["providers"] == ["p04"]
    with pytest.raises(AccessDenied):
        Viewer("traeger")


def test_evaluation_gets_counted_rejections_without_file_names(workspace):
    src = Source.of(workspace)
    v = Viewer("evaluation")
    rej = read.rejections(src, v)
    assert "line" not in rej.columns and "file_name" not in rej.columns
    assert "rejections" in rej.columns
    assert "source_name" not in read.deliveries(src, v).columns


def test_deliveries_workbook_has_every_rejection(workspace):
    from python_calamine import CalamineWorkbook

    from dashboards.views.lieferungen import workbook

    data = workbook(Source.of(workspace), Viewer("koordination"))
    path = workspace.parent / "lieferstatus.xlsx"
    path.write_bytes(data)
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names[:3] == ["Lieferungen", "Tabellen", "Zurückweisungen"]
    rows = wb.get_sheet_by_name("Zurückweisungen").to_python()
    reasons = {r[-1] for r in rows}
    assert "Ende liegt vor Beginn" in reasons
    assert any("Identifikator" in str(r) for r in reasons)
