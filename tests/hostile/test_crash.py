"""A kill at every move point, injected (LAGEBILD_CRASH_AT makes the run end there with
os._exit, as kill -9 would), then a normal run: the workspace ends exactly as after a run that
was never interrupted. Nothing stays half-landed, half-quarantined or half-published, and no
delivery is lost or counted twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kernel.settings import load_settings
from kernel.warehouse import connect
from pipelines.runner import run_pipeline
from tests import forked_runs
from tests.hostile.corpus import EMAIL, cases_csv, folder, staffing_csv

pytestmark = pytest.mark.slow

INGEST = ["pipelines.defs.ingest"]
UP_TO_PUBLISH = [
    "pipelines.defs.ingest",
    "pipelines.defs.marts",
    "pipelines.defs.themes",
    "pipelines.defs.publish",
]
POINTS = [
    "landing.copied",
    "landing.renamed",
    "landing.registered",
    "apply.before_commit",
    "quarantine.committed",
    "quarantine.before_rename",
    "quarantine.moved",
]


def run_in_process(inbox: Path, ws: Path, stages: list[str]):
    from pipelines import defs

    saved = list(defs.STAGE_MODULES)
    defs.STAGE_MODULES[:] = stages
    try:
        outcome = run_pipeline(load_settings(ws, inbox))
    finally:
        defs.STAGE_MODULES[:] = saved
    assert outcome.success, outcome.failures


def crash_run(inbox: Path, ws: Path, point: str, stages: list[str]) -> int:
    """`lagebild run` in a process of its own, ended at `point` (tests/forked_runs.py)."""
    env = {**os.environ, "LAGEBILD_CRASH_AT": point, "TQDM_DISABLE": "1"}
    argv = ["run", "--inbox", str(inbox), "--workspace", str(ws)]
    return forked_runs.run(argv, ws.parent / "output", env=env, stages=stages).returncode


def state(ws: Path) -> dict:
    """Everything a run leaves, comparable between workspaces (also checks that nothing is
    left half-moved)."""
    con = connect(ws / "lagebild.duckdb", read_only=True)
    try:
        deliveries = con.execute(
            "SELECT source_name, status, rows_received, rows_loaded, rows_rejected,"
            " current_tables, regexp_replace(message, 'Lieferung [0-9a-f]{16}', '')"
            " FROM audit.deliveries ORDER BY ALL"
        ).fetchall()
        tables = con.execute(
            "SELECT d.source_name, t.table_name, t.rows_received, t.rows_loaded, t.rows_rejected"
            " FROM audit.delivery_tables t JOIN audit.deliveries d USING (delivery_id) ORDER BY ALL"
        ).fetchall()
        rejections = con.execute(
            "SELECT count(*), count(DISTINCT delivery_id) FROM audit.rejections"
        ).fetchone()
        staged = con.execute(
            "SELECT provider_id, count(*) FROM staging.cases GROUP BY 1 ORDER BY 1"
        ).fetchall()
        landing = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT processed) FROM audit.landing"
        ).fetchone()
        dirs = con.execute(
            "SELECT status, delivery_id FROM audit.deliveries ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    quarantined = {d for s, d in dirs if s == "quarantined"}
    landed = {p.name for p in (ws / "landing").iterdir()}
    in_quarantine = {p.name for p in (ws / "quarantine").iterdir()}
    assert in_quarantine == quarantined
    assert all((ws / "quarantine" / d / "GRUND.txt").exists() for d in quarantined)
    assert not landed & quarantined
    assert not [p for p in (ws / "landing").iterdir() if p.name.startswith(".tmp-")]
    assert not (ws / ".work").exists() or not any((ws / ".work").iterdir())
    leftovers = list((ws / "published").glob("*.tmp*")) if (ws / "published").exists() else []
    assert not leftovers
    return {
        "deliveries": deliveries,
        "tables": tables,
        "rejections": rejections,
        "staged": staged,
        "landing": landing,
        "landed": len(landed),
    }


def build_inboxes(root: Path) -> tuple[Path, Path]:
    """inbox0: p1's old snapshot. inbox: that, plus p1's new snapshot (supersedes the old
    one), a delivery with an e-mail address (quarantine) and a duplicate of the new one."""
    first, second = root / "inbox0", root / "inbox"
    folder(first, "p1_alt", {"cases.csv": cases_csv("p1", 2), "staffing.csv": staffing_csv("p1")})
    shutil.copytree(first, second)
    old = (second / "p1_alt" / "cases.csv").stat().st_mtime
    new = folder(
        second, "p1_neu", {"cases.csv": cases_csv("p1", 3), "staffing.csv": staffing_csv("p1")}
    )
    for p in (new, *new.iterdir()):
        os.utime(p, (old + 3600, old + 3600))
    folder(second, "p2_mail", {"cases.csv": cases_csv("p2").replace("a3f09c1e77b2", EMAIL, 1)})
    shutil.copytree(new, second / "p1_neu_kopie")
    return first, second


def prepared(root: Path, first: Path, second: Path, stages: list[str]) -> tuple[Path, dict]:
    """A workspace after run 0, and the state an uninterrupted second run leaves."""
    base = root / f"base-{len(stages)}"
    base.mkdir()
    (base / "lagebild.yaml").write_text("lock_wait_seconds: 5\n")
    run_in_process(first, base, stages)
    reference = root / f"reference-{len(stages)}"
    shutil.copytree(base, reference)
    run_in_process(second, reference, stages)
    return base, state(reference)


@pytest.fixture(scope="module")
def inboxes(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    return root, *build_inboxes(root)


@pytest.fixture(scope="module")
def scenario(inboxes):
    root, first, second = inboxes
    return second, *prepared(root, first, second, INGEST)


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_every_move_point_is_completed_by_the_next_run(tmp_path, scenario, point):
    inbox, base, expected = scenario
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    assert crash_run(inbox, ws, point, INGEST) == 86, f"the run never reached {point}"
    run_in_process(inbox, ws, INGEST)
    assert state(ws) == expected


def test_a_kill_while_publishing_keeps_the_old_copy_readable(tmp_path, inboxes, scenario):
    _, first, inbox = inboxes
    expected = scenario[2]  # the ingest state does not depend on the later stages
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text("lock_wait_seconds: 5\n")
    run_in_process(first, ws, UP_TO_PUBLISH)
    before = (ws / "published" / "lagebild.duckdb").read_bytes()
    assert crash_run(inbox, ws, "publish.replace", UP_TO_PUBLISH) == 86
    assert (ws / "published" / "lagebild.duckdb").read_bytes() == before  # old copy intact
    con = connect(ws / "published" / "lagebild.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM audit.deliveries").fetchone()[0] == 1
    con.close()
    run_in_process(inbox, ws, UP_TO_PUBLISH)
    assert state(ws) == expected
    con = connect(ws / "published" / "lagebild.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM audit.deliveries").fetchone()[0] == len(
        expected["deliveries"]
    )
    con.close()
