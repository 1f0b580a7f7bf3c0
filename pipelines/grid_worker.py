"""The publication grid's largest suppression, in a process of its own (issue 15).

The grid's families are built side by side in the run's process (`publication.build`), but
their suppression is mostly Python and pandas around HiGHS: two threads wait for each other
on Python's lock. At 10,000 cases the grid took 3.6-3.7 s on two threads (5.3 CPU-s); the
referrals family alone in a process of its own and the seven others in a second one, started
together, ended after 2.4-2.5 s and 2.2 s (4.6 CPU-s: waiting for the lock costs CPU time
too). So a run started by `lagebild` starts this worker when its marts' step knows the build
is whole (`arm`, `start`; a re-delivery's partial build keeps most families from the memo): it
loads the grid's modules while the run builds the marts and the themes. When the
grid is built, the first family in `LONGEST_FIRST` order that has to be suppressed (its memo
does not hold it) hands its suppression over (`dashboards.disclosure.pattern`, a function of
its arguments alone), and its thread waits without Python's lock while the other thread
builds the rest.

The request carries the family as data (`pattern.pattern_spec`), its leaf counts (per
programme, period, … and provider: counts, no case or person) and the grid code's key
(`publication.CODE_KEY`: a worker that loaded other code, a checkout updated meanwhile,
refuses); the answer carries the pattern. Both travel as a pickle (protocol 5) in base64 over
the child's own pipes, so that pandas' types come back exactly and the cells are the same as
the run's own; nothing is written to disk. Whoever could write into those pipes runs as the
run's own account and could change its code or its warehouse as well. Whenever the worker
cannot answer (not started, died, failed, fell silent, refused, or sent something that is not
a pattern of the family's cells), the run suppresses the family itself, with the same code and
result (`pipelines.helper_process`). Runs not started by `lagebild` build the grid in their
own process as before.
"""

from __future__ import annotations

import base64
import logging
import pickle
import threading

from pipelines import helper_process
from pipelines.helper_process import serve

SILENCE_SECONDS = 60.0  # as the other helpers (pipelines.helper_process)
# a family's leaves per provider travel in the request; the answer is its cells (10,000 cases:
# 0.6 MB for 6,524 cells of the referrals; 1,000,000: 0.65 MB for 7,943)
MAX_ANSWER_BYTES = 256 << 20
log = logging.getLogger("lagebild.publish")


class GridWorker(helper_process.Helper):
    name = "Rasterprozess"
    max_line_bytes = MAX_ANSWER_BYTES

    def __init__(self) -> None:
        super().__init__("pipelines.grid_worker")

    def pattern(self, spec, *args) -> tuple | None:
        """`pattern.suppression_pattern(spec, *args)` computed by the worker, or None when it
        gives none of the pattern's form (whatever fails on the way: the run does it itself)."""
        from dashboards.disclosure.publication import CODE_KEY

        try:
            request = {"code": CODE_KEY, "inputs": _encode((spec, args))}
            answer = self.answer(request, SILENCE_SECONDS, log)
            if not isinstance(answer, dict) or not isinstance(answer.get("pattern"), str):
                return None
            found = _decode(answer["pattern"])
        except Exception:  # a request that cannot be sent, an answer that is no pickle
            return None
        return found if _is_pattern(found, spec.dims) else None


def _encode(value) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=5)).decode("ascii")


def _decode(text: str):
    return pickle.loads(base64.b64decode(text.encode("ascii"), validate=True))


def _is_pattern(pattern, dims: tuple[str, ...]) -> bool:
    """The form of `suppression_pattern`'s result for a family with `dims`: its cells with
    exactly those dimensions, a value and a status, the suppression's and the audit's figures,
    and the count of cells still exposed."""
    import pandas as pd

    if not isinstance(pattern, tuple) or len(pattern) != 4:
        return False
    cells, stats, audited, exposed = pattern
    return (
        isinstance(cells, pd.DataFrame)
        and list(cells.columns) == [*dims, "value", "status"]
        and pd.api.types.is_string_dtype(cells["status"])
        and pd.api.types.is_integer_dtype(cells["value"])
        and isinstance(stats, dict)
        and isinstance(audited, dict)
        and type(audited.get("unprotected")) is int
        and type(exposed) is int
    )


_worker: GridWorker | None = None
_taken = False  # asked already: a worker answers one request
_armed = False  # a run started by `lagebild` wants the worker (`arm`)
_lock = threading.Lock()  # the grid's threads and the publish step reach the worker side by side


def arm() -> None:
    """The run about to begin may want the worker: `start` starts it (the marts' step)."""
    global _armed
    stop()
    _armed = True


def start() -> None:
    """Start the worker for the run's grid if the run armed it (`arm`), once: called by the
    marts' step before a whole build, so that it loads beside the marts and the themes and not
    beside the checks before them, when the reports' worker loads (10,000 cases: the staging
    checks 0.3-0.4 s longer when both loaded then)."""
    global _worker, _taken, _armed
    if not _armed:
        return
    _armed = False
    worker = helper_process.start(GridWorker)
    with _lock:
        _worker, _taken = worker, False


def kill() -> None:
    """End the worker at once, also while a thread waits for its answer (which then is None):
    a publication that failed or was stopped does not wait for a suppression it will not use."""
    with _lock:
        if _worker is not None:
            _worker.kill()


def stop() -> None:
    """End the worker and close its pipes, asked or not, and disarm: once no thread waits for
    it any more (the grid is built, or the run is over)."""
    global _worker, _armed
    _armed = False
    with _lock:
        worker, _worker = _worker, None
        if worker is not None:
            worker.stop()


def take():
    """The worker's `pattern` for one suppression of this run's grid, or None without a worker
    or once it was taken (a worker answers one request and ends)."""
    global _taken
    with _lock:
        worker = None if _taken else _worker
        _taken = True
    if worker is None:
        return None

    def pattern(spec, *args):
        found = worker.pattern(spec, *args)
        if found is None:
            log.info("Der Rasterprozess hat keine Unterdrückung geliefert.")
        else:
            log.debug("Unterdrückung der Familie %s im Rasterprozess berechnet.", spec.name)
        return found

    return pattern


def _prepare() -> None:
    """Load the grid's modules and HiGHS (what the worker would otherwise load once asked)."""
    import dashboards.disclosure.publication  # noqa: F401  (families, pattern, LP, audit)
    from dashboards.disclosure.lp import _highs_core

    _highs_core()


def _answer(request: dict, _prepared) -> dict:
    from dashboards.disclosure.pattern import suppression_pattern
    from dashboards.disclosure.publication import CODE_KEY

    if request.get("code") != CODE_KEY:  # loaded other code than the run's: never mixed
        return {"error": "code"}
    spec, args = _decode(request["inputs"])
    return {"pattern": _encode(suppression_pattern(spec, *args))}


def main() -> None:
    serve(_prepare, _answer)


if __name__ == "__main__":
    main()
