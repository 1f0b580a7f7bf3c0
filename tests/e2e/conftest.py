"""End-to-end fixtures: a pipeline-built workspace, the dashboard server, Debian's Chromium.

Nothing is downloaded: Playwright drives /usr/bin/chromium; the server is started exactly as
`lagebild dashboard` starts it (dashboards.launch.command), bound to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pipeline_workspace import pipeline_workspace, providers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "e2e-passwort-123"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_workspace(tmp_path_factory):
    from dashboards.auth import add_user
    from kernel.workspace import Workspace

    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    users = Workspace(root).users_file
    small = providers(root)[0]
    add_user(users, "e2e-koordination", "koordination", PASSWORD)
    add_user(users, "e2e-traeger", "traeger", PASSWORD, provider=small)
    add_user(users, "e2e-evaluation", "evaluation", PASSWORD)
    add_user(users, "e2e-foerderer", "foerderer", PASSWORD)
    return root


def _healthy(proc: subprocess.Popen, url: str, port: int) -> bool:
    """True when the server started as `proc` answers its health check within 60 s and the
    port it answers on is its own (not another server's that took the port before it); False
    as soon as it has ended (its port was taken) or the time is up."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and _listens(proc.pid, port):
                    return proc.poll() is None  # and it still runs
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _listens(pid: int, port: int) -> bool:
    """Whether the process `pid` (or a child of it) holds the listening socket of `port`."""
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
            for p in procs
            for c in p.net_connections(kind="tcp")
        )
    except psutil.Error:
        return False


@contextlib.contextmanager
def serve(workspace: Path, log_name: str) -> Iterator[str]:
    """The dashboard as `lagebild dashboard` starts it (server.py, 127.0.0.1); yields its URL."""
    from dashboards.launch import HERE, command, environment

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / log_name, "w")  # noqa: SIM115
    for _ in range(3):  # a port taken between the probe and Streamlit's bind: another port
        port = _free_port()
        proc = subprocess.Popen(
            command(workspace, port=port),
            cwd=HERE,
            env=environment(workspace),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        if _healthy(proc, url, port):
            break
        proc.terminate()
        proc.wait(timeout=15)
    else:
        log.close()
        pytest.fail("Dashboard-Server ist nicht gestartet")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def dashboard_url(e2e_workspace):
    with serve(e2e_workspace, "e2e-streamlit.log") as url:
        yield url


def outside_requests(page) -> list[str]:
    """Start recording every request of `page`; the returned list fills with those that
    leave loopback (anything but 127.0.0.1/localhost over http(s), data: and blob:)."""
    outside: list[str] = []

    def check(request) -> None:
        parts = urllib.parse.urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname not in LOOPBACK:
            outside.append(request.url)

    page.on("request", check)
    return outside


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian-Paket chromium fehlt (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path | None:
    """Where the browser tests put a screenshot of every view, when asked for with
    LAGEBILD_SCREENSHOTS=1 (for looking at the colours and layout; they assert nothing and
    cost 11 s of a worker in every `make test`); else None."""
    if os.environ.get("LAGEBILD_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
