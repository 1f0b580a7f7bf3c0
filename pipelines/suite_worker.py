"""The contract suites (Great Expectations) of a run, in a process of their own (issue 15).

Importing Great Expectations takes 2–3 s of Python work, and validating a small network's
tables about as much again. In the run's own process both hold Python's lock: a run of
10,000 cases, otherwise mostly waiting for DuckDB, spent a fifth of its time on them, and
loading GX in a background thread only made the two wait for each other
(docs/performance-notes.md). `lagebild run` therefore starts this worker when the run begins:
it imports GX on the second core while the run lands and reads the deliveries, and when the
staging checks come (`staging_checks`), it opens the warehouse read-only and validates the
tables they name, with the same code as the run's own process would (`validate_tables`).

Nothing of the data passes between the two processes: the request says which rows (a SQL
condition over staging with its parameters), the answer carries counts and expectation names
per table, as the check's metadata does. One request per worker; it ends afterwards, and
with it all its memory. Whenever the worker cannot answer (it did not start, died, found the
warehouse locked, failed, or fell silent: `pipelines.helper_process`), the check validates in
the run's own process instead, so a result never depends on the worker; its failure text is
not passed on (it might quote data). Once it is done, the run's next helper starts
(`start(then=…)`: the reports' worker). Runs not started by `lagebild` (`dagster dev`, a check
run alone from tests) validate in-process as before.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import sys
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from data_contracts import load_contract
from kernel.cores import at_once
from pipelines import helper_process, prewarm
from pipelines.helper_process import ALIVE, MAX_LINE_BYTES, _is_beat, _lines, serve
from pipelines.observe import give_back_memory, peak_between, record_stage, stage

GX_BATCH_ROWS = 1_000_000
# a table validated from this many rows up gives its memory back (`_validate_table`); at
# 1,000,000 cases a run peaked at 2,090 MB when every table did, 2,205 MB so, and 2,600 MB
# when only tables of more than one frame (GX_BATCH_ROWS) did
GIVE_BACK_ROWS = 250_000
SUITE_WORKERS = min(2, os.cpu_count() or 1)  # tables validated at once (memory: a frame each)
OUTCOME_KEYS = ("passed", "rows", "expectations", "failed", "seconds")
# no line for this long: the worker is given up and the run validates itself (a working
# worker beats at least every 50 s: pipelines.helper_process, docs/decisions.md „zwölfter Teil“)
SILENCE_SECONDS = 60.0
# loaded by Great Expectations' own import (for an expectation the contracts do not use: KL
# divergence) and by nothing the suites run: 0.8 s of the worker's start, on the core the
# run's own start needs (`_Deferred`)
DEFERRED_MODULES = ("scipy.stats",)
__all__ = ["ALIVE", "MAX_LINE_BYTES", "_is_beat", "_lines"]  # the protocol, as tests read it
log = logging.getLogger("lagebild.ingest")


def _validate_table(con, gx, table_name: str, condition: str, params: list) -> dict:
    """One table's suite over its staging rows, streamed in frames (memory stays bounded).

    Each frame is collected once validated (`validate_frames`); the pages the table's frames
    took are handed back (`give_back_memory`) only after a table of GIVE_BACK_ROWS rows or
    more. That threshold was set when each giving back collected over the whole loaded heap
    (about 0.3 s; eight of them were 2.4 of the 6 s a small run took): below it, it freed less
    than it cost (docs/performance-notes.md). Called outside `validate_tables` (tests), the
    collections still go over the whole heap."""
    from data_contracts.suites import frames, validate_frames

    table = load_contract().tables[table_name]
    sql = f"SELECT * FROM staging.{table_name} WHERE {condition}"
    t0 = time.perf_counter()
    with stage(f"checks.contract_{table_name}"):
        results = validate_frames(gx, table, frames(con, sql, params, GX_BATCH_ROWS))
        if sum(r.rows for r in results) >= GIVE_BACK_ROWS:
            give_back_memory()  # this table's frames (Arrow keeps pages per thread)
    failed = [f for r in results for f in r.failed]
    return {
        "passed": all(r.success for r in results),
        "rows": sum(r.rows for r in results),
        "expectations": results[0].evaluated if results else 0,
        "failed": failed,
        "seconds": time.perf_counter() - t0,
    }


def gx_contexts(n: int = SUITE_WORKERS) -> list:
    """A GX context per table validated at once, made one after the other (GX keeps its
    current project in a global). Great Expectations' import of scipy.stats is deferred
    (`defer_imports`) in the worker and where the run validates itself alike."""
    from data_contracts.suites import ephemeral_context

    defer_imports()
    return [ephemeral_context() for _ in range(n)]


def validate_tables(
    db_path: Path,
    names: list[str],
    condition: str,
    params: list,
    contexts: list | None = None,
    give_back: bool = True,
) -> dict:
    """Every named table's suite over the staging rows of `condition`, as many tables at a
    time as `contexts` (default two), each on its own cursor and GX context: the suites'
    pandas and Arrow work leaves Python's lock often enough that two run in about half the
    time (1,000,000 cases: 10.7 → 5.3 s).
    A frame per table in flight: memory grows by about one frame (GX_BATCH_ROWS rows), as
    each frame is collected once validated (`validate_frames`). The heap loaded before is
    frozen meanwhile (`frozen_heap`), so those collections and a large table's giving back
    (GIVE_BACK_ROWS) walk only what the validation made: over the loaded heap a collection
    took ~0.5 s (275,000 objects; at 1,000,000 cases 3.2 s of the worker, holding Python's
    lock while the other table's thread waited)."""
    from data_contracts.suites import frozen_heap
    from kernel.warehouse import reader

    contexts = contexts or gx_contexts()  # loaded before the heap is frozen
    with reader(db_path) as con, frozen_heap():
        idle: queue.SimpleQueue = queue.SimpleQueue()
        for gx in contexts:
            idle.put((con.cursor(), gx))

        def one(name: str) -> dict:
            cur, gx = idle.get()
            try:
                return _validate_table(cur, gx, name, condition, params)
            finally:
                idle.put((cur, gx))

        with ThreadPoolExecutor(len(contexts), thread_name_prefix="lagebild-suite") as pool:
            outcomes = dict(zip(names, pool.map(one, names), strict=True))
        while not idle.empty():
            idle.get()[0].close()
    if give_back and any(o["rows"] >= GIVE_BACK_ROWS for o in outcomes.values()):
        give_back_memory()  # what the ended worker threads left; the marts come next
    return outcomes


class SuiteWorker(helper_process.Helper):
    """The worker process, seen from the run: started once, asked once, then gone."""

    name = "Prüfprozess"

    def __init__(self) -> None:
        super().__init__("pipelines.suite_worker")

    def ask(self, request: dict) -> dict | None:
        """The worker's outcomes for `request`, or None when it cannot give them (also when it
        sends no line for SILENCE_SECONDS). Its exit is not waited for here (`stop`)."""
        answer = self.answer(request, SILENCE_SECONDS, log)
        outcomes = answer.get("outcomes") if isinstance(answer, dict) else None
        return outcomes if _well_formed(outcomes) else None


def _well_formed(outcomes) -> bool:
    """An answer the check can take as it is: per table the counts and expectation names the
    run's own validation gives, of their types, and consistent (a pass names no failure).
    Anything else is not an answer, and the run validates itself."""

    def count(value) -> bool:
        return type(value) is int and value >= 0

    def seconds(value) -> bool:
        return type(value) in (int, float) and 0 <= value < float("inf")

    def failure(f) -> bool:
        return (
            isinstance(f, dict)
            and set(f) == {"expectation", "column", "unexpected_count"}
            and isinstance(f["expectation"], str)
            and (f["column"] is None or isinstance(f["column"], str | list))
            and (f["unexpected_count"] is None or count(f["unexpected_count"]))
        )

    return isinstance(outcomes, dict) and all(
        isinstance(o, dict)
        and set(OUTCOME_KEYS) <= set(o)
        and type(o["passed"]) is bool
        and count(o["rows"])
        and count(o["expectations"])
        and isinstance(o["failed"], list)
        and all(failure(f) for f in o["failed"])
        and o["passed"] == (not o["failed"])
        and seconds(o["seconds"])
        and seconds(o.get("peak_rss_mb", 0.0))
        for o in outcomes.values()
    )


_worker: SuiteWorker | None = None
_then: Callable[[], None] | None = None  # the run's next helper, started once this one is done


def start(then: Callable[[], None] | None = None) -> None:
    """Start the worker for the run about to begin (`pipelines.runner.run_pipeline`); `then`
    is called once the worker is done (answered, failed or given up), so that the second core
    has one helper at a time."""
    global _worker, _then
    stop()
    _worker = helper_process.start(SuiteWorker)
    _then = then if _worker is not None else None


def stop() -> None:
    """End the worker if it is still there (the run is over, whatever it asked)."""
    global _worker, _then
    _then = None
    if _worker is not None:
        _worker.stop()
        _worker = None


def validate(
    db_path: Path,
    names: list[str],
    condition: str,
    params: list,
    prewarm_needed: Callable[[], bool] | None = None,
) -> tuple[dict, str]:
    """The outcomes per table and where they were computed: by the run's worker if it answers,
    else in this process. The worker's time per table is recorded as the tables' stages.
    While the worker validates, the themes' modules load here, if `prewarm_needed` (asked
    meanwhile; default: always) says the run will use them (`pipelines.prewarm`)."""
    global _worker, _then
    worker, _worker = _worker, None
    then, _then = _then, None
    if worker is not None:
        from kernel.warehouse import DUCKDB_CONFIG

        request = {
            "db_path": str(db_path),
            "names": names,
            "condition": condition,
            "params": params,
            "duckdb_config": dict(DUCKDB_CONFIG),
        }
        asked = time.time()
        # this process only waits now: the themes' modules load meanwhile
        warming = prewarm.start(needed=prewarm_needed)
        try:
            outcomes = worker.ask(request)
        finally:
            worker.stop()
            warming.asked.wait()  # its question read the warehouse: done before the next step
            if then is not None:
                _start_next(then)
        if outcomes is not None and sorted(outcomes) == sorted(names):
            # the memory of both processes: this one's peak meanwhile plus the worker's own
            # (an upper bound of the two together; `make bench` samples both as they run)
            here = peak_between(asked, time.time())
            for name, o in outcomes.items():
                peak = here + o.get("peak_rss_mb", 0.0)
                record_stage(f"checks.contract_{name}", o["seconds"], peak)
            return outcomes, "eigener Prüfprozess"
        log.info("Der Prüfprozess hat nicht geantwortet; die Suiten laufen im Lauf-Prozess.")
    # where other work keeps every core busy (LAGEBILD_HELPERS=0) one table at a time: two
    # side by side took an eighth more CPU time there and ended no sooner (600 cases)
    contexts = gx_contexts(at_once(SUITE_WORKERS))
    return validate_tables(db_path, names, condition, params, contexts), "Lauf-Prozess"


def _start_next(then: Callable[[], None]) -> None:
    """The run's next helper is optional: its failure to start never fails the checks."""
    try:
        then()
    except Exception:
        log.info("Der nächste Hilfsprozess des Laufs startete nicht; der Lauf arbeitet allein.")


class _Deferred(types.ModuleType):
    """Stands for a module as its package's attribute (what `from scipy import stats` reads)
    until something reads from it; every read goes to the real module, imported then. Never
    in `sys.modules` and without a lock of its own: Python's import system loads the real
    module once, makes concurrent readers wait for it and resolves cycles between threads
    (a lock of ours could deadlock against its module locks; `importlib.util.LazyLoader` is
    not threadsafe in Python 3.11, and the worker validates two tables at once)."""

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)

    def __dir__(self):
        return dir(importlib.import_module(self.__name__))


