"""A run's helper processes: one request each, answered over a pipe (issue 15).

A run's process holds Python's lock for its own work, so Python work moved to a thread only
waits for it; on the second core, in a process of its own, it runs beside the run. A helper
is started with this checkout's packages, loads what it needs (`prepare`) while the run goes
on, answers one request (a JSON line on stdin) with one JSON line on its original stdout
(anything the libraries print goes to stderr), and ends without the interpreter's teardown.
It ends as well as soon as the run's process is gone (killed hard, SIGTERM): an orphan would
keep working against the next run. A helper is a process group of its own with a temporary
folder of its own (TMPDIR): when the run stops it, or it ends because the run is gone, the
processes it started (Chromium printing a report) end with it and the folder is removed, with
whatever they left there (a report's print page, a browser profile). The folder carries the
run's process id in its name: one left by a helper killed hard is removed by the next helper
(`sweep_orphans`).

From the moment the request arrives, loading included, a thread of the helper sends a sign
of life every HEARTBEAT_SECONDS, once its other threads have worked MIN_WORK_SECONDS of CPU
time since the last one. The run gives a helper up after `silence` seconds without a complete
line: a stopped or frozen process stays silent, and so does one whose work hangs without
using CPU time (a deadlock, a read that never returns). Whatever a helper cannot answer, the
run does itself, so a result never depends on a helper (docs/decisions.md, „zwölfter Teil“).

The helpers: the contract suites (`pipelines.suite_worker`), two of the three reports
(`pipelines.report_worker`) and the publication grid's largest suppression
(`pipelines.grid_worker`).

A helper pays only with a core of its own: its start (an interpreter, Great Expectations or
the report modules loaded anew) is 2–3 CPU seconds that a busy machine takes from the run
itself. `LAGEBILD_HELPERS=0` switches them off where other work already keeps every core
busy (the test suite: two workers on two cores, `tests/conftest.py`; a shared server). The
run then does the same work itself, with the same results, and builds the publication grid's
families one after another (docs/decisions.md, „einundzwanzigster Teil“).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kernel.cores import helpers_wanted

ROOT = Path(__file__).resolve().parents[1]  # the helper imports this checkout's packages
PARENT_ENV = "LAGEBILD_HELPER_PARENT"  # the run's process id: the helper ends when it is gone
HEARTBEAT_SECONDS = 1.0  # the asked helper's signs of life, one line each
# a beat needs Python's lock for a moment only, and comes only once the other threads and the
# processes the helper started (Chromium) have worked this much CPU time since the last one:
# a helper whose work hangs without working (0.05 ms a second, its parent check included, so
# under 3 ms a minute) falls silent, one the machine starves to 1 ms a second still beats at
# least every 50 s
MIN_WORK_SECONDS = 0.05
ALIVE = {"alive": True}
MAX_LINE_BYTES = 1 << 20  # a longer line from a helper is no answer
H = TypeVar("H", bound="Helper")
# a helper's temporary folder: lagebild-helper-<the run's process id>-<random>
TMP_PREFIX = "lagebild-helper-"
_TMP_NAME = re.compile(rf"{TMP_PREFIX}(\d+)-[A-Za-z0-9_]+")


class Helper:
    """A helper process, seen from the run: started once, asked once, then gone. `name` says
    which in the run's log."""

    name = "Hilfsprozess"
    max_line_bytes = MAX_LINE_BYTES  # the longest answer line taken from this helper

    def __init__(self, module: str) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        sweep_orphans()
        self.tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")  # owner-only
        env = {**os.environ, "PYTHONPATH": path, PARENT_ENV: str(os.getpid()), "TMPDIR": self.tmp}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a failure is done again by the run, not passed on
                env=env,
                cwd=str(ROOT),
                start_new_session=True,  # its own group: stopped with what it started
            )
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def answer(self, request: dict, silence: float, log=None):
        """The helper's answer to `request` (its JSON, signs of life skipped), or None when it
        gives none: it is gone, answers no JSON, or sends no line for `silence` seconds. Its
        exit is not waited for here (`stop`)."""
        if self.proc.poll() is not None:
            return None
        try:
            _send(self.proc.stdin.fileno(), json.dumps(request).encode() + b"\n", silence)
            self.proc.stdin.close()
            for line in _lines(self.proc.stdout.fileno(), silence, self.max_line_bytes):
                message = json.loads(line)
                if not _is_beat(message):
                    return message
        except TimeoutError:
            if log is not None:
                log.info("Der %s gab %.0f s kein Lebenszeichen.", self.name, silence)
        except Exception:  # anything but an answer (also JSON nested too deep) is none
            pass
        return None

    def kill(self) -> None:
        """End the helper and what it started; its pipes stay open (a thread reading them
        sees their end)."""
        if self.proc.poll() is None:  # it holds nothing that needs a clean exit
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # not a group of its own
                self.proc.kill()

    def stop(self) -> None:
        self.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        tmp = getattr(self, "tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def start(make: Callable[[], H]) -> H | None:
    """A helper made by `make`, or None where it would not help: one core (nothing to gain
    beside the run, only memory to lose), helpers switched off (`kernel.cores.HELPERS_ENV`: no
    core is free for them), or no interpreter to start (embedded)."""
    if len(os.sched_getaffinity(0)) < 2 or not helpers_wanted():
        return None
    try:
        return make()
    except (OSError, TypeError):  # TypeError: no sys.executable
        return None


def _send(fd: int, data: bytes, silence: float) -> None:
    """Write `data` to `fd` without blocking longer than `silence` seconds at a time: a request
    larger than the pipe holds (the grid's: megabytes) waits for the helper to read it, and a
    stopped or frozen helper reads nothing (TimeoutError, as for its answer)."""
    os.set_blocking(fd, False)
    view = memoryview(data)
    deadline = time.monotonic() + silence
    while view:
        _, ready, _ = select.select([], [fd], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError
        try:
            view = view[os.write(fd, view[: 1 << 16]) :]
        except BlockingIOError:
            continue
        deadline = time.monotonic() + silence


def _lines(fd: int, silence: float, max_bytes: int = MAX_LINE_BYTES):
    """The lines arriving on `fd` until its end, read from the descriptor itself (a buffered
    reader would hide what it already holds from `select`). TimeoutError when `silence`
    seconds pass without a complete line (a byte now and then is no sign of life); ValueError
    for a line longer than `max_bytes` (an answer is a few kilobytes, the grid's a few MB)."""
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
        if len(pending) > max_bytes:
            raise ValueError("line too long")


def _is_beat(message) -> bool:
    return isinstance(message, dict) and message == ALIVE and message["alive"] is True


def work_seconds() -> float:
    """CPU seconds of this process outside the calling thread, and of the processes it
    started (ended and still running): what the beat thread asks before each sign of life
    (its own beats and sleeps do not count; a Chromium printing works, a hung one does not)."""
    import psutil

    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    running = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            running += times.user + times.system
    own = time.process_time() - time.thread_time()
    return own + ended.ru_utime + ended.ru_stime + running


def sweep_orphans() -> None:
    """Remove the temporary folders of helpers whose run is gone.

    A helper removes its folder on every way out (`_leave`), but not when it is killed hard
    itself (kill -9 of the run's whole process tree). What it leaves may hold a report's print
    page; the next helper of this user removes it. Only real folders of this user whose run
    process no longer exists: a living run's helper, a link, another user's entry stay. (Runs
    of one user in two process-id namespaces sharing one /tmp, containers, would see each
    other as gone: give each its own TMPDIR.)"""
    root = Path(tempfile.gettempdir())
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        found = _TMP_NAME.fullmatch(entry.name)
        if found is None or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or no process id)
        return True
    return True


def _leave(code: int) -> None:
    """A helper's every way out: end what it started, remove its temporary folder, end.

    The folder goes also when the run, not the helper, would have removed it (`Helper.stop`):
    a run killed hard closes the helper's input, and the helper ends before the run could."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()
    tmp = os.environ.get("TMPDIR", "")
    if _TMP_NAME.fullmatch(Path(tmp).name):
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(code)


def _exit_with_parent() -> None:
    """The run is gone: end what this helper started, remove its temporary folder, and end."""
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    while os.getppid() == parent:
        time.sleep(0.2)
    _leave(1)


def serve(prepare: Callable[[], object], answer: Callable[[dict, object], dict]) -> None:
    """A helper's life: `prepare()` at once, then `answer(request, prepared)` for the one
    request, its dict sent as the answer line ({"error": <exception type>} when it raises:
    the message might quote data), and leave. Every way out goes through `_leave`: also a
    failing `prepare`, an answer the gone run no longer reads, and SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: _leave(1))
    try:
        _serve(prepare, answer)
    except BaseException:
        _leave(1)


