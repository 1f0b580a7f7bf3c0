"""A new workspace's Dagster storage copied from the empty home made at installation
(pipelines.dagster_home): Dagster opens the copies as its own, a run goes through them, and a
missing, damaged or already present storage leaves Dagster to do what it did before."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import dagster as dg
import pytest

from kernel.workspace import Workspace
from pipelines import dagster_home
from pipelines.runner import _open_instance
from tests.integration.test_ingest_pipeline import cases_delivery, run


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    made = dagster_home.write_template(tmp_path_factory.mktemp("share") / "dagster-home")
    # Dagster stamps its index markers to the second (`marks`): storage Dagster makes later
    # in this module must carry a later stamp than the template's, also when a test runs alone
    time.sleep(1.1)
    return made


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
    every = [*dagster_home.DATABASES, dagster_home.RUN_DATABASE]
    assert sorted(str(p.relative_to(template)) for p in template.rglob("*.db")) == sorted(every)
    assert rows(template / dagster_home.RUN_DATABASE, "SELECT count(*) FROM event_logs") == [(0,)]
    others = [p.name for p in template.rglob("*") if p.is_file() and p.suffix != ".db"]
    assert others == [dagster_home.MANIFEST]
    manifest = json.loads((template / dagster_home.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["dagster"] == dg.__version__
    for name in every:
        assert (
            hashlib.sha256((template / name).read_bytes()).hexdigest() == manifest["sha256"][name]
        )
    assert rows(template / "history/runs.db", "SELECT count(*) FROM runs") == [(0,)]
    revisions = {rows(template / n, "SELECT * FROM alembic_version")[0] for n in every}
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


def copy_of(template: Path, where: Path) -> Path:
    shutil.copytree(template, where)
    for path in [where, *where.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return where


def planted_run(db: Path) -> None:
    """A row in the runs table, as an altered template might carry."""
    con = sqlite3.connect(db)
    con.execute("INSERT INTO runs (run_id, run_body, status) VALUES ('fremd', '{}', 'SUCCESS')")
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "flaw",
    ["missing", "incomplete", "not sqlite", "truncated", "planted run", "no manifest", "version"],
)
def test_a_template_not_as_made_is_never_copied(tmp_path, template, monkeypatch, flaw):
    """Whatever differs from the databases Dagster made at installation (the manifest's
    SHA-256 and Dagster version) is not copied; Dagster makes the storage as before."""
    broken = copy_of(template, tmp_path / "broken")
    index = broken / "history/runs/index.db"
    if flaw == "missing":
        shutil.rmtree(broken)
    elif flaw == "incomplete":
        index.unlink()
    elif flaw == "not sqlite":
        (broken / "history/runs.db").write_bytes(b"kein SQLite")
    elif flaw == "truncated":  # the header passes, Dagster opens it and fails later
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif flaw == "planted run":
        planted_run(broken / "history/runs.db")
    elif flaw == "no manifest":
        (broken / dagster_home.MANIFEST).unlink()
    elif flaw == "version":
        manifest = json.loads((broken / dagster_home.MANIFEST).read_text())
        (broken / dagster_home.MANIFEST).write_text(json.dumps({**manifest, "dagster": "0.1"}))
    ws = new_workspace(tmp_path)
    assert dagster_home.seed(ws.dagster_home, broken) == []
    monkeypatch.setattr(dagster_home, "template_dir", lambda: broken)
    instance = _open_instance(ws)
    try:
        assert list(instance.get_runs()) == []
    finally:
        instance.dispose()
    assert marks(ws.dagster_home / "history/runs.db") != marks(template / "history/runs.db")


def test_copies_dagster_cannot_open_are_removed_and_dagster_makes_its_own(
    tmp_path, template, monkeypatch
):
    """A template that passes its own manifest (altered with it) but that Dagster cannot
    open: the copies go, with SQLite's side files, and Dagster makes the storage."""
    broken = copy_of(template, tmp_path / "broken")
    runs_db = broken / "history/runs.db"
    data = runs_db.read_bytes()
    runs_db.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    manifest = json.loads((broken / dagster_home.MANIFEST).read_text())
    manifest["sha256"]["history/runs.db"] = hashlib.sha256(runs_db.read_bytes()).hexdigest()
    (broken / dagster_home.MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setattr(dagster_home, "template_dir", lambda: broken)
    ws = new_workspace(tmp_path)
    instance = _open_instance(ws)
    try:
        assert list(instance.get_runs()) == []
    finally:
        instance.dispose()
    home_db = ws.dagster_home / "history/runs.db"
    assert marks(home_db) != marks(template / "history/runs.db")  # Dagster's own
    assert rows(home_db, "PRAGMA integrity_check") == [("ok",)]


def test_a_copy_replaced_meanwhile_is_not_removed(tmp_path, template):
    ws = new_workspace(tmp_path)
    copied = dagster_home.seed(ws.dagster_home, template)
    assert [p for p, _ in copied] == [ws.dagster_home / n for n in dagster_home.DATABASES]
    runs_db = ws.dagster_home / "history/runs.db"
    replacement = runs_db.with_name("other.db")
    replacement.write_bytes(runs_db.read_bytes())
    os.replace(replacement, runs_db)  # another process's file under the same name
    Path(f"{runs_db}-wal").write_bytes(b"")
    dagster_home.unseed(copied)
    assert runs_db.exists() and Path(f"{runs_db}-wal").exists()
    assert not (ws.dagster_home / "schedules/schedules.db").exists()
    assert not [p for p in ws.dagster_home.rglob("*.tmp")]


def test_a_crashed_copy_leaves_no_working_file_behind(tmp_path, template):
    ws = new_workspace(tmp_path)
    leftover = ws.dagster_home / "history" / ".runs.db.abc123.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"halb")
    assert len(dagster_home.seed(ws.dagster_home, template)) == 3
    assert not leftover.exists()


def marked(template: Path, where: Path) -> Path:
    """A template whose run database carries a table of its own (manifest updated): a run's
    database that has it is a copy."""
    marked = copy_of(template, where)
    run_db = marked / dagster_home.RUN_DATABASE
    con = sqlite3.connect(run_db)
    con.execute("CREATE TABLE lagebild_kopie (x INTEGER)")
    con.commit()
    con.close()
    manifest = json.loads((marked / dagster_home.MANIFEST).read_text())
    manifest["sha256"][dagster_home.RUN_DATABASE] = hashlib.sha256(run_db.read_bytes()).hexdigest()
    (marked / dagster_home.MANIFEST).write_text(json.dumps(manifest))
    return marked


@pytest.mark.parametrize("usable", [True, False])
def test_each_runs_event_log_is_a_copy_of_the_template_or_dagsters_own(
    tmp_path, template, monkeypatch, usable
):
    source = marked(template, tmp_path / "vorlage")
    if not usable:  # its bytes no longer what the manifest names
        with open(source / dagster_home.RUN_DATABASE, "ab") as fh:
            fh.write(b"\0")
    monkeypatch.setattr(dagster_home, "template_dir", lambda: source)
    inbox, ws = tmp_path / "inbox", Workspace(tmp_path / "ws")
    cases_delivery(inbox, "d1", ["K1", "K2"], exported_on="2026-09-01")
    outcome = run(inbox, ws.root)
    run_db = ws.dagster_home / "history/runs" / f"{outcome.run_id}.db"
    tables = {t for (t,) in rows(run_db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert ("lagebild_kopie" in tables) is usable
    assert rows(run_db, "SELECT count(*) > 100 FROM event_logs") == [(1,)]
    assert rows(run_db, "SELECT version_num FROM alembic_version") == rows(
        template / dagster_home.RUN_DATABASE, "SELECT version_num FROM alembic_version"
    )


def test_a_run_database_is_never_copied_over_an_existing_file(tmp_path, template):
    existing = tmp_path / "lauf.db"
    existing.write_bytes(b"schon da")
    assert not dagster_home.seed_run(existing, template)
    assert existing.read_bytes() == b"schon da"
    fresh = tmp_path / "neu.db"
    assert dagster_home.seed_run(fresh, template)
    assert fresh.read_bytes() == (template / dagster_home.RUN_DATABASE).read_bytes()
    assert fresh.stat().st_mode & 0o077 == 0
