"""The access log: who saw what, when — never a data value.

    WORKSPACE/audit/access.jsonl     one JSON object per line, mode 0600

Every login and failed login, logout and idle end, every view opened (again when its filters
or suppression change), every download (with its format), every drill-down into case-level
data and every report written (command line and pipeline) appends one line with the time,
the user name, role, provider scope, filters and suppression state (`k=3` or `keine`).
Entries hold names, codes and keys of the scope only: `record` refuses numbers and any field
outside the list below, so a count or a case id cannot slip in.

Append-only for everyone but the retention: `prune` (run by `lagebild audit-log --prune`, at
the start of `lagebild run`/`demo` and when the dashboard starts) drops entries older than
`access_log_retention_days`. Writers and the pruner share one lock file, so concurrent
dashboard sessions (threads), the pipeline and the command line never interleave or lose a
line. The log lives beside the published copy, never in it (that copy is read-only and is
replaced by every run).

    lagebild audit-log --workspace DIR [--since YYYY-MM-DD] [--prune]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

EVENTS = {
    "login": "Anmeldung",
    "login_failed": "Anmeldung fehlgeschlagen",
    "logout": "Abmeldung",
    "session_expired": "Sitzung abgelaufen",
    "view": "Ansicht",
    "download": "Download",
    "drilldown": "Drill-down",
    "report": "Bericht",
    "decision": "Entscheidung",  # a held delivery released or rejected, a flag reviewed
}
FIELDS = (
    "user",  # user name (dashboard) or OS account (command line, pipeline)
    "role",
    "provider",  # provider scope: the provider a traeger user is bound to
    "view",
    "filters",  # {period_from, period_to, programs, regions, providers}
    "suppression",  # "k=3" or "keine"
    "format",  # csv, xlsx, html, pdf
    "object",  # the table, report kind or drill-down that was handed out
    "period",  # report period
    "client",  # client address of a dashboard session ("lokal" on loopback)
    "source",  # dashboard, kommandozeile, pipeline
    "reason",  # why a login failed: falsch, wartezeit, gesperrt
)
FILTER_KEYS = ("period_from", "period_to", "programs", "regions", "providers")
NO_SUPPRESSION = "keine"


class AccessLogError(ValueError):
    """An entry that would hold something else than names, codes and keys."""


def log_path(workspace: str | Path) -> Path:
    return Path(workspace) / "audit" / "access.jsonl"


def _lock_path(workspace: str | Path) -> Path:
    return Path(workspace) / "audit" / ".access.lock"


def suppression(k: int | None) -> str:
    return f"k={int(k)}" if k else NO_SUPPRESSION


def _plain(name: str, value):
    """Strings, None, and lists of strings; a filters dict of those. No numbers."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    if name == "filters" and isinstance(value, dict):
        unknown = set(value) - set(FILTER_KEYS)
        if unknown:
            raise AccessLogError(f"unknown filter fields {sorted(unknown)}")
        return {k: _plain(k, v) for k, v in value.items()}
    raise AccessLogError(f"{name}: only text belongs in the access log, not {type(value)}")


@contextlib.contextmanager
def _locked(workspace: str | Path) -> Iterator[None]:
    with file_lock(_lock_path(workspace)):
        yield


@contextlib.contextmanager
def file_lock(lock: Path) -> Iterator[None]:
    """An exclusive lock on `lock` (owner-only), for files written by several processes
    (dashboard sessions, the command line). Opened for reading only (a lock needs no write
    access, also not to a lock file made read-only), never through a symbolic link (one
    planted in its place would make an empty file wherever it points)."""
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def record(workspace: str | Path, event: str, **fields) -> dict:
    """Append one entry; returns it. Raises AccessLogError for a field that does not belong."""
    if event not in EVENTS:
        raise AccessLogError(f"unknown event {event!r}")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise AccessLogError(f"unknown fields {sorted(unknown)}")
    entry = {"ts": datetime.now().isoformat(timespec="seconds"), "event": event}
    entry.update({k: _plain(k, v) for k, v in fields.items() if v is not None})
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
    with _locked(workspace):
        fd = os.open(log_path(workspace), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    return entry


def read(workspace: str | Path, since: date | None = None) -> list[dict]:
    """Every entry (oldest first), from `since` on when given; unreadable lines are skipped."""
    path = log_path(workspace)
    if not path.exists():
        return []
    start = since.isoformat() if since else ""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and str(entry.get("ts", "")) >= start:
            out.append(entry)
    return out


def prune(workspace: str | Path, retention_days: int, *, today: date | None = None) -> int:
    """Drop entries older than `retention_days`; returns how many were dropped."""
    path = log_path(workspace)
    if not path.exists() or retention_days <= 0:
        return 0
    cutoff = ((today or date.today()) - timedelta(days=retention_days)).isoformat()
    with _locked(workspace):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        keep = [ln for ln in lines if _ts(ln) >= cutoff]
        if len(keep) == len(lines):
            return 0
        fd, tmp = tempfile.mkstemp(prefix=".access-", suffix=".jsonl", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(keep)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return len(lines) - len(keep)


def _ts(line: str) -> str:
    try:
        return str(json.loads(line).get("ts", ""))
    except (json.JSONDecodeError, AttributeError):
        return ""


def describe(entry: dict) -> str:
    """One readable German line for `lagebild audit-log`."""
    who = entry.get("user") or "—"
    if entry.get("role"):
        scope = f", Träger {entry['provider']}" if entry.get("provider") else ""
        who += f" ({entry['role']}{scope})"
    parts = [str(entry.get("ts", "")).replace("T", " "), EVENTS.get(entry.get("event"), "?"), who]
    for key, label in (
        ("view", "Ansicht"),
        ("object", "Inhalt"),
        ("period", "Quartal"),
        ("format", "Format"),
        ("suppression", "Geheimhaltung"),
        ("reason", "Grund"),
        ("client", "Client"),
        ("source", "über"),
    ):
        if entry.get(key):
            parts.append(f"{label}: {entry[key]}")
    filters = entry.get("filters") or {}
    shown = [f"{k}={_join(v)}" for k, v in filters.items() if v]
    if shown:
        parts.append("Filter: " + ", ".join(shown))
    return " · ".join(parts)


def _join(v) -> str:
    return "|".join(v) if isinstance(v, list) else str(v)


def cli_audit_log(args) -> int:
    from kernel.settings import load_settings

    root = Path(args.workspace).resolve()
    if args.prune:
        days = load_settings(root).access_log_retention_days
        dropped = prune(root, days)
        print(f"Zugriffsprotokoll: {dropped} Einträge älter als {days} Tage entfernt.")
        return 0
    entries = read(root, args.since)
    if not entries:
        print(f"Keine Einträge im Zugriffsprotokoll ({log_path(root)}).", file=sys.stderr)
        return 0
    for entry in entries:
        print(describe(entry))
    return 0
