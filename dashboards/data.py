"""Cached access for the Streamlit views.

Every call goes to `dashboards.access` (role scoping and suppression happen there) through
one `st.cache_data` function keyed by the identity of the published file (path, mtime, size):
a new publication by the pipeline is a new key, so an open dashboard shows the new figures on
its next rerun and never reads a half-written file (the pipeline swaps the copy atomically).
Theme calls are also keyed by the register file, which the coordinating office edits live.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import access


def _register_key(workspace: Path) -> tuple:
    from kernel.workspace import Workspace

    reg = Workspace(workspace).register_db_path
    if not reg.exists():
        return ()
    s = reg.stat()
    return (s.st_mtime_ns, s.st_size)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, key: tuple, args: tuple, kwargs: tuple):
    return getattr(access, name)(*args, **dict(kwargs))


def load(name: str, workspace: Path, *args, **kwargs):
    """`access.<name>(db_or_workspace, *args, **kwargs)`, cached per published file.

    Functions whose first argument is the workspace (themes) get the workspace, all others
    the published database path.
    """
    workspace = Path(workspace)
    db = access.published_path(workspace)
    key = access.source_key(db)
    if name in WORKSPACE_FUNCTIONS:
        key = (*key, *_register_key(workspace))
        first = workspace
    else:
        first = db
    return _cached(name, key, (first, *args), tuple(sorted(kwargs.items())))


WORKSPACE_FUNCTIONS = frozenset({"themes", "theme_cases_for", "decisions"})


def clear() -> None:
    _cached.clear()
