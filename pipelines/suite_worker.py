"""The contract suites (Great Expectations) of a run, in a process of their own (issue 15).

Importing Great Expectations takes 2–3 s of Python work, and validating a small network's
tables about as much again. In the run's own process both hold Python's lock: a run of
10,000 cases, otherwise mostly waiting for DuckDB, spent a fifth of its time on them, and
loading GX in a background thread only made the two wait for each other
(docs/performance-notes.md). `lagebild run` therefore starts this worker when the run begins:
it imports GX on the second core while the run lands and reads the deliveries, and when the
`contract_suites` check comes, it opens the warehouse read-only and validates the tables the
check names, with the same code as the run's own process would (`validate_tables`).

Nothing of the data passes between the two processes: the request says which rows (a SQL
condition over staging with its parameters), the answer carries counts and expectation names
per table, as the check's metadata does. One request per worker; it ends afterwards, and
with it all its memory. Whenever the worker cannot answer (it did not start, died, found the
warehouse locked, failed, or fell silent), the check validates in the run's own process
instead, so a result never depends on the worker; its failure text is not passed on (it might
quote data). Asked, the worker sends a sign of life every second while it works, until it
answers; after SILENCE_SECONDS without one (a stopped or frozen process, or a validation that
hangs without using CPU time) the run gives it up.
Runs not started by `lagebild` (`dagster dev`, a check run alone from tests) validate
in-process as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from data_contracts import load_contract
from pipelines import prewarm
from pipelines.observe import give_back_memory, peak_between, record_stage, stage

GX_BATCH_ROWS = 1_000_000
# a table validated from this many rows up gives its memory back (`_validate_table`); at
# 1,000,000 cases a run peaked at 2,090 MB when every table did, 2,205 MB so, and 2,600 MB
# when only tables of more than one frame (GX_BATCH_ROWS) did
GIVE_BACK_ROWS = 250_000
SUITE_WORKERS = min(2, os.cpu_count() or 1)  # tables validated at once (memory: a frame each)
ROOT = Path(__file__).resolve().parents[1]  # the worker imports this checkout's packages
PARENT_ENV = "LAGEBILD_SUITE_PARENT"  # the run's process id: the worker ends when it is gone
OUTCOME_KEYS = ("passed", "rows", "expectations", "failed", "seconds")
HEARTBEAT_SECONDS = 1.0  # the asked worker's signs of life, one line each
# no line for this long: the worker is given up and the run validates itself. A beat comes
# from a thread of its own that needs Python's lock for a moment only, and only once the
# process's other threads have worked MIN_WORK_SECONDS of CPU time since the last beat: a
# stopped or frozen process stays silent this long, and so does one whose validation hangs
# without working (a deadlock, a read that never returns: 0.05 ms a second, its parent check
# included, so under 3 ms a minute). A working one, even one the machine starves to 1 ms a
# second, beats at least every 50 s (docs/decisions.md, „zwölfter Teil“)
SILENCE_SECONDS = 60.0
MIN_WORK_SECONDS = 0.05
ALIVE = {"alive": True}
MAX_LINE_BYTES = 1 << 20  # a longer line from the worker is no answer
log = logging.getLogger("lagebild.ingest")


def _validate_table(con, gx, table_name: str, condition: str, params: list) -> dict:
    """One table's suite over its staging rows, streamed in frames (memory stays bounded).

    The memory is given back (`give_back_memory`) only after a table of GIVE_BACK_ROWS rows or
    more: a full collection over the heap of a loaded Dagster and Great Expectations costs
    about 0.3 s (eight of them were 2.4 of the 6 s a small run took), below that it frees
    less than it costs (docs/performance-notes.md)."""
    from data_contracts.suites import frames, validate_frame

    table = load_contract().tables[table_name]
    sql = f"SELECT * FROM staging.{table_name} WHERE {condition}"
    t0 = time.perf_counter()
    with stage(f"checks.contract_{table_name}"):
        results = [validate_frame(gx, table, f)[0] for f in frames(con, sql, params, GX_BATCH_ROWS)]
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


def gx_contexts() -> list:
    """A GX context per table validated at once, made one after the other (GX keeps its
    current project in a global)."""
    from data_contracts.suites import ephemeral_context

    return [ephemeral_context() for _ in range(SUITE_WORKERS)]


def validate_tables(
    db_path: Path,
    names: list[str],
    condition: str,
    params: list,
    contexts: list | None = None,
    give_back: bool = True,
) -> dict:
    """Every named table's suite over the staging rows of `condition`, two tables at a time,
    each on its own cursor and GX context: the suites' pandas and Arrow work leaves Python's
    lock often enough that two run in about half the time (1,000,000 cases: 10.7 → 5.3 s).
    A frame per table in flight: memory grows by about one frame (GX_BATCH_ROWS rows)."""
    from kernel.warehouse import reader

    with reader(db_path) as con:
        idle: queue.SimpleQueue = queue.SimpleQueue()
        for gx in contexts or gx_contexts():
            idle.put((con.cursor(), gx))

        def one(name: str) -> dict:
            cur, gx = idle.get()
            try:
                return _validate_table(cur, gx, name, condition, params)
            finally:
                idle.put((cur, gx))

        with ThreadPoolExecutor(SUITE_WORKERS, thread_name_prefix="lagebild-suite") as pool:
            outcomes = dict(zip(names, pool.map(one, names), strict=True))
        while not idle.empty():
            idle.get()[0].close()
    if give_back and any(o["rows"] >= GIVE_BACK_ROWS for o in outcomes.values()):
        give_back_memory()  # what the ended worker threads left; the marts come next
    return outcomes


class SuiteWorker:
    """The worker process, seen from the run: started once, asked once, then gone."""

    def __init__(self) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, PARENT_ENV: str(os.getpid())}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.suite_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a failure is answered in-process (module docstring)
            env=env,
            cwd=str(ROOT),
        )

    def ask(self, request: dict) -> dict | None:
        """The worker's outcomes for `request`, or None when it cannot give them (also when it
        sends no line for SILENCE_SECONDS). Its exit is not waited for here (`stop`)."""
        if self.proc.poll() is not None:
            return None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.close()
            for line in _lines(self.proc.stdout.fileno(), SILENCE_SECONDS):
                answer = json.loads(line)
                if _is_beat(answer):
                    continue
                outcomes = answer.get("outcomes") if isinstance(answer, dict) else None
                return outcomes if _well_formed(outcomes) else None
        except TimeoutError:
            log.info("Der Prüfprozess gab %.0f s kein Lebenszeichen.", SILENCE_SECONDS)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            pass
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:  # it holds nothing that needs a clean exit
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _lines(fd: int, silence: float):
    """The lines arriving on `fd` until its end, read from the descriptor itself (a buffered
    reader would hide what it already holds from `select`). TimeoutError when `silence`
    seconds pass without a complete line (a byte now and then is no sign of life); ValueError
    for a line longer than MAX_LINE_BYTES (an answer is a few kilobytes)."""
    pending = bytearray()
    deadline = time.monotonic() + silence
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        searched = len(pending)  # the newline can only be in what just came
        pending += chunk
        while (end := pending.find(b"\n", searched)) >= 0:
            yield bytes(pending[:end])
            del pending[: end + 1]
            searched = 0
            deadline = time.monotonic() + silence
        if len(pending) > MAX_LINE_BYTES:
            raise ValueError("line too long")


def _is_beat(message) -> bool:
    return isinstance(message, dict) and message == ALIVE and message["alive"] is True


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


def start() -> None:
    """Start the worker for the run about to begin (`pipelines.runner.run_pipeline`)."""
    global _worker
    stop()
    if len(os.sched_getaffinity(0)) < 2:
        return  # one core: nothing to gain beside the run, only memory to lose
    try:
        _worker = SuiteWorker()
    except (OSError, TypeError):  # TypeError: no sys.executable (embedded interpreters)
        _worker = None


def stop() -> None:
    """End the worker if it is still there (the run is over, whatever it asked)."""
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def validate(db_path: Path, names: list[str], condition: str, params: list) -> tuple[dict, str]:
    """The outcomes per table and where they were computed: by the run's worker if it answers,
    else in this process. The worker's time per table is recorded as the tables' stages."""
    global _worker
    worker, _worker = _worker, None
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
        prewarm.start()  # this process only waits now: the themes' modules load meanwhile
        try:
            outcomes = worker.ask(request)
        finally:
            worker.stop()
        if outcomes is not None and sorted(outcomes) == sorted(names):
            # the memory of both processes: this one's peak meanwhile plus the worker's own
            # (an upper bound of the two together; `make bench` samples both as they run)
            here = peak_between(asked, time.time())
            for name, o in outcomes.items():
                peak = here + o.get("peak_rss_mb", 0.0)
                record_stage(f"checks.contract_{name}", o["seconds"], peak)
            return outcomes, "eigener Prüfprozess"
        log.info("Der Prüfprozess hat nicht geantwortet; die Suiten laufen im Lauf-Prozess.")
    return validate_tables(db_path, names, condition, params), "Lauf-Prozess"


def work_seconds() -> float:
    """CPU seconds of this process outside the calling thread: what the beat thread asks
    before each sign of life (its own beats and sleeps do not count)."""
    return time.process_time() - time.thread_time()


def _exit_with_parent() -> None:
    """End this worker as soon as the run's process is gone (killed hard, SIGTERM): an orphan
    validating on would keep the warehouse open against the next run."""
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def main() -> None:
    """The worker: load Great Expectations and its contexts at once, then answer one request
    (stdin: a JSON line) on the original stdout (anything the libraries print goes to stderr),
    and leave without the interpreter's teardown (nothing is open by then). From the moment
    the request arrives, loading included, a thread sends a sign of life every second, once
    the other threads have worked since the last one (`work_seconds`, MIN_WORK_SECONDS)."""
    import resource
    import threading

    threading.Thread(target=_exit_with_parent, name="lagebild-parent", daemon=True).start()
    answer_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    writing = threading.Lock()  # a beat never splits the answer's line

    def say(message: dict) -> None:
        with writing:
            answer_to.write(json.dumps(message) + "\n")
            answer_to.flush()

    requests: queue.SimpleQueue = queue.SimpleQueue()

    def listen() -> None:
        line = sys.stdin.readline()
        requests.put(line)
        worked = work_seconds()
        if line:
            say(ALIVE)
        while line:
            time.sleep(HEARTBEAT_SECONDS)
            if work_seconds() - worked >= MIN_WORK_SECONDS:
                say(ALIVE)
                worked = work_seconds()

    threading.Thread(target=listen, name="lagebild-beat", daemon=True).start()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # as data_contracts.suites does
    contexts = gx_contexts()
    line = requests.get()
    if not line:
        os._exit(0)  # the run ended without asking
    try:
        request = json.loads(line)
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
        answer = {"outcomes": outcomes}
    except Exception as exc:  # the run validates in-process then (module docstring)
        answer = {"error": type(exc).__name__}
    say(answer)
    os._exit(0)


if __name__ == "__main__":
    main()
