"""Helpers to run the dashboard under Streamlit's AppTest."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from streamlit.components.v2 import manifest_scanner
from streamlit.testing.v1 import AppTest

import dashboards

APP = Path(dashboards.__file__).resolve().parent / "app.py"

_SCAN = manifest_scanner.scan_component_manifests


@functools.cache
def _manifests() -> tuple:
    return tuple(_SCAN())


def _scan_once(max_workers: int | None = None) -> list:
    """Streamlit's component manifests, scanned once per test process: every new AppTest scans
    the metadata of all installed distributions for them (streamlit 1.67, AppTest._run: 0.2-0.5
    CPU-s a scan, twice per dashboard test; test_views.py 16 of 42 s under cProfile). The
    installed packages do not change during a test session; the dashboard server scans once
    at its start as before."""
    return list(_manifests())


manifest_scanner.scan_component_manifests = _scan_once


def app(workspace: Path, monkeypatch, *, demo: bool = False) -> AppTest:
    """The app as the dashboard server runs it, published copies kept open
    (scope.keep_copies_open: opening the file for every query call was a sixth of these tests'
    time); the conftest closes them after each test."""
    from dashboards.read import scope

    monkeypatch.setattr(scope._OPEN, "enabled", True)
    monkeypatch.setenv("LAGEBILD_WORKSPACE", str(workspace))
    monkeypatch.setenv("LAGEBILD_DEMO", "1" if demo else "0")
    return AppTest.from_file(str(APP), default_timeout=30)


def logged_in(workspace: Path, monkeypatch, role: str, provider: str | None = None) -> AppTest:
    from dashboards.auth import User
    from dashboards.ui import USER_KEY

    at = app(workspace, monkeypatch)
    at.session_state[USER_KEY] = User(f"test-{role}", role, provider)
    return at


def open_view(at: AppTest, view: str) -> tuple[AppTest, float]:
    """Run the app, switch to a view, run it; returns (at, seconds for the view's run)."""
    at.run()
    at.switch_page(f"views/{view}.py")
    t0 = time.perf_counter()
    at.run()
    return at, time.perf_counter() - t0


def texts(at: AppTest) -> str:
    parts = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "subheader",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]
