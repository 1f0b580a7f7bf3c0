"""The contract suites in their own process (pipelines.suite_worker): a whole run validates
there, the outcomes are the ones the run's own process computes, nothing of the data comes
back, and a worker that cannot answer leaves the run to validate itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from data_contracts import load_contract
from kernel.warehouse import writer
from pipelines import suite_worker
from tests.helper_processes import running
from tests.integration.test_ingest_pipeline import cases_delivery, check_metadata, run
from tests.workspace_lock import lock_held_elsewhere

pytestmark = pytest.mark.slow

NAMES = list(load_contract().tables)


@pytest.fixture(autouse=True)
def _helpers_on(monkeypatch):
    """The test suite runs without helpers (tests/conftest.py); these tests are about them."""
    monkeypatch.setenv("LAGEBILD_HELPERS", "1")


@pytest.fixture
def ingest_only(monkeypatch):
    from pipelines import defs as stages

    monkeypatch.setattr(stages, "STAGE_MODULES", ["pipelines.defs.ingest"])


@pytest.fixture(scope="module")
def broken_warehouse(tmp_path_factory) -> Path:
    """A loaded warehouse with rows against the contract planted in staging afterwards: an
    unknown programme and an e-mail address as a person key. Shared: the tests only read it
    (one opens a writer at its end, after its worker is gone)."""
    from pipelines import defs as stages

    saved = list(stages.STAGE_MODULES)
    stages.STAGE_MODULES[:] = ["pipelines.defs.ingest"]
    try:
        root = tmp_path_factory.mktemp("suites")
        inbox, ws = root / "inbox", root / "ws"
        cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
        run(inbox, ws)
    finally:
        stages.STAGE_MODULES[:] = saved
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        con.execute("UPDATE staging.cases SET program = 'unbekannt' WHERE case_id = 'K2'")
        con.execute("UPDATE staging.cases SET person_key = 'x@example.org' WHERE case_id = 'K3'")
    return ws / "lagebild.duckdb"


def without_seconds(outcomes: dict) -> dict:
    """The outcomes without what differs from one validation to the next."""
    measured = ("seconds", "peak_rss_mb")
    return {n: {k: v for k, v in o.items() if k not in measured} for n, o in outcomes.items()}


def children_running_the_worker() -> list:
    return running("pipelines.suite_worker")


def test_a_whole_run_validates_in_the_worker_and_leaves_no_process(tmp_path, ingest_only):
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
    outcome = run(inbox, ws)
    for name in NAMES:
        meta = check_metadata(ws, outcome.run_id, f"contract_{name}")
        assert meta["passed"] and meta["validated_in"] == "eigener Prüfprozess", name
    assert check_metadata(ws, outcome.run_id, "contract_cases")["rows"] == 3
    assert children_running_the_worker() == []


def test_the_run_loads_the_themes_modules_only_when_its_themes_will_fit(
    tmp_path, ingest_only, monkeypatch
):
    """While the worker validates, the run asks whether its themes will fit the text model
    (`pipelines.prewarm`): yes before any fit; no once a fit of these very notes is kept, as
    after a re-delivery that changes no note; yes again when a note changes."""
    from generator import generate_inbox
    from kernel.settings import load_settings
    from pipelines import prewarm
    from transforms.themes.build import build_themes

    asked = []
    real_start = prewarm.start

    def start(items=prewarm.PREWARM, needed=None):
        asked.append(needed)
        return real_start((), needed=needed)  # nothing loaded into the test process

    monkeypatch.setattr(prewarm, "start", start)
    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    generate_inbox(inbox, cases=300, providers=2, seed=5, plain=True)
    run(inbox, ws)
    [needed] = asked
    assert needed is not None and needed() is True
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        assert build_themes(con, load_settings(ws, inbox))["text_model"] == "angepasst"
    assert needed() is False
    with writer(ws / "lagebild.duckdb", ws / ".lagebild.lock") as con:
        con.execute(
            "UPDATE staging.barriers SET note = note || ' Schulden'"
            " WHERE rowid = (SELECT max(rowid) FROM staging.barriers WHERE note <> '')"
        )
    assert needed() is True


def test_with_helpers_switched_off_a_run_validates_itself_alike(tmp_path, ingest_only, monkeypatch):
    """LAGEBILD_HELPERS=0 (a machine whose cores other work keeps busy): no worker starts, the
    run validates in its own process, and every suite's outcome is the worker's."""
    inbox = tmp_path / "inbox"
    cases_delivery(inbox, "d1", ["K1", "K2", "K3"], exported_on="2026-09-01")
    outcome = run(inbox, tmp_path / "with")
    helped = {n: check_metadata(tmp_path / "with", outcome.run_id, f"contract_{n}") for n in NAMES}
    assert {m["validated_in"] for m in helped.values()} == {"eigener Prüfprozess"}
    monkeypatch.setenv("LAGEBILD_HELPERS", "0")
    started = []
    real_start = suite_worker.helper_process.start
    monkeypatch.setattr(
        suite_worker.helper_process,
        "start",
        lambda make: started.append(real_start(make)) or started[-1],
    )
    outcome = run(inbox, tmp_path / "without")
    alone = {
        n: check_metadata(tmp_path / "without", outcome.run_id, f"contract_{n}") for n in NAMES
    }
    assert started == [None]  # asked for its worker, got none
    assert {m["validated_in"] for m in alone.values()} == {"Lauf-Prozess"}
    same = ("passed", "rows", "expectations", "violated", "details", "checked")
    assert {n: {k: m[k] for k in same} for n, m in alone.items()} == {
        n: {k: m[k] for k in same} for n, m in helped.items()
    }
    assert children_running_the_worker() == []


@pytest.mark.parametrize(
    ("value", "wanted"),
    [("", True), ("1", True), ("0", False), (" Aus ", False), ("nein", False), ("false", False)],
)
def test_helpers_are_switched_off_by_a_no_only(monkeypatch, value, wanted):
    monkeypatch.setenv("LAGEBILD_HELPERS", value)
    assert suite_worker.helper_process.helpers_wanted() is wanted


@pytest.mark.parametrize(("helpers", "at_once"), [("0", 1), ("1", suite_worker.SUITE_WORKERS)])
def test_a_run_validating_itself_takes_tables_side_by_side_only_where_cores_are_free(
    monkeypatch, helpers, at_once
):
    """With LAGEBILD_HELPERS=0 (every core busy already) the run validates one table at a
    time; with helpers wanted but none answering, as many as the worker would."""
    seen = []

    def tables(db_path, names, condition, params, contexts):
        seen.append(len(contexts))
        return {}

    monkeypatch.setenv("LAGEBILD_HELPERS", helpers)
    monkeypatch.setattr(suite_worker, "validate_tables", tables)
    monkeypatch.setattr(suite_worker, "_worker", None)
    assert suite_worker.validate(Path("x.duckdb"), ["cases"], "true", []) == ({}, "Lauf-Prozess")
    assert seen == [at_once]


def test_a_run_waiting_for_the_lock_loads_no_worker_beside_the_run_holding_it(tmp_path):
    """The worker starts once the run holds the workspace lock: a second run queued behind a
    working one must not load Great Expectations (2–3 s of CPU, 260 MB) against it."""
    from kernel.errors import UserError
    from kernel.settings import load_settings
    from pipelines.runner import run_pipeline

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text("lock_wait_seconds: 2\n")
    seen: list[list] = []

    def waiting(message: str) -> None:  # called while the run waits for the lock
        time.sleep(0.5)  # a worker started before the lock would be running by now
        seen.append(children_running_the_worker())

    with lock_held_elsewhere(ws), pytest.raises(UserError, match="anderen Lauf"):
        run_pipeline(load_settings(ws, tmp_path / "inbox"), on_wait=waiting)
    assert seen == [[]]


def test_the_worker_finds_what_the_run_itself_finds_and_returns_no_value(broken_warehouse):
    here = suite_worker.validate_tables(broken_warehouse, NAMES, "true", [])
    suite_worker.start()
    there, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "eigener Prüfprozess"
    assert without_seconds(there) == without_seconds(here)
    assert not there["cases"]["passed"] and there["cases"]["rows"] == 3
    failed = {f["expectation"] for f in there["cases"]["failed"]}
    assert {"expect_column_values_to_be_in_set", "expect_column_values_to_match_regex"} <= failed
    assert all(there[n]["passed"] for n in NAMES if n != "cases")
    answer = json.dumps(there)
    assert "example.org" not in answer and "unbekannt" not in answer
    assert children_running_the_worker() == []


def test_the_validation_returns_only_once_the_prewarm_question_is_answered(
    broken_warehouse, monkeypatch
):
    """The question whether the themes will fit reads the warehouse in the prewarm's thread;
    the staging checks' step must not end before it did (its next step writes). Here the
    question is still at work when the worker has answered."""
    answered, worker_done = [], threading.Event()

    def slow_question() -> bool:
        worker_done.wait(60)
        time.sleep(0.5)
        answered.append(time.monotonic())
        return False

    suite_worker.start()
    real_ask = type(suite_worker._worker).ask

    def ask(self, request):
        try:
            return real_ask(self, request)
        finally:
            worker_done.set()

    monkeypatch.setattr(type(suite_worker._worker), "ask", ask)
    _, place = suite_worker.validate(broken_warehouse, NAMES, "true", [], slow_question)
    returned = time.monotonic()
    assert place == "eigener Prüfprozess"
    assert answered and answered[0] <= returned


def test_a_worker_that_died_leaves_the_run_to_validate_itself(broken_warehouse):
    suite_worker.start()
    suite_worker._worker.proc.kill()
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess"
    here = suite_worker.validate_tables(broken_warehouse, NAMES, "true", [])
    assert without_seconds(outcomes) == without_seconds(here)


def test_a_worker_that_fails_leaves_the_run_to_validate_itself(broken_warehouse, tmp_path):
    """The worker cannot read the file it is sent to (here: no warehouse there); the run's
    own process then validates the one it has."""
    suite_worker.start()
    worker = suite_worker._worker
    outcome = worker.ask(
        {
            "db_path": str(tmp_path / "nichts" / "lagebild.duckdb"),
            "names": NAMES,
            "condition": "true",
            "params": [],
            "duckdb_config": {},
        }
    )
    assert outcome is None
    worker.stop()
    suite_worker.start()
    suite_worker._worker.proc.stdin.close()  # a worker that can no longer be asked
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess" and not outcomes["cases"]["passed"]


def test_a_worker_never_asked_ends_with_the_run_at_once():
    """A run that fails before its checks does not wait for the worker to finish loading."""
    suite_worker.start()
    proc = suite_worker._worker.proc
    suite_worker.stop()
    assert proc.returncode == -signal.SIGKILL
    assert suite_worker._worker is None
    assert children_running_the_worker() == []


# a condition that keeps the worker's DuckDB busy for minutes; on one thread (ONE_THREAD), so
# that it keeps one core busy, not every core the test session's other worker needs too
SLOW = "(SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3) >= 0"
ONE_THREAD = {"threads": 1}


@pytest.mark.parametrize("moment", ["loading", "waiting", "validating"])
def test_the_worker_ends_when_the_run_is_killed(broken_warehouse, moment):
    """An orphan would keep validating and hold the warehouse open against the next run:
    loading or validating, it sees its parent gone; waiting (loaded, not asked), it reads the
    end of its input. Each way its temporary folder goes with it (waiting, it was left behind
    until 2026-12-05)."""
    ask = (
        "w.proc.stdin.write(json.dumps(dict(db_path=sys.argv[1], names=['cases'],"
        f" condition={SLOW!r}, params=[], duckdb_config={ONE_THREAD!r})).encode() + b'\\n');"
        " w.proc.stdin.flush();"
        if moment == "validating"
        else ""
    )
    script = (
        "import json, sys, time; from pipelines import suite_worker; suite_worker.start();"
        f" w = suite_worker._worker; {ask} print(w.proc.pid, w.tmp, flush=True);"
        " time.sleep(600)"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", script, str(broken_warehouse)], stdout=subprocess.PIPE, text=True
    )
    pid, folder = run.stdout.readline().split()
    worker = psutil.Process(int(pid))
    assert Path(folder).is_dir()
    if moment == "waiting":  # GX loaded: the worker idles until it is asked
        deadline = time.monotonic() + 60
        while worker.cpu_percent(0.5) > 5:
            assert time.monotonic() < deadline, "the worker never finished loading"
    if moment == "validating":  # GX loaded, request read, the warehouse open, DuckDB at work
        deadline = time.monotonic() + 60
        warehouse = str(broken_warehouse.resolve())
        while not any(f.path == warehouse for f in worker.open_files()) or (
            worker.cpu_percent(0.5) < 50
        ):
            assert time.monotonic() < deadline, "the worker never started validating"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    # within 10 s the worker is gone and the next run can write. The leader thread shows as
    # a zombie while the process's other threads (DuckDB's) still end and hold the file's
    # lock for a moment: the test waits for both, as a run waits for the warehouse's lock
    deadline = time.monotonic() + 10
    while True:
        try:
            gone = worker.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            gone = True
        if gone and _can_write(broken_warehouse) and not Path(folder).exists():
            break
        if time.monotonic() > deadline:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
            raise AssertionError(
                "the worker outlived the run by 10 s, held the warehouse or left its folder"
            )
        time.sleep(0.1)


def _can_write(db: Path) -> bool:
    try:
        with writer(db, db.parent / ".lagebild.lock"):
            return True
    except duckdb.IOException:
        return False


def test_the_worker_uses_the_runs_duckdb_settings(broken_warehouse):
    """The run's memory limit and spill folder hold in the worker as well: a limit DuckDB
    refuses fails there (and the run validates itself), a valid one is answered."""
    request = {"db_path": str(broken_warehouse), "names": NAMES, "condition": "true"}
    suite_worker.start()
    bad = suite_worker._worker.ask(
        {**request, "params": [], "duckdb_config": {"memory_limit": "x"}}
    )
    assert bad is None
    suite_worker.start()
    good = suite_worker._worker.ask(
        {**request, "params": [], "duckdb_config": {"memory_limit": "1GB"}}
    )
    suite_worker.stop()
    assert good is not None and not good["cases"]["passed"]


def test_the_workers_start_loads_no_scipy_stats():
    """The worker's start loads what validating needs, not scipy.stats (Great Expectations
    imports it for an expectation the contracts do not use: 0.8 s)."""
    script = (
        "import os, sys; from pipelines import suite_worker; suite_worker._prepare();"
        " print(int('great_expectations' in sys.modules),"
        " int('scipy.stats._stats_py' in sys.modules), flush=True); os._exit(0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    gx_loaded, stats_loaded = map(int, done.stdout.split())
    assert gx_loaded and not stats_loaded
    assert "leaked" not in done.stderr  # the worker's way out tears nothing down


def test_the_suites_collections_leave_out_the_loaded_libraries(broken_warehouse):
    """Each validated frame is collected (`validate_frames`), and a large table's memory given
    back with a full collection: while the suites run, the heap loaded before (Great
    Expectations and its contexts, pandas, DuckDB) is frozen, so a collection goes over what
    the validation made, not over everything loaded (~0.5 s each time). Unfrozen afterwards.
    In a fresh process, as where the run validates itself: Great Expectations is loaded there
    by the suites' first call."""
    script = (
        "import gc, sys; from pathlib import Path; from data_contracts import suites;"
        " from pipelines import suite_worker; seen = []; real = suites.validate_frame\n"
        "def counting(*a, **k):\n"
        "    seen.append((gc.get_freeze_count(), len(gc.get_objects())))\n"
        "    return real(*a, **k)\n"
        "suites.validate_frame = counting\n"
        f"out = suite_worker.validate_tables(Path(sys.argv[1]), {NAMES!r}, 'true', [])\n"
        "print(len(out), len(seen), min(f for f, _ in seen), max(t for _, t in seen),"
        " gc.get_freeze_count(), int('scipy.stats._stats_py' in sys.modules), flush=True)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(broken_warehouse)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    tables, frames, frozen, tracked, frozen_after, stats = map(int, done.stdout.split())
    assert tables == len(NAMES) and frames >= 1
    assert not stats  # deferred here as in the worker (`gx_contexts`): 0.6-0.8 s less
    assert frozen > 100_000 and tracked < frozen / 20, (frozen, tracked)
    assert frozen_after == 0


def test_the_workers_time_and_memory_are_the_tables_stages(broken_warehouse):
    from pipelines import observe

    observe.reset_stages()
    suite_worker.start()
    suite_worker.validate(broken_warehouse, NAMES, "true", [])
    for name in NAMES:
        st = observe.STAGES[f"checks.contract_{name}"]
        assert st.calls == 1 and st.seconds > 0 and st.peak_rss_mb > 100, name


def test_an_answer_missing_a_table_is_not_taken(broken_warehouse, monkeypatch):
    suite_worker.start()
    real_ask = suite_worker.SuiteWorker.ask

    def partial(self, request):
        outcomes = real_ask(self, request)
        outcomes.pop("cases")
        return outcomes

    monkeypatch.setattr(suite_worker.SuiteWorker, "ask", partial)
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess" and not outcomes["cases"]["passed"]


def test_a_relative_spill_folder_means_the_same_folder_in_both_processes(tmp_path, monkeypatch):
    """The worker runs in another working directory; spilled rows must land where the
    settings say, not in the code's folder."""
    from kernel import warehouse

    monkeypatch.setattr(warehouse, "DUCKDB_CONFIG", dict(warehouse.DUCKDB_CONFIG))
    monkeypatch.chdir(tmp_path)
    warehouse.limit_memory(None, "spill")
    assert warehouse.DUCKDB_CONFIG["temp_directory"] == str(tmp_path / "spill")


@pytest.mark.timeout(180)  # a regression waits for ever: fail instead
def test_a_silent_worker_is_given_up_and_the_run_validates_itself(broken_warehouse, monkeypatch):
    """A stopped (or frozen) worker sends no sign of life: after SILENCE_SECONDS the run stops
    it and validates itself instead of waiting for ever."""
    monkeypatch.setattr(suite_worker, "SILENCE_SECONDS", 2.0)
    suite_worker.start()
    proc = suite_worker._worker.proc
    os.kill(proc.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    outcomes, place = suite_worker.validate(broken_warehouse, NAMES, "true", [])
    assert place == "Lauf-Prozess" and time.monotonic() - t0 < 45
    here = suite_worker.validate_tables(broken_warehouse, NAMES, "true", [])
    assert without_seconds(outcomes) == without_seconds(here)
    assert proc.returncode == -signal.SIGKILL and children_running_the_worker() == []


@pytest.mark.timeout(180)  # a regression waits for ever: fail instead
def test_a_worker_whose_validation_hangs_without_working_falls_silent(broken_warehouse, tmp_path):
    """Its beat thread lives on, but the validation waits for ever without using CPU time
    (here: a read from a pipe nobody writes to): after the signs of life of its start they
    stop, so the run gives the worker up after SILENCE_SECONDS instead of waiting with it."""
    pipe = tmp_path / "niemand-schreibt"
    os.mkfifo(pipe)
    hangs = f"(SELECT count(*) FROM read_csv('{pipe}')) >= 0"
    suite_worker.start()
    worker = suite_worker._worker
    request = {
        "db_path": str(broken_warehouse),
        "names": ["cases"],
        "condition": hangs,
        "params": [],
        "duckdb_config": {},
    }
    worker.proc.stdin.write(json.dumps(request).encode() + b"\n")
    worker.proc.stdin.close()
    beats, t0 = 0, time.monotonic()
    try:
        # what `SuiteWorker.ask` reads: signs of life while it loads, then silence (the run's
        # giving up after it is the stopped worker's test above)
        with pytest.raises(TimeoutError):
            for line in suite_worker._lines(worker.proc.stdout.fileno(), 3.0):
                assert json.loads(line) == suite_worker.ALIVE
                assert time.monotonic() - t0 < 60  # still beating a minute on: not silent
                beats += 1
        assert beats >= 1
    finally:
        suite_worker.stop()
    assert worker.proc.returncode == -signal.SIGKILL and children_running_the_worker() == []


def test_an_asked_worker_signals_it_is_alive_until_it_answers(broken_warehouse):
    """From the request on (while it may still load GX, and while DuckDB works) a line a
    second; the run reads them over the same pipe as the answer."""
    suite_worker.start()
    worker = suite_worker._worker
    request = {"db_path": str(broken_warehouse), "names": ["cases"], "params": []}
    try:
        worker.proc.stdin.write(
            json.dumps({**request, "condition": SLOW, "duckdb_config": ONE_THREAD}).encode() + b"\n"
        )
        worker.proc.stdin.flush()
        process, warehouse = psutil.Process(worker.proc.pid), str(broken_warehouse.resolve())
        working = 0  # beats read once the worker has the warehouse open: DuckDB at work
        for line in suite_worker._lines(worker.proc.stdout.fileno(), 5.0):  # each within 5 s
            assert json.loads(line) == suite_worker.ALIVE
            if working or any(f.path == warehouse for f in process.open_files()):
                working += 1
                if working == 3:
                    break
        assert working == 3
    finally:
        suite_worker.stop()
    suite_worker.start()  # a quick request: signs of life first, then the answer
    worker = suite_worker._worker
    worker.proc.stdin.write(
        json.dumps({**request, "condition": "true", "duckdb_config": {}}).encode() + b"\n"
    )
    worker.proc.stdin.close()
    lines = [json.loads(x) for x in suite_worker._lines(worker.proc.stdout.fileno(), 30.0)]
    suite_worker.stop()
    # a worker that ended without an answer says how: its exit code (1: it left through
    # `_leave`, on an error or SIGTERM; negative: the signal that ended it; seen once, 12-07)
    ended = worker.proc.returncode
    assert lines[0] == suite_worker.ALIVE and "outcomes" in lines[-1], (lines[-2:], ended)
    assert all(x == suite_worker.ALIVE for x in lines[:-1])
