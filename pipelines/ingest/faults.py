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


class UnreadableFile(Exception):
    """A structural fault: the file cannot be read as a CSV of the exchange format."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class LimitExceeded(UnreadableFile):
    """A limit of exchange-format.md "Limits" is exceeded: the delivery is quarantined."""
