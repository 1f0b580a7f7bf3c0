"""Dashboard test fixtures: a small published warehouse, users, and AppTest per role."""

from __future__ import annotations

import pytest

from tests.dashboards.fixture_warehouse import build

PASSWORD = "test-passwort-123"
ROLE_USERS = {
    "koordination": ("anna", None),
    "traeger": ("tina", "p04"),
    "evaluation": ("eva", None),
    "foerderer": ("fritz", None),
}


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """A workspace with a published warehouse (fixture data) and one user per role."""
    from dashboards.auth import add_user
    from kernel.workspace import Workspace

    root = tmp_path_factory.mktemp("ws")
    ws = Workspace(root)
    build(ws.published_db_path)
    for role, (name, provider) in ROLE_USERS.items():
        add_user(ws.users_file, name, role, PASSWORD, provider)
    return root


@pytest.fixture()
def warehouse(workspace, tmp_path):
    """A writable copy of the fixture's warehouse (its marts) and its settings."""
    import shutil

    from dashboards import read
    from kernel.warehouse import connect

    src = read.Source.of(workspace)
    path = tmp_path / "lagebild.duckdb"
    shutil.copy(src.ws.published_db_path, path)
    path.chmod(0o600)
    con = connect(path)
    yield con, src.settings
    con.close()


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """st.cache_data survives between AppTest runs in one process; so do the published copies
    an AppTest kept open (tests/dashboards/apptest.app)."""
    import streamlit as st

    from dashboards.read import scope

    st.cache_data.clear()
    yield
    st.cache_data.clear()
    scope._OPEN.close_all()
