"""A new workspace's Dagster storage copied from the empty home made at installation
(pipelines.dagster_home): Dagster opens the copies as its own, a run goes through them, and a
missing, damaged or already present storage leaves Dagster to do what it did before."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from kernel.workspace import Workspace
from pipelines import dagster_home
from pipelines.runner import _open_instance
from tests.integration.test_ingest_pipeline import cases_delivery, run


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return dagster_home.write_template(tmp_path_factory.mktemp("share") / "dagster-home")


def rows(db: Path, sql: str) -> list:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def marks(db: Path) -> list:
    """Dagster's index markers with the time it wrote them: copied, they keep the template's."""
    return rows(db, "SELECT name, create_timestamp FROM secondary_indexes ORDER BY name")


def new_workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


def test_the_template_is_dagsters_empty_storage_at_its_current_revision(template):
    assert sorted(str(p.relative_to(template)) for p in template.rglob("*.db")) == sorted(
        dagster_home.DATABASES
    )
    assert not [p for p in template.rglob("*") if p.is_file() and p.suffix != ".db"]
    assert rows(template / "history/runs.db", "SELECT count(*) FROM runs") == [(0,)]
    revisions = {
        rows(template / n, "SELECT * FROM alembic_version")[0] for n in dagster_home.DATABASES
    }
    assert len(revisions) == 1
    assert dagster_home.template_dir().name == f"dagster-home-{dg.__version__}"


def test_a_new_workspace_runs_on_copies_of_the_template(tmp_path, template, monkeypatch):
    monkeypatch.setattr(dagster_home, "template_dir", lambda: template)
    inbox, ws = tmp_path / "inbox", Workspace(tmp_path / "ws")
    cases_delivery(inbox, "d1", ["K1", "K2"], exported_on="2026-09-01")
    old = os.umask(0o077)
    try:
        outcome = run(inbox, ws.root)
    finally:
        os.umask(old)
    home = ws.dagster_home
    for name in dagster_home.DATABASES:
        assert marks(home / name) == marks(template / name), name  # copied, not made anew
        assert (home / name).stat().st_mode & 0o077 == 0, name  # owner-only, as the workspace
    assert rows(home / "history/runs.db", "SELECT run_id, status FROM runs") == [
        (outcome.run_id, "SUCCESS")
    ]
    assert rows(template / "history/runs.db", "SELECT count(*) FROM runs") == [(0,)]


def test_a_home_with_storage_of_its_own_is_left_alone(tmp_path, template):
    ws = new_workspace(tmp_path)
    dg.DagsterInstance.from_config(str(ws.dagster_home)).dispose()
    before = {n: marks(ws.dagster_home / n) for n in dagster_home.DATABASES}
    (ws.dagster_home / "schedules/schedules.db").unlink()  # one missing: still its own
    assert dagster_home.seed(ws.dagster_home, template) == []
    assert not (ws.dagster_home / "schedules/schedules.db").exists()
    assert marks(ws.dagster_home / "history/runs.db") == before["history/runs.db"]


@pytest.mark.parametrize("flaw", ["missing", "incomplete", "not sqlite", "damaged"])
def test_without_a_usable_template_dagster_makes_the_storage(tmp_path, template, monkeypatch, flaw):
    broken = tmp_path / "broken"
    if flaw != "missing":
        for name in dagster_home.DATABASES:
            (broken / name).parent.mkdir(parents=True, exist_ok=True)
            (broken / name).write_bytes((template / name).read_bytes())
    if flaw == "incomplete":
        (broken / "history/runs/index.db").unlink()
    elif flaw == "not sqlite":
        (broken / "history/runs.db").write_bytes(b"kein SQLite")
    elif flaw == "damaged":  # the header passes, the rest is garbage
        data = (template / "history/runs.db").read_bytes()
        (broken / "history/runs.db").write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    monkeypatch.setattr(dagster_home, "template_dir", lambda: broken)
    ws = new_workspace(tmp_path)
    instance = _open_instance(ws)
    try:
        assert list(instance.get_runs()) == []
    finally:
        instance.dispose()
    runs_db = ws.dagster_home / "history/runs.db"
    assert marks(runs_db) != marks(template / "history/runs.db")  # Dagster's own
    assert rows(runs_db, "PRAGMA integrity_check") == [("ok",)]
