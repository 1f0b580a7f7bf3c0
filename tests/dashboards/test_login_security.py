"""The login form under brute force, the idle end of a session and what both leave in the
access log (AppTest; the throttle's arithmetic is tested in tests/unit/test_throttle.py)."""

from __future__ import annotations

import shutil
import time

import pytest

from dashboards import throttle
from dashboards.ui import SEEN_KEY
from kernel import access_log
from pipelines.cli import main
from tests.dashboards.apptest import app, logged_in, texts
from tests.dashboards.conftest import PASSWORD


@pytest.fixture
def ws(workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root, ignore=shutil.ignore_patterns("audit"))
    return root


def _submit(at, name: str, password: str):
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_a_dozen_wrong_passwords_in_the_form(ws, monkeypatch):
    clock = [2_000_000.0]
    monkeypatch.setattr(throttle, "_now", lambda: clock[0])
    at = app(ws, monkeypatch)
    at.run()
    answers = []
    for step in (0, 0.1, 0.2, 2, 5, 10, 11, 12, 13, 14, 15, 16):
        clock[0] = 2_000_000.0 + step
        answers.append([e.value for e in _submit(at, "anna", "falsch-falsch").error][-1])
    assert answers[0] == answers[1] == "Anmeldung fehlgeschlagen: Nutzername oder Passwort falsch."
    assert "bitte warten Sie 1 s" in answers[2]
    assert all("vorübergehend gesperrt" in a for a in answers[6:])

    _submit(at, "anna", PASSWORD)  # the right password during the lockout
    assert "vorübergehend gesperrt" in texts(at) and "Überblick" not in texts(at)

    assert main(["users", "unlock", "anna", "--workspace", str(ws)]) == 0
    _submit(at, "anna", PASSWORD)
    assert "Überblick" in [t.value for t in at.title]
    events = [e["event"] for e in access_log.read(ws)]
    assert events.count("login_failed") == 13 and events.count("login") == 1


def test_an_idle_session_ends(ws, monkeypatch):
    at = logged_in(ws, monkeypatch, "koordination")
    at.run()
    assert "Überblick" in [t.value for t in at.title]
    at.session_state[SEEN_KEY] = time.time() - 31 * 60  # default: 30 minutes
    at.run()
    assert at.text_input(key="login_name") is not None
    assert "ohne Aktivität beendet" in texts(at)
    assert [e["event"] for e in access_log.read(ws)][-1] == "session_expired"


def test_logout_is_recorded(ws, monkeypatch):
    at = logged_in(ws, monkeypatch, "evaluation")
    at.run()
    at.button(key="logout").click().run()
    assert at.text_input(key="login_name") is not None
    last = access_log.read(ws)[-1]
    assert (last["event"], last["user"], last["role"]) == (
        "logout",
        "test-evaluation",
        "evaluation",
    )
