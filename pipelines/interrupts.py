"""SIGTERM as it was before a run (Dagster leaves it changed).

While a run captures interrupts, Dagster points SIGTERM at SIGINT's handler, and it leaves it
there when the run ends (`dagster._utils.interrupts._replace_interrupt_signal`). Where SIGINT is
ignored – `lagebild run &` in a script, a job runner – SIGTERM was then ignored too: the
`lagebild` process could no longer be ended with it after its run (`lagebild run &`: SigIgn
0x1005006 at its end), and neither could anything it started later, since an ignored signal
stays ignored across `exec` (the `tail` processes of Dagster's log capture were found left over
after the test suite: a test's run had started them after an earlier run in the same process
had changed SIGTERM). Where SIGINT is Python's, SIGTERM raised KeyboardInterrupt after the run
instead of ending the process. A run now hands SIGTERM back as it found it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def sigterm_kept() -> Iterator[None]:
    """SIGTERM's handler after the block as before it (main thread only: elsewhere neither
    Dagster nor we may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if before is not None:  # None: a handler not set from Python, nothing to hand back
            signal.signal(signal.SIGTERM, before)
