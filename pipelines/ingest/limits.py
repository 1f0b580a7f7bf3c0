"""What one delivery may make the ingest do: sizes, ratios, columns, time.

The defaults come from the settings (kernel/settings.py, exchange-format.md "Limits"). A
delivery that exceeds one is quarantined before the work is done: every reader checks the
limit from what it knows up front (a zip's directory, a CSV header, an XLSX sheet's cell
references) and again while it streams (decompressed bytes are counted, not trusted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.faults import LimitExceeded

__all__ = ["LimitExceeded", "Limits", "watchdog"]


@dataclass
class Limits:
    max_unpacked_bytes: int = 2_000_000_000
    max_compression_ratio: float = 100.0
    max_columns: int = 100
    max_sheet_cells: int = 20_000_000
    max_line_bytes: int = 4_000_000
    timeout_seconds: float = 1800.0
    # entries smaller than this are not judged by their compression ratio: a few kilobytes of
    # separators compress far better than 100:1 and are harmless
    ratio_floor_bytes: int = 1_000_000
    deadline: float = field(default=0.0, repr=False)  # time.monotonic(); 0 = not started
    used_bytes: int = field(default=0, repr=False)  # unpacked so far in this delivery
    # set when the user stops the run: reading ends at the next check, like the time limit
    cancel: threading.Event | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(
            max_unpacked_bytes=settings.max_unpacked_bytes,
            max_compression_ratio=settings.max_compression_ratio,
            max_columns=settings.max_columns,
            max_sheet_cells=settings.max_sheet_cells,
            max_line_bytes=settings.max_line_bytes,
            timeout_seconds=settings.delivery_timeout_seconds,
        )

    def start(self) -> Limits:
        """A fresh budget for one delivery: a copy, so deliveries read side by side (two
        threads of one run) each keep their own deadline and byte count."""
        return dataclasses.replace(
            self, deadline=time.monotonic() + self.timeout_seconds, used_bytes=0
        )

    def check_time(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise LimitExceeded("Lesen abgebrochen: der Lauf wurde angehalten")
        if self.deadline and time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"Zeitgrenze überschritten: Lesen und Prüfen dauerte länger als"
                f" {self.timeout_seconds:.0f} s"
            )

    def add_bytes(self, n: int) -> None:
        """Count unpacked bytes of the delivery against max_unpacked_bytes."""
        self.used_bytes += n
        if self.used_bytes > self.max_unpacked_bytes:
            raise LimitExceeded(
                f"Lieferung ist entpackt größer als die Grenze von {_size(self.max_unpacked_bytes)}"
            )

    def check_ratio(self, unpacked: int, packed: int, what: str) -> None:
        if unpacked > self.ratio_floor_bytes and unpacked > self.max_compression_ratio * max(
            packed, 1
        ):
            raise LimitExceeded(
                f"{what}: Kompressionsverhältnis über {self.max_compression_ratio:.0f}:1"
                " (Verdacht auf ZIP-Bombe)"
            )


def _size(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB".replace(".", ",")
    return f"{n / 1e6:.0f} MB"


class _Watcher:
    """One thread for every reading under way: it interrupts the DuckDB query of each whose
    deadline passed or whose run was stopped, checking twice a second.

    A thread of its own per reading cost more than the reading it watched: a delivery is read
    under nine watchdogs (the delivery, its parse, each file), and starting a thread waits
    for Python's lock, which the other readers hold (1,000,000 cases: 900 starts, 2 ms each,
    1.8 s of the readers' time). Adding a reading here takes the lock of a dict; the thread
    is started once per process and sleeps while nothing is watched."""

    TICK_SECONDS = 0.5

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._watched: dict[int, tuple] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, con, limits: Limits) -> int:
        with self._lock:
            token = next(self._tokens)
            self._watched[token] = (con, limits)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lagebild-watchdog", daemon=True
                )
                self._thread.start()
            self._lock.notify()
            return token

    def remove(self, token: int) -> None:
        """Once this returns, the reading's connection is never interrupted for it: the
        thread interrupts while holding the same lock."""
        with self._lock:
            self._watched.pop(token, None)

    def _run(self) -> None:
        with self._lock:
            while True:
                self._lock.wait_for(lambda: self._watched)
                self._lock.wait(self.TICK_SECONDS)
                self._interrupt_due()

    def _interrupt_due(self) -> None:
        """(Holding the lock.) A method of its own: the sleeping thread keeps no connection."""
        now = time.monotonic()
        for token, (con, limits) in list(self._watched.items()):
            cancelled = limits.cancel is not None and limits.cancel.is_set()
            if cancelled or now > limits.deadline:
                del self._watched[token]  # interrupted once, as its query ends
                with contextlib.suppress(Exception):
                    con.interrupt()


_WATCHER = _Watcher()


@contextlib.contextmanager
def watchdog(con, limits: Limits) -> Iterator[None]:
    """Interrupt a DuckDB query that runs past the delivery's deadline (DuckDB then raises,
    and the delivery is quarantined as exceeding the time limit), or once the user stopped the
    run (`limits.cancel`: then nothing of the delivery is recorded). Watched by `_Watcher`."""
    if not limits.deadline:
        yield
        return
    token = _WATCHER.add(con, limits)
    try:
        yield
    finally:
        _WATCHER.remove(token)


def probe_survives(path: Path, limits: Limits) -> bool:
    """Open a delivery whose processing a crash interrupted in a separate process first (the
    same reading and checking as `lagebild check`, nothing recorded): True when that process
    finishes. A native reader that aborts, or a delivery that exhausts memory or time, then
    kills only the probe, never the run."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    env.pop("LAGEBILD_CRASH_AT", None)
    try:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.ingest.probe",
                str(path),
                str(limits.max_unpacked_bytes),
                str(limits.max_compression_ratio),
                str(limits.max_columns),
                str(limits.max_sheet_cells),
                str(limits.max_line_bytes),
                str(limits.timeout_seconds),
            ],
            capture_output=True,
            timeout=limits.timeout_seconds + 120,
            env=env,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return res.returncode == 0