def _serve(prepare: Callable[[], object], answer: Callable[[dict, object], dict]) -> None:
    threading.Thread(target=_exit_with_parent, name="lagebild-parent", daemon=True).start()
    answer_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    writing = threading.Lock()  # a beat never splits the answer's line
    answered = False  # the answer is the last line: no beat after it (seen once, 12-07)

    def say(message: dict, last: bool = False) -> None:
        nonlocal answered
        with writing:
            if answered:
                return
            answer_to.write(json.dumps(message) + "\n")
            answer_to.flush()
            answered = last

    requests: queue.SimpleQueue = queue.SimpleQueue()

    def listen() -> None:
        line = sys.stdin.readline()
        try:
            if line:  # before the request is handed on: the first line, however quick the answer
                say(ALIVE)
        finally:  # a gone reader (broken pipe) leaves the request to the way out of `_serve`
            requests.put(line)
        worked = work_seconds()
        while line:
            time.sleep(HEARTBEAT_SECONDS)
            if work_seconds() - worked >= MIN_WORK_SECONDS:
                say(ALIVE)
                worked = work_seconds()

    threading.Thread(target=listen, name="lagebild-beat", daemon=True).start()
    prepared = prepare()
    line = requests.get()
    if not line:
        _leave(0)  # the run ended without asking (also: it was killed)
    try:
        reply = answer(json.loads(line), prepared)
    except Exception as exc:  # the run does the work itself then
        reply = {"error": type(exc).__name__}
    say(reply, last=True)
    _leave(0)
