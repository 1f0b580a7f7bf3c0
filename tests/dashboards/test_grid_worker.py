"""The publication grid's worker (pipelines.grid_worker): the longest suppression of a run's
grid computed in a process of its own gives exactly the cells and audit the run's own process
gives, goes to the first family in `LONGEST_FIRST` order that needs one, and never leaves a
family unsuppressed or a process behind when the worker fails."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure import publication
from kernel.warehouse import connect
from pipelines import grid_worker
from tests.dashboards.test_grid_memo import _same
from tests.helper_processes import running


@pytest.fixture(autouse=True)
def _helpers_on(monkeypatch):
    """The test suite runs without helpers (tests/conftest.py); these tests are about them."""
    monkeypatch.setenv("LAGEBILD_HELPERS", "1")


@pytest.fixture(autouse=True)
def _no_worker_left():
    yield
    grid_worker.stop()
    assert running("pipelines.grid_worker") == []


@pytest.fixture(scope="module")
def scratch(workspace, tmp_path_factory):
    """The fixture's grid built in this process alone (no worker, nothing kept)."""
    path = tmp_path_factory.mktemp("grid") / "lagebild.duckdb"
    src = read.Source.of(workspace)
    shutil.copy(src.ws.published_db_path, path)
    path.chmod(0o600)
    con = connect(path)
    try:
        return publication.build(con, src.settings)
    finally:
        con.close()


def _watched(delivered: list):
    """`grid_worker.take`, noting which family's pattern the worker was asked for and whether
    it delivered one."""

    def take():
        pattern = grid_worker.take()
        if pattern is None:
            return None

        def watched(spec, *args):
            found = pattern(spec, *args)
            delivered.append((spec.name, found is not None))
            return found

        return watched

    return take


def test_the_worker_suppresses_the_longest_family_exactly_as_the_run_does(warehouse, scratch):
    con, settings = warehouse
    grid_worker.arm()
    grid_worker.start()
    assert len(running("pipelines.grid_worker")) == 1
    delivered: list = []
    built = publication.build(con, settings, workers=2, elsewhere=_watched(delivered))
    assert delivered == [("referrals", True)]  # first in LONGEST_FIRST, and answered
    _same(built, scratch)
    assert grid_worker._worker.proc.wait(timeout=10) == 0  # asked once, then gone by itself


def test_a_worker_that_gives_no_answer_leaves_the_family_to_the_run(warehouse, scratch):
    con, settings = warehouse
    grid_worker.arm()
    grid_worker.start()
    grid_worker._worker.kill()  # dead before it is asked
    delivered: list = []
    built = publication.build(con, settings, workers=2, elsewhere=_watched(delivered))
    assert delivered == [("referrals", False)]
    _same(built, scratch)


def test_an_unarmed_run_starts_no_worker_and_builds_alike(warehouse, scratch):
    """A run not started by `lagebild` (dagster dev, one asset) arms nothing: the marts' step
    starts no worker, and the grid is built in the run's process."""
    con, settings = warehouse
    grid_worker.start()
    assert running("pipelines.grid_worker") == []
    _same(publication.build(con, settings, elsewhere=grid_worker.take), scratch)


def test_with_helpers_switched_off_no_worker_starts(monkeypatch):
    monkeypatch.setenv("LAGEBILD_HELPERS", "0")
    grid_worker.arm()
    grid_worker.start()
    assert grid_worker.take() is None
    assert running("pipelines.grid_worker") == []


def test_the_worker_goes_to_the_first_family_still_to_be_suppressed():
    """A family takes the worker only when every family before it in the build's order is
    done without it (reused from the memo, or without cells), and only one family takes it."""
    handed = []
    offer = publication._Offer(["referrals", "goals", "reentry"], lambda: handed.append(1) or "w")
    assert offer.take("goals") is None  # referrals may still want it
    offer.settle("referrals")  # referrals kept its cells: no suppression
    assert offer.take("reentry") is None
    assert offer.take("goals") == "w"
    offer.settle("goals")
    assert offer.take("reentry") is None  # taken once
    assert handed == [1]
    assert publication._Offer(["a"], None).take("a") is None  # no worker: the run does it


