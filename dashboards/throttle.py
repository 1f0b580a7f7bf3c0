"""Login throttling: growing waits after failed logins, then a temporary lockout — per user
name and per client address, kept in the workspace so a restart does not reset it.

    WORKSPACE/audit/login-throttle.json    (mode 0600; a lock file beside it)

Failures count for an hour. A name's first failure costs nothing (a typo); after its n-th
(n ≥ 2) the next attempt is refused until `login_delay_seconds · 2^(n-2)` seconds have passed
(1, 2, 4 s with the defaults), and at `login_max_failures` (5) the name is locked for
`login_lockout_minutes` (15). A client (address) may fail `login_max_failures` times across
names before its waits start (1, 2, 4 … s, at most 30 s) and is locked at
`login_client_max_failures` (20): spraying names from one address is slowed, an office with a
few typos is not. A success clears the name (not the client).
Names are counted whether they exist or not, and stored only as SHA-256 digests, so neither
the messages nor the file tell which names exist. A refused attempt checks no password.

    lagebild users unlock NAME --workspace DIR    (or --all)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WINDOW_SECONDS = 3600.0  # failures older than this are forgotten
MAX_DELAY_SECONDS = 30.0


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    client_max_failures: int = 20
    lockout_minutes: float = 15
    delay_seconds: float = 1.0

    @classmethod
    def of(cls, settings) -> Limits:
        return cls(
            settings.login_max_failures,
            settings.login_client_max_failures,
            settings.login_lockout_minutes,
            settings.login_delay_seconds,
        )


@dataclass(frozen=True)
class Verdict:
    """May this attempt check a password? If not: wait (s) or locked (s remaining)."""

    allowed: bool
    wait_seconds: float = 0.0
    locked_seconds: float = 0.0


def state_path(workspace: str | Path) -> Path:
    return Path(workspace) / "audit" / "login-throttle.json"


def name_key(name: str) -> str:
    return "n:" + hashlib.sha256((name or "").strip().encode("utf-8")).hexdigest()


def client_key(client: str | None) -> str:
    return "c:" + hashlib.sha256((client or "lokal").encode("utf-8")).hexdigest()


def delay(failures: int, base: float) -> float:
    if failures <= 0 or base <= 0:
        return 0.0
    return min(base * 2 ** (failures - 1), MAX_DELAY_SECONDS)


class Throttle:
    def __init__(self, workspace: str | Path, limits: Limits = Limits()) -> None:
        self.path = state_path(workspace)
        self.limits = limits

    @contextlib.contextmanager
    def _state(self, write: bool) -> Iterator[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(".login-throttle.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                state = {}
            state = state if isinstance(state, dict) else {}
            yield state
            if write:
                self._save(state)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _save(self, state: dict) -> None:
        now = _now()
        for key in list(state):
            entry = state[key]
            entry["failures"] = [t for t in entry.get("failures", []) if now - t < WINDOW_SECONDS]
            if not entry["failures"] and entry.get("locked_until", 0) < now:
                del state[key]
        fd, tmp = tempfile.mkstemp(prefix=".login-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _verdict(self, entry: dict | None, now: float, free: int) -> Verdict:
        if not entry:
            return Verdict(True)
        locked = entry.get("locked_until", 0) - now
        if locked > 0:
            return Verdict(False, locked_seconds=locked)
        failures = [t for t in entry.get("failures", []) if now - t < WINDOW_SECONDS]
        if failures:
            wait = max(failures) + delay(len(failures) - free, self.limits.delay_seconds) - now
            if wait > 0:
                return Verdict(False, wait_seconds=wait)
        return Verdict(True)

    def check(self, name: str, client: str | None) -> Verdict:
        """Whether an attempt for `name` from `client` may check a password now."""
        now = _now()
        with self._state(write=False) as state:
            verdicts = [
                self._verdict(state.get(name_key(name)), now, 1),
                self._verdict(state.get(client_key(client)), now, self.limits.max_failures),
            ]
        refused = [v for v in verdicts if not v.allowed]
        if not refused:
            return Verdict(True)
        return Verdict(
            False,
            wait_seconds=max(v.wait_seconds for v in refused),
            locked_seconds=max(v.locked_seconds for v in refused),
        )

    def failure(self, name: str, client: str | None) -> None:
        now = _now()
        with self._state(write=True) as state:
            for key, limit in (
                (name_key(name), self.limits.max_failures),
                (client_key(client), self.limits.client_max_failures),
            ):
                entry = state.setdefault(key, {})
                failures = [t for t in entry.get("failures", []) if now - t < WINDOW_SECONDS]
                failures.append(now)
                entry["failures"] = failures
                if len(failures) >= limit:
                    entry["locked_until"] = now + self.limits.lockout_minutes * 60

    def success(self, name: str) -> None:
        with self._state(write=True) as state:
            state.pop(name_key(name), None)

    def unlock(self, name: str | None = None) -> bool:
        """Clear one name (or, with None, every name and client). True if anything was held."""
        with self._state(write=True) as state:
            if name is None:
                held = bool(state)
                state.clear()
                return held
            return state.pop(name_key(name), None) is not None

    def locked_names(self, names) -> dict[str, float]:
        """name -> seconds of lockout left, for the given names that are locked now."""
        now = _now()
        with self._state(write=False) as state:
            out = {}
            for n in names:
                left = state.get(name_key(n), {}).get("locked_until", 0) - now
                if left > 0:
                    out[n] = left
            return out