def defer_imports(names: tuple[str, ...] = DEFERRED_MODULES) -> None:
    """Let the submodules `names` load when first read instead of when imported by `from
    package import name` (those already loaded stay as they are; `import package.name` still
    loads at once). Measured: the worker's start 2.5 -> 1.7 s of Python work, a run of 10,000
    cases 0.1-0.4 s shorter (docs/performance-notes.md)."""
    for name in names:
        parent, _, child = name.rpartition(".")
        if name in sys.modules or not parent:
            continue
        setattr(importlib.import_module(parent), child, _Deferred(name))


def _prepare() -> list:
    """Great Expectations and its contexts loaded. The worker ends with `os._exit`: its heap is
    never torn down."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # as data_contracts.suites does
    return gx_contexts()


def _answer(request: dict, contexts: list) -> dict:
    import resource

    from kernel.warehouse import DUCKDB_CONFIG

    DUCKDB_CONFIG.update(request["duckdb_config"])
    outcomes = validate_tables(
        Path(request["db_path"]),
        request["names"],
        request["condition"],
        request["params"],
        contexts,
        give_back=False,  # the process ends right after
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for o in outcomes.values():
        o["peak_rss_mb"] = round(peak_mb, 1)
    return {"outcomes": outcomes}


def main() -> None:
    """The worker: load Great Expectations and its contexts at once, then validate what the
    one request names (`pipelines.helper_process.serve`)."""
    serve(_prepare, _answer)


if __name__ == "__main__":
    main()