def _cells(**columns) -> pd.DataFrame:
    frame = {"period": ["2026-Q1"], "value": [1], "status": pd.array([""], dtype="string")}
    return pd.DataFrame({**frame, **columns})


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "not a pattern",
        (_cells(), {}, {"unprotected": 0}),  # a part missing
        (_cells().drop(columns="status"), {}, {"unprotected": 0}, 0),
        (_cells().drop(columns="period"), {}, {"unprotected": 0}, 0),  # not the family's
        (_cells(program=["x"]), {}, {"unprotected": 0}, 0),
        (_cells(value=[1.5]), {}, {"unprotected": 0}, 0),
        (_cells(), {}, {}, 0),  # no audit figure
        (_cells(), {}, {"unprotected": 0}, 0.0),
    ],
)
def test_an_answer_without_the_form_of_the_familys_pattern_is_not_taken(answer):
    assert grid_worker._is_pattern((_cells(), {}, {"unprotected": 0}, 0), ("period",))
    assert not grid_worker._is_pattern(answer, ("period",))


def test_a_pattern_travels_exactly():
    cells = pd.DataFrame(
        {"period": pd.array(["2026-Q1", "__all__"], dtype="string"), "value": [3, 7]}
    ).assign(status=pd.array(["", "secondary"], dtype="string"))
    pattern = (cells, {"rounds": 2}, {"unprotected": 0, "narrowest_width": 3.0}, 0)
    back = grid_worker._decode(grid_worker._encode(pattern))
    pd.testing.assert_frame_equal(back[0], cells)
    assert back[1:] == pattern[1:] and grid_worker._is_pattern(back, ("period",))


@pytest.mark.slow
def test_a_run_hands_its_longest_suppression_to_the_worker_and_publishes_the_same_grid(
    tmp_path, caplog, monkeypatch
):
    """The wiring of a whole run: armed by `lagebild`'s runner, started with the marts' step,
    asked by the grid, gone with it; the published grid is the one the run's own process
    builds from the same marts."""
    import logging
    import threading

    from generator import generate_inbox
    from kernel.settings import load_settings
    from pipelines.runner import run_pipeline

    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    generate_inbox(inbox, cases=300, providers=3, seed=5, plain=True)
    stopped_by = []  # the threads that stopped the worker: the grid's build first
    stop = grid_worker.stop

    def noted_stop():
        if grid_worker._worker is not None:
            stopped_by.append(threading.current_thread().name)
        stop()

    monkeypatch.setattr(grid_worker, "stop", noted_stop)
    with caplog.at_level(logging.DEBUG, logger="lagebild.publish"):
        outcome = run_pipeline(load_settings(ws, inbox))
    assert outcome.success, outcome.failures
    assert [n.rpartition("_")[0] for n in stopped_by] == ["lagebild-grid-build"]
    # Dagster puts the run and the step before a message
    asked = [r.getMessage().rpartition(" - ")[2] for r in caplog.records]
    asked = [m for m in asked if "Rasterprozess" in m]
    assert asked == ["Unterdrückung der Familie referrals im Rasterprozess berechnet."]
    assert running("pipelines.grid_worker") == []
    path = tmp_path / "copy.duckdb"
    shutil.copy(ws / "published" / "lagebild.duckdb", path)
    path.chmod(0o600)
    con = connect(path)
    try:
        here = publication.build(con, load_settings(ws))
        for name, (cells, _summary) in here.items():
            published = con.execute(f"SELECT * FROM grid.{name}").df()
            key = [c for c in cells.columns if c not in ("value", "status")]
            mine = cells.sort_values(key, ignore_index=True)
            theirs = published[cells.columns].sort_values(key, ignore_index=True)
            assert mine["status"].tolist() == theirs["status"].tolist(), name
            assert mine["value"].tolist() == theirs["value"].tolist(), name
    finally:
        con.close()


