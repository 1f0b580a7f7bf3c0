"""The faults that make a delivery unreadable, shared by the file readers and the limits."""

from __future__ import annotations

import sys


def interrupts() -> tuple[type[BaseException], ...]:
    """What stops a run rather than a delivery: the user's Ctrl-C, the process ending, and
    Dagster's form of Ctrl-C inside an asset (when Dagster is loaded; the probe and `lagebild
    check` run without it). Everything else a reader raises, down to a Rust panic, is the
    delivery's fault and ends it in quarantine."""
    dagster = sys.modules.get("dagster")
    extra = getattr(dagster, "DagsterExecutionInterruptedError", None)
    return (KeyboardInterrupt, SystemExit, *([extra] if extra else []))


def raise_if_ctrl_c(exc: BaseException) -> None:
    """DuckDB answers Ctrl-C during a query with RuntimeError("Query interrupted") and
    swallows the KeyboardInterrupt (DuckDB 2.0, checked by hand). That is the user stopping
    the run, not a fault of the delivery: raised again as the KeyboardInterrupt it was, so the
    delivery is left for the next run instead of being quarantined "nicht lesbar"."""
    if type(exc) is RuntimeError and str(exc) == "Query interrupted":
        raise KeyboardInterrupt from exc


class UnreadableFile(Exception):
    """A structural fault: the file cannot be read as a CSV of the exchange format."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class LimitExceeded(UnreadableFile):
    """A limit of exchange-format.md "Limits" is exceeded: the delivery is quarantined."""
