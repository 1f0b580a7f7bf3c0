"""A network without any theme yet (a new or a small one: 200 cases from two providers gave
none) still gets its themes view, its overview and its reports. `lagebild run` on such a
network failed in its reports step: with no theme, the themes query published every column
of the themes table, also one without a disclosure class (``cases_recent_projected``)."""

from __future__ import annotations

import shutil

import pytest

from dashboards import read
from dashboards.read.themes import THEME_COLUMNS
from kernel.warehouse import connect
from kernel.workspace import Workspace


@pytest.fixture(scope="module")
def no_themes(workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("ohne-themen") / "ws"
    shutil.copytree(workspace, root)
    db = Workspace(root).published_db_path
    db.chmod(0o600)
    con = connect(db)
    try:
        con.execute("DELETE FROM mart.themes")
    finally:
        con.close()
    register = Workspace(root).register_db_path
    register.unlink(missing_ok=True)  # no theme in the register either
    return root


@pytest.mark.parametrize(
    ("role", "provider"),
    [("koordination", None), ("foerderer", None), ("evaluation", None), ("traeger", "p04")],
)
def test_the_themes_query_gives_an_empty_table_for_every_role(no_themes, role, provider):
    src = read.Source.of(no_themes)
    themes = read.themes(src, src.viewer(role, provider), read.ALL)
    assert themes.table.empty
    assert set(themes.table.columns) <= set(THEME_COLUMNS)


def test_overview_and_reports_are_built_without_a_theme(no_themes, tmp_path):
    from dashboards.reports import write_all

    src = read.Source.of(no_themes)
    decisions = read.decisions(src, src.viewer("koordination"), read.ALL)
    assert decisions["themes"].table.empty
    assert not decisions["gaps"].table.empty  # the rest of the overview is there
    written = write_all(no_themes, "2026-Q1", out_dir=tmp_path, formats=(".html", ".xlsx"))
    assert sorted(p.suffix for p in written) == [".html"] * 3 + [".xlsx"] * 3


@pytest.mark.parametrize("role", ["koordination", "foerderer"])
def test_the_themes_view_and_the_overview_open_without_a_theme(no_themes, monkeypatch, role):
    from tests.dashboards.apptest import logged_in, open_view

    for view in ("themen", "ueberblick"):
        at, _ = open_view(logged_in(no_themes, monkeypatch, role), view)
        assert not at.exception, view
        assert not [e.value for e in at.error], view
