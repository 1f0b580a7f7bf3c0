"""Decisions of people on the delivery-quality loop, kept append-only (issue 13).

    WORKSPACE/audit/decisions.jsonl     one JSON object per line, mode 0600

Two kinds of entry, both written by the command line and by the dashboard (role koordination;
flag reviews also by a provider for its own flags), never rewritten or deleted:

- `delivery`: koordination releases (`release`) or rejects (`reject`) a held delivery. The
  pipeline reads the log at the start of its next run (`pipelines/ingest/holds.py`): a released
  delivery is loaded as if no threshold applied, a rejected one is recorded `rejected` and
  never becomes current.
- `flag`: the review state of a scorecard flag (`offen`, `erklaert`, `korrigieren`), keyed by
  (provider, rule, table, column); the latest entry of a key counts.

The log lives beside the warehouse, not in it: the dashboard reads only the published copy and
must not write the warehouse (one writer). Free text (`reason`) is the decision maker's own
words; it is shown to koordination and the provider concerned, never put into a run message.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from kernel.access_log import file_lock

DELIVERY_ACTIONS = {"release": "freigegeben", "reject": "verworfen"}
FLAG_STATES = {"offen": "offen", "erklaert": "erklärt", "korrigieren": "korrigieren"}
MAX_REASON = 1000


class DecisionError(ValueError):
    """A decision that cannot be recorded (German message)."""


def log_path(workspace: str | Path) -> Path:
    return Path(workspace) / "audit" / "decisions.jsonl"


@contextlib.contextmanager
def _locked(workspace: str | Path) -> Iterator[None]:
    with file_lock(Path(workspace) / "audit" / ".decisions.lock"):
        yield


def _append(workspace: str | Path, entry: dict) -> dict:
    entry = {"at": datetime.now().isoformat(timespec="seconds"), **entry}
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _locked(workspace):
        fd = os.open(log_path(workspace), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line)
    return entry


def _reason(reason: str | None, required: bool) -> str:
    text = " ".join(str(reason or "").split())
    if required and not text:
        raise DecisionError("Bitte eine Begründung angeben.")
    if len(text) > MAX_REASON:
        raise DecisionError(f"Die Begründung ist länger als {MAX_REASON} Zeichen.")
    return text


def decide_delivery(
    workspace: str | Path, delivery_id: str, action: str, reason: str, user: str, role: str
) -> dict:
    """Append a release or reject of a held delivery (the caller checked it is held)."""
    if action not in DELIVERY_ACTIONS:
        raise DecisionError("Unbekannte Entscheidung (erwartet: release oder reject).")
    if role != "koordination":
        raise DecisionError("Nur die Koordination gibt Lieferungen frei oder verwirft sie.")
    return _append(
        workspace,
        {
            "kind": "delivery",
            "delivery_id": str(delivery_id),
            "action": action,
            "reason": _reason(reason, required=True),
            "user": user,
            "role": role,
        },
    )


def review_flag(
    workspace: str | Path,
    key: dict,
    state: str,
    reason: str,
    user: str,
    role: str,
    own_provider: str | None = None,
    badness: float | None = None,
) -> dict:
    """Append a review state of a flag, with how bad the finding was when reviewed (a worse
    finding later reopens the flag). A provider may review only its own flags."""
    if state not in FLAG_STATES:
        raise DecisionError("Unbekannter Prüfstatus (erwartet: offen, erklaert, korrigieren).")
    if role not in ("koordination", "traeger"):
        raise DecisionError("Hinweise prüfen nur die Koordination und der Träger selbst.")
    if role == "traeger" and key.get("provider_id") != own_provider:
        raise DecisionError("Ein Träger prüft nur die eigenen Hinweise.")
    entry = {k: key.get(k) for k in ("provider_id", "rule", "table_name", "column_name")}
    return _append(
        workspace,
        {
            "kind": "flag",
            **entry,
            "state": state,
            "badness": None if badness is None else float(badness),
            "reason": _reason(reason, required=state == "erklaert"),
            "user": user,
            "role": role,
        },
    )


def read(workspace: str | Path, kind: str | None = None) -> list[dict]:
    """All entries in order (a line that is not a JSON object is skipped)."""
    path = log_path(workspace)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and (kind is None or entry.get("kind") == kind):
                out.append(entry)
    return out
