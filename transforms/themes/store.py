"""The theme register's file: opening it under its lock, and the operations the dashboard
and the command line call by workspace.

The register lives in its own DuckDB file (``WORKSPACE/themenspeicher.duckdb``), written with
short connections under its own lock, so the dashboard can edit it during a run and it
survives every warehouse rebuild. The operations on an open connection are in ``register``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from kernel.warehouse import WorkspaceBusy, connect, write_lock
from kernel.workspace import Workspace
from transforms.themes import register as reg

REGISTER_LOCK_WAIT_S = 15.0


def workspace_of(workspace: str | Path | Workspace) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    return Workspace(Path(workspace).resolve())


def register_lock_path(ws: Workspace) -> Path:
    return ws.register_db_path.with_suffix(".lock")


@contextlib.contextmanager
def open_register(workspace: str | Path | Workspace) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-write connection to the register under its lock (waits up to 15 s)."""
    ws = workspace_of(workspace)
    ws.root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        deadline = time.monotonic() + REGISTER_LOCK_WAIT_S
        while True:
            try:
                stack.enter_context(write_lock(register_lock_path(ws)))
                break
            except WorkspaceBusy as exc:
                if time.monotonic() > deadline:
                    raise WorkspaceBusy(
                        "Der Themenspeicher wird gerade von einem anderen Vorgang bearbeitet."
                        " Bitte versuchen Sie es gleich noch einmal."
                    ) from exc
                time.sleep(0.1)
        con = connect(ws.register_db_path)
        stack.callback(con.close)
        reg.ensure_schema(con)
        yield con


def set_theme_status(
    workspace: str | Path | Workspace,
    theme_id: str,
    status: str,
    owner: str | None = None,
    note: str | None = None,
    decided_on: date | None = None,
    user: str | None = None,
) -> dict:
    """Set status (and owner body) of a registered theme and append the dated decision.

    ``owner=None`` keeps the current owner, ``owner=""`` clears it. Raises ``UnknownTheme``
    (German message) for an unknown id and ``ValueError`` for an unknown status. Returns the
    change: theme_id, old_status, new_status, old_owner, new_owner, note, decided_on, user.
    """
    with open_register(workspace) as rcon:
        return reg.set_status(
            rcon, theme_id, status, owner=owner, note=note, decided_on=decided_on, user=user
        )


def theme_history(workspace: str | Path | Workspace, theme_id: str) -> pd.DataFrame:
    """All register entries of a theme, oldest first: seq, entry_kind ('beschluss' or
    'system'), decided_on, recorded_at, user_name, old_status, new_status, old_owner,
    new_owner, note. Raises ``UnknownTheme``."""
    with open_register(workspace) as rcon:
        return reg.history(rcon, theme_id)


def theme_observations(workspace: str | Path | Workspace, theme_id: str) -> pd.DataFrame:
    """The theme's figures per run (as_of, run_at, active, cases, providers, regions)."""
    with open_register(workspace) as rcon:
        return reg.observations(rcon, theme_id)
