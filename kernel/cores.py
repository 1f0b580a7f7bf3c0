"""Whether a run may put the machine's other cores to work beside its own (issue 15).

`LAGEBILD_HELPERS=0` says that other work keeps every core busy already (the test suite: two
workers on two cores; a shared server). A run then starts no helper processes
(`pipelines.helper_process`) and does its independent pieces of work one after another: side
by side they would only cost more CPU time there (docs/decisions.md, „einundzwanzigster
Teil“). It changes where and when a figure is computed, never the figure.
"""

from __future__ import annotations

import os

HELPERS_ENV = "LAGEBILD_HELPERS"  # "0": no helper processes, no work side by side
OFF = ("0", "aus", "nein", "false", "off", "no")


def helpers_wanted() -> bool:
    """False when HELPERS_ENV says "0" (also "aus", "nein", "false", "off", "no")."""
    return os.environ.get(HELPERS_ENV, "").strip().lower() not in OFF


def at_once(most: int) -> int:
    """How many independent pieces of work a run takes at a time, at most `most`: one where
    HELPERS_ENV says that no core is free."""
    return max(1, most) if helpers_wanted() else 1
