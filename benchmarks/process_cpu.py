"""Which process of a measured call spends its CPU time (issue 15).

`os.wait4` gives a call's CPU time in one figure (`run_measured`). Whether a goal needs less
work in the run's own process, in its helpers or in Chromium printing PDFs is a question of
the parts: the run's process waits for its helpers, never the other way round, and it was
busy almost throughout in every profile (docs/performance-notes.md, twenty-seventh session).

The process tree is sampled while the call runs; each process counts with the last CPU time
seen of it. A process's work after its last sample is missed, and a process shorter than
one interval is missed whole: the figures are lower bounds (at 0.2 s intervals, Chromium's
short renderers lose most). psutil, which the bench samples memory with already.
"""

from __future__ import annotations

import contextlib

import psutil

RUN = "run process"
# a process's kind by what its command line contains, the first match
KINDS = (
    ("pipelines.suite_worker", "contract-suites worker"),
    ("pipelines.report_worker", "reports' worker"),
    ("pipelines.grid_worker", "grid's worker"),
    ("chrom", "Chromium"),
)
OTHER = "other"
ORDER = (RUN, *(kind for _, kind in KINDS), OTHER)


def kind_of(process: psutil.Process) -> str:
    """A child's kind by its command line; OTHER when it cannot be read (it has ended)."""
    try:
        command = " ".join(process.cmdline()).lower()
    except psutil.Error:
        return OTHER
    return next((kind for text, kind in KINDS if text in command), OTHER)


class ProcessCPU:
    """CPU seconds (user and system) of a process and its descendants, by kind."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float]] = {}  # pid: (kind, CPU seconds)
        self.root: psutil.Process | None = None

    def sample_call(self, proc) -> None:
        """`sample` for `run_measured`, which passes the measured call's `Popen`."""
        with contextlib.suppress(psutil.Error):
            self.root = self.root or psutil.Process(proc.pid)
            self.sample(self.root)

    def sample(self, root: psutil.Process) -> None:
        """Read the CPU time of `root` and of every process under it now."""
        try:
            children = root.children(recursive=True)
        except psutil.Error:  # the call has ended
            children = []
        for process in (root, *children):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                # a process's kind is read once, from its command line while it runs
                known = self.seen.get(process.pid)
                kind = known[0] if known else RUN if process is root else kind_of(process)
                self.seen[process.pid] = (kind, times.user + times.system)

    def by_kind(self) -> dict[str, float]:
        """Seconds per kind, in ORDER, kinds with none left out."""
        total = dict.fromkeys(ORDER, 0.0)
        for kind, seconds in self.seen.values():
            total[kind] += seconds
        return {kind: round(s, 2) for kind, s in total.items() if s > 0}


SHORT = {
    RUN: "run",
    **dict(zip((k for _, k in KINDS), ("suites", "reports", "grid", "Chromium"), strict=True)),
}


def describe(by_kind: dict[str, float] | None) -> str:
    """One table cell: 'run 12.1 s, suites 2.8 s, …' ('—' when not measured)."""
    if not by_kind:
        return "—"
    return ", ".join(f"{SHORT.get(k, k)} {s:g} s" for k, s in by_kind.items())
