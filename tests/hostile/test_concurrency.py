"""Three `lagebild run` started at the same moment on a fresh workspace: the workspace lock is
taken before anything of the Dagster instance is created, so the runs take turns (or a run
that waited too long stops with a clear message) and the workspace is consistent afterwards —
in repeated trials."""

from __future__ import annotations

import pytest

from kernel.settings import load_settings
from kernel.warehouse import connect
from pipelines.runner import run_pipeline
from tests import forked_runs
from tests.hostile.corpus import EMAIL, cases_csv, folder, staffing_csv

pytestmark = pytest.mark.slow

TRIALS = 2


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("concurrent") / "inbox"
    folder(inbox, "p1", {"cases.csv": cases_csv("p1", 3), "staffing.csv": staffing_csv("p1")})
    folder(inbox, "p2", {"cases.csv": cases_csv("p2", 2)})
    folder(inbox, "p3", {"cases.csv": cases_csv("p3").replace("a3f09c1e77b2", EMAIL, 1)})
    return inbox


@pytest.mark.parametrize("trial", range(TRIALS))
def test_three_concurrent_first_runs_leave_the_workspace_consistent(tmp_path, inbox, trial):
    ws = tmp_path / f"ws-{trial}"  # does not exist yet: the first runs create it
    argv = ["run", "--inbox", str(inbox), "--workspace", str(ws)]
    started = [  # each a `lagebild run` in a process of its own (tests/forked_runs.py)
        forked_runs.start(argv, tmp_path / "output", stages=["pipelines.defs.ingest"])
        for _ in range(3)
    ]
    results = [(d.returncode, d.stdout, d.stderr) for d in (c.wait(300) for c in started)]
    for code, out, err in results:
        assert "Traceback" not in out + err
        assert code in (0, 2), err
        if code == 2:  # waited the default lock_wait_seconds in vain: said plainly
            assert "wird gerade von einem anderen Lauf beschrieben" in err
    assert any(code == 0 for code, *_ in results)
    waited = [out for code, out, _ in results if "warte bis zu" in out]
    assert waited, "no run said that it waited"

    # consistent: a further run works, every delivery is recorded once, the Dagster
    # instance opens and lists the runs
    from pipelines import defs

    saved = list(defs.STAGE_MODULES)
    defs.STAGE_MODULES[:] = ["pipelines.defs.ingest"]
    try:
        outcome = run_pipeline(load_settings(ws, inbox))
    finally:
        defs.STAGE_MODULES[:] = saved
    assert outcome.success, outcome.failures
    con = connect(ws / "lagebild.duckdb", read_only=True)
    try:
        assert con.execute(
            "SELECT source_name, status FROM audit.deliveries ORDER BY 1"
        ).fetchall() == [("p1", "accepted"), ("p2", "accepted"), ("p3", "quarantined")]
        assert con.execute("SELECT count(*) FROM audit.landing").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM staging.cases").fetchone()[0] == 5
    finally:
        con.close()
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(ws / ".dagster"))
    runs = instance.get_runs()
    assert len(runs) == 1 + sum(code == 0 for code, *_ in results)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
