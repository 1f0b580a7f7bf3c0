"""What the themes step needs and is slow to load, loaded while the run's process waits.

simplemma's German dictionary and scikit-learn with the parts of scipy it loads (about a
second of Python work together) hold Python's lock while they load. Loaded in a thread from
the run's start (issue 15, until 2026-12-05), they competed with the run's own start:
Dagster's storage modules, the steps' modules and the 60 planned events took 0.5–0.7 s longer,
and a small network's run waited that much longer for its first step. They are now loaded
while the run's process has nothing else to do: when it waits for its contract-suites worker,
which validates in a process of its own (`pipelines.suite_worker.validate`), and the themes
step comes a few steps later. A run without that worker loads them when the themes need them.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

# "module" is imported, "module:function" also called
PREWARM = (
    "transforms.themes.text:load_dictionary",
    "sklearn.decomposition",
    "sklearn.feature_extraction.text",
)


def start(
    items: tuple[str, ...] = PREWARM, needed: Callable[[], bool] | None = None
) -> threading.Thread:
    """Start loading `items` in a daemon thread. Python's import lock makes a later import of
    the same module wait for it, never import it twice (load_dictionary has its own lock); a
    failure here is ignored (the real use reports it where it is needed).

    `needed`: asked first, in the thread; False means the run will not use `items` (the
    themes take the text model from its memo: a re-delivery that changes no note), and
    nothing is loaded. Loading them anyway took a re-delivery of 10,000 cases about 0.4 s of
    Python's lock (docs/performance-notes.md, thirty-fifth session). When it fails, they are
    loaded: a wrong guess costs only time."""

    def load() -> None:
        if needed is not None:
            try:
                thread.loading = bool(needed())
            except Exception:
                thread.loading = True
            finally:
                thread.asked.set()
            if not thread.loading:
                return
        for item in items:
            name, _, func = item.partition(":")
            with contextlib.suppress(Exception):
                module = importlib.import_module(name)
                if func:
                    getattr(module, func)()

    thread = threading.Thread(target=load, name="lagebild-prewarm", daemon=True)
    thread.loading = True  # what `needed` decided (tests/unit/test_prewarm.py)
    # set once `needed` has answered: a caller whose next step opens the warehouse for
    # writing waits for it (`needed` may read it; DuckDB refuses a writer beside a reader of
    # the same file in one process)
    thread.asked = threading.Event()
    if needed is None:
        thread.asked.set()
    thread.start()
    return thread
