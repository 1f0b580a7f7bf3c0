"""Stage timings and peak memory, for progress output and `make bench`.

A background thread samples the process's resident memory every 50 ms into a timeline;
`stage(name)` records wall time and the peak RSS seen while it ran, and `peak_between` gives
the peak of any window (the runner uses it for Dagster step windows). Stages with the same
name accumulate (parsing happens once per delivery).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import inspect
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

SAMPLE_SECONDS = 0.05


@dataclass
class StageTiming:
    name: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    calls: int = 0


class _Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.proc = psutil.Process()
        self.timeline: deque[tuple[float, int]] = deque(maxlen=200_000)

    def sample(self) -> None:
        self.timeline.append((time.time(), self.proc.memory_info().rss))

    def run(self) -> None:
        while True:
            self.sample()
            time.sleep(SAMPLE_SECONDS)


_sampler: _Sampler | None = None
_guard = threading.Lock()
STAGES: dict[str, StageTiming] = {}
_RUNNING: dict[str, list[float]] = {}  # stage -> perf_counter starts of its calls still running


def start_sampling() -> None:
    global _sampler
    with _guard:
        if _sampler is None:
            _sampler = _Sampler()
            _sampler.start()


def peak_between(t0: float, t1: float) -> float:
    """Peak resident memory in MB between two time.time() stamps (0 when not sampled)."""
    if _sampler is None:
        return 0.0
    _sampler.sample()
    peaks = [rss for t, rss in list(_sampler.timeline) if t0 - SAMPLE_SECONDS <= t <= t1]
    return max(peaks, default=0) / 2**20


def reset_stages() -> None:
    STAGES.clear()


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a stage and record the peak RSS while it ran."""
    start_sampling()
    t0, p0 = time.time(), time.perf_counter()
    try:
        with working(name):
            yield
    finally:
        record_stage(name, time.perf_counter() - p0, peak_between(t0, time.time()))


@contextlib.contextmanager
def working(name: str) -> Iterator[None]:
    """Mark `name` as running while the block runs (`running`, `heartbeat`), untimed: the
    marts' time is their Dagster step's (`pipelines.runner._stage_figures`)."""
    begun = time.perf_counter()
    with _guard:
        _RUNNING.setdefault(name, []).append(begun)
    try:
        yield
    finally:
        with _guard:
            starts = _RUNNING[name]
            starts.remove(begun)
            if not starts:
                del _RUNNING[name]


def running() -> dict[str, float]:
    """The stages running now, each with the start of its earliest call still running
    (`time.perf_counter`), in the order they began."""
    with _guard:
        since = {name: min(starts) for name, starts in _RUNNING.items()}
    return dict(sorted(since.items(), key=lambda item: item[1]))


def clock(seconds: float) -> str:
    """A duration as a person reads it in a progress line: "45 s", "3:05 min", "1:02:07 h"."""
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d} h"
    if minutes:
        return f"{minutes}:{secs:02d} min"
    return f"{secs} s"


@contextlib.contextmanager
def heartbeat(say, labels: dict[str, str], every: float) -> Iterator[None]:
    """While the block runs, `say` every `every` seconds which of the stages named in
    `labels` are running and since when. A run of 10,000,000 cases spends minutes in a
    stage without a line of its own (the checks 73 s, the marts 79 s, the publication 51 s):
    without this the command line looked the same as a hung one. Work shorter than `every`
    says nothing; the line names stages only, never data. `say` is called from another
    thread; if it fails (a closed pipe), the lines stop and the run goes on."""
    begun = time.perf_counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            now = time.perf_counter()
            busy = [
                f"{labels[name]} seit {clock(now - since)}"
                for name, since in running().items()
                if name in labels and since >= begun  # not a stage some earlier run left open
            ]
            run = clock(now - begun)
            if busy:
                line = f"… läuft: {'; '.join(busy)} (Lauf seit {run})"
            else:  # between two steps, or in one without a label
                line = f"… der Lauf arbeitet seit {run}"
            try:
                say(line)
            except Exception:
                return

    thread = threading.Thread(target=beat, name="lagebild-heartbeat", daemon=True)
    try:
        thread.start()
        yield
    finally:
        done.set()
        if thread.is_alive():
            thread.join()


def record_stage(name: str, seconds: float, peak_rss_mb: float) -> None:
    """Add a call of a stage: its time and the peak resident memory while it ran (`stage`,
    or the contract suites' worker process, pipelines.suite_worker)."""
    with _guard:  # deliveries are read in two threads at once (pipelines.ingest.batch)
        st = STAGES.setdefault(name, StageTiming(name))
        st.seconds += seconds
        st.peak_rss_mb = max(st.peak_rss_mb, peak_rss_mb)
        st.calls += 1


def timed_check(fn):
    """An asset check's time as the stage "checks" (Dagster runs checks outside the assets'
    own stages; without this their time showed as "not in any stage" in `make bench`), and
    as the nested stage "checks.<name>" (which check takes the time, or the memory). Keeps
    the signature (Dagster reads the parameters) and works for generator checks too."""
    own = f"checks.{fn.__name__.lstrip('_')}"
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            with stage("checks"), stage(own):
                yield from fn(*args, **kwargs)

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        with stage("checks"), stage(own):
            return fn(*args, **kwargs)

    return plain


def give_back_memory() -> None:
    """Free the frames that only reference cycles keep alive, and hand the memory back.

    Great Expectations' objects reference each other and the frame they validated; Python's
    cycle collector frees such frames only in a full collection, which a run of mostly DuckDB
    work seldom triggers. Arrow's allocator (mimalloc, per thread) and glibc's malloc then keep
    freed pages for reuse. After the contract suites at 10,000,000 cases the process so held
    about 6 GB (2.1 GB of Arrow buffers, 3.9 GB of pandas and numpy) through the marts, on top
    of DuckDB's own memory limit (docs/performance-notes.md). Arrow's `release_unused` frees the
    calling thread's unused pages (and those of threads that ended); `malloc_trim` is glibc's
    own (absent elsewhere, then skipped)."""
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
