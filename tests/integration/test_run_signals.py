"""A run hands SIGTERM back as it found it (pipelines.interrupts): Dagster points SIGTERM at
SIGINT's handler during a run and left it there, so a `lagebild` started where SIGINT is
ignored (`lagebild run &` in a script) ignored SIGTERM after its run, and so did every process
it started afterwards."""

from __future__ import annotations

import signal
import subprocess

import pytest

from kernel.settings import load_settings
from pipelines.runner import run_pipeline


@pytest.fixture
def handlers():
    """SIGINT and SIGTERM of this test process as they were, whatever the test sets."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])


@pytest.mark.parametrize(
    "sigint",
    [signal.SIG_IGN, signal.default_int_handler],
    ids=["SIGINT ignoriert (Hintergrund)", "SIGINT von Python"],
)
def test_after_a_run_sigterm_ends_the_process_and_what_it_starts(tmp_path, handlers, sigint):
    signal.signal(signal.SIGINT, sigint)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outcome = run_pipeline(load_settings(tmp_path / "ws", inbox), selection=["landing"])
    assert outcome.success, outcome.failures
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    child = subprocess.Popen(["sleep", "30"])  # started after the run, as a release's Chromium
    child.terminate()
    assert child.wait(timeout=5) == -signal.SIGTERM