def test_a_publication_called_off_does_not_suppress_the_workers_family_itself(
    warehouse, monkeypatch
):
    """The copy failed or the run was stopped while the worker suppressed: the worker is
    killed (`grid_worker.kill`, as the publish step does), and its family ends the build
    instead of being suppressed in the run's process for nothing."""
    import threading

    con, settings = warehouse
    done_here = []
    own = publication.suppression_pattern
    monkeypatch.setattr(
        publication,
        "suppression_pattern",
        lambda spec, *args: done_here.append(spec.name) or own(spec, *args),
    )
    cancel = threading.Event()

    def take():
        pattern = grid_worker.take()

        def called_off(spec, *args):
            cancel.set()  # as the publish step: called off, then the worker killed meanwhile
            threading.Timer(0.5, grid_worker.kill).start()
            return pattern(spec, *args)

        return called_off

    grid_worker.arm()
    grid_worker.start()
    with pytest.raises(publication.Cancelled):  # the first family to see it says so
        publication.build(con, settings, workers=2, cancel=cancel, elsewhere=take)
    assert "referrals" not in done_here


def test_a_code_update_during_the_run_is_not_mixed_into_its_grid(warehouse, scratch, monkeypatch):
    """The worker loaded the grid's code when the marts began; a checkout updated before the
    run's process loads it gives the run another code key: the worker refuses, and the run
    suppresses with its own code (the memo never keeps one code's cells under the other's
    key)."""
    from dashboards.disclosure import publication as loaded

    con, settings = warehouse
    grid_worker.arm()
    grid_worker.start()
    monkeypatch.setattr(loaded, "CODE_KEY", "der Code nach einem Update")
    delivered: list = []
    built = publication.build(con, settings, workers=2, elsewhere=_watched(delivered))
    assert delivered == [("referrals", False)]
    _same(built, scratch)


def test_a_frozen_worker_is_given_up_while_the_request_is_sent(monkeypatch):
    """A request larger than the pipe holds waits for the worker to read it; a stopped one
    reads nothing, and is given up after the silence as for its answer."""
    import os
    import signal
    import time

    monkeypatch.setattr(grid_worker, "SILENCE_SECONDS", 1.0)
    grid_worker.arm()
    grid_worker.start()
    worker = grid_worker._worker
    os.kill(worker.proc.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        leaves = pd.DataFrame({"period": ["2026-Q1"] * 200_000, "value": range(200_000)})
        assert worker.pattern(publication.pattern_spec, leaves) is None
        assert time.monotonic() - began < 30
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)


def test_a_request_that_cannot_be_sent_leaves_the_family_to_the_run():
    grid_worker.arm()
    grid_worker.start()
    assert grid_worker._worker.pattern(publication.pattern_spec, lambda: 0) is None


def test_a_failing_stop_at_the_end_of_a_run_still_stops_the_others_and_frees_the_workspace(
    tmp_path, monkeypatch
):
    """A run's end stops its helpers and releases the workspace's lock; one stop that fails
    (a second Ctrl-C while a helper is reaped) stops neither the others nor the release."""
    import subprocess
    import sys

    from kernel.settings import load_settings
    from pipelines import report_worker, runner, suite_worker

    stopped = []

    def interrupted():
        stopped.append("suites")
        raise KeyboardInterrupt

    monkeypatch.setattr(suite_worker, "stop", interrupted)
    monkeypatch.setattr(grid_worker, "stop", lambda: stopped.append("grid"))
    monkeypatch.setattr(report_worker, "stop", lambda: stopped.append("reports"))
    monkeypatch.setattr(runner, "_run_locked", lambda *args: "done")
    settings = load_settings(tmp_path / "ws")
    with pytest.raises(KeyboardInterrupt):
        runner.run_pipeline(settings, selection=["staging"])
    assert stopped == ["suites", "grid", "reports"]
    free = (
        "from kernel.warehouse import write_lock\nwith write_lock(__import__('sys').argv[1]): pass"
    )
    done = subprocess.run([sys.executable, "-c", free, str(settings.ws.lock_file)], timeout=60)
    assert done.returncode == 0  # another process takes the lock at once


def test_the_marts_step_starts_the_worker_only_before_a_whole_build():
    """A re-delivery's partial build keeps most families from the memo: no worker loads
    beside its marts for them (pipelines.defs.marts)."""
    from pipelines.defs.marts import _grid_worker_if_whole

    grid_worker.arm()
    _grid_worker_if_whole(["jmd-dortmund"])
    assert grid_worker._worker is None and running("pipelines.grid_worker") == []
    _grid_worker_if_whole(None)
    assert len(running("pipelines.grid_worker")) == 1
