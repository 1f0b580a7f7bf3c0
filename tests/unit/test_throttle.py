"""Login throttling (issue 12): growing waits and a lockout per name and per client, kept in
the workspace, the same answer for names that do not exist, `lagebild users unlock`."""

from __future__ import annotations

import stat

import pytest

from dashboards import auth, throttle
from dashboards.auth import FAILED, add_user, login
from kernel import access_log
from kernel.settings import Settings
from pipelines.cli import main

PASSWORD = "richtig-richtig"


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(throttle, "_now", c)
    return c


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Argon2 with small parameters: the throttle, not the hash, is under test here."""
    from argon2 import PasswordHasher

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_HASHER", fast)
    monkeypatch.setattr(auth, "_DUMMY_HASH", fast.hash("dummy"))


@pytest.fixture
def ws(tmp_path):
    add_user(tmp_path / "users.yaml", "anna", "koordination", PASSWORD)
    return tmp_path


def _try(ws, password, name="anna", client="10.0.0.7"):
    return login(ws, name, password, client, Settings(workspace=ws), allow_demo=False)


def test_a_dozen_wrong_passwords_wait_then_lock(ws, clock):
    seen = []
    for step in (0, 0.1, 0.2, 2, 5, 10, 11, 12, 13, 14, 15, 16):  # seconds since the first
        clock.t = 1_000_000.0 + step
        seen.append(_try(ws, "falsch-falsch").reason)
    assert (
        seen == ["falsch", "falsch", "wartezeit", "falsch", "falsch", "falsch"] + ["gesperrt"] * 6
    )
    # the waits grew: 1 s after the 2nd failure, 2 s after the 3rd, 4 s after the 4th
    assert [throttle.delay(n - 1, 1.0) for n in (2, 3, 4)] == [1.0, 2.0, 4.0]
    locked = _try(ws, PASSWORD)
    assert locked.user is None and locked.reason == "gesperrt"
    assert "vorübergehend gesperrt" in locked.message and "15 Min." in locked.message

    clock.t += 15 * 60 + 1  # the lockout ends by itself
    assert _try(ws, PASSWORD).user is not None


def test_unlock_on_the_command_line(ws, clock, capsys):
    for i in range(5):
        clock.t += 60
        _try(ws, f"falsch-{i}-falsch")
    assert _try(ws, PASSWORD).reason == "gesperrt"
    assert main(["users", "list", "--workspace", str(ws)]) == 0
    assert "gesperrt, noch 15 Min." in capsys.readouterr().out
    assert main(["users", "unlock", "anna", "--workspace", str(ws)]) == 0
    assert "Anmeldesperre für 'anna' aufgehoben." in capsys.readouterr().out
    assert _try(ws, PASSWORD).user.name == "anna"


def test_unknown_names_get_the_same_answer_and_cost(ws, clock, monkeypatch):
    verified = []
    real = auth._HASHER

    class Counting:
        def verify(self, stored, password):
            verified.append(1)
            return real.verify(stored, password)

    monkeypatch.setattr(auth, "_HASHER", Counting())
    known = _try(ws, "falsch-falsch", name="anna")
    unknown = _try(ws, "falsch-falsch", name="niemand")
    assert known.message == unknown.message == FAILED
    assert verified == [1, 1]  # one argon2 verification each
    for _ in range(4):
        clock.t += 60
        _try(ws, "x-falsch-x", name="niemand")
    assert _try(ws, "x", name="niemand").reason == "gesperrt"  # names are counted unseen
    failed = [e for e in access_log.read(ws) if e["event"] == "login_failed"]
    assert {e["user"] for e in failed} == {"anna", auth.UNKNOWN_NAME}


def test_one_client_spraying_names_is_slowed_and_locked(ws, clock):
    for i in range(20):
        clock.t += 31  # past every wait
        assert _try(ws, "falsch", name=f"name{i}").reason == "falsch"
    clock.t += 31
    assert _try(ws, PASSWORD).reason == "gesperrt"  # the right password, from that client
    assert _try(ws, PASSWORD, client="10.0.0.8").user is not None  # another client


def test_state_survives_a_restart_and_names_are_not_stored(ws, clock):
    for _ in range(5):
        clock.t += 60
        _try(ws, "falsch")
    path = throttle.state_path(ws)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "anna" not in path.read_text() and "10.0.0.7" not in path.read_text()
    fresh = throttle.Throttle(ws)  # a new process reads the same file
    assert fresh.check("anna", "10.0.0.9").locked_seconds > 0
    assert fresh.check("bert", "10.0.0.9").allowed
