"""Login, role gates, downloads and suppression in AppTest. Every view for every role is
rendered (and its title, data basis and k checked) by tests/dashboards/test_hostile.py."""

from __future__ import annotations

import time

import pytest
import streamlit as st

from dashboards import read
from dashboards.catalog import label
from dashboards.markup import md_text
from dashboards.read import ROLES
from dashboards.views import titles, views_for
from tests.dashboards.apptest import app, frames, logged_in, texts
from tests.dashboards.conftest import PASSWORD, ROLE_USERS

ROLE_VIEWS = {r: tuple(v.key for v in views_for(r)) for r in ROLES}
VIEWS = titles()

ROLES = {
    "koordination": None,
    "traeger": "p04",
    "evaluation": None,
    "foerderer": None,
}


def run_view(workspace, monkeypatch, role: str, view: str):
    at = logged_in(workspace, monkeypatch, role, ROLES[role])
    at.run()
    assert not at.exception, at.exception
    st.cache_data.clear()
    at.switch_page(f"views/{view}.py")
    t0 = time.perf_counter()
    at.run()
    return at, time.perf_counter() - t0


def test_each_view_has_downloads(workspace, monkeypatch):
    for view in VIEWS:
        at, _ = run_view(workspace, monkeypatch, "koordination", view)
        # no release in this workspace: the archive's downloads are in test_berichtsarchiv
        assert len(at.get("download_button")) >= 1 or view == "berichtsarchiv", view


def test_login_form_and_logout(workspace, monkeypatch):
    at = app(workspace, monkeypatch)
    at.run()
    assert [t.value for t in at.title] == ["Lagebild"]
    at.text_input(key="login_name").input("anna")
    at.text_input(key="login_password").input("falsch-falsch")
    at.button[0].click().run()
    assert "Anmeldung fehlgeschlagen" in texts(at)
    at.text_input(key="login_name").input("anna")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert "Überblick" in [t.value for t in at.title]
    at.button(key="logout").click().run()
    assert at.text_input(key="login_name") is not None


def test_demo_users_only_in_demo_mode(workspace, monkeypatch, tmp_path):
    import shutil

    from dashboards.auth import DEMO_PASSWORD, ensure_demo_users
    from kernel.workspace import Workspace

    ws = tmp_path / "demo-ws"
    shutil.copytree(workspace, ws)
    ensure_demo_users(Workspace(ws).users_file, "p01")
    at = app(ws, monkeypatch, demo=False)
    at.run()
    at.text_input(key="login_name").input("demo-koordination")
    at.text_input(key="login_password").input(DEMO_PASSWORD)
    at.button[0].click().run()
    assert "Anmeldung fehlgeschlagen" in texts(at)

    at = app(ws, monkeypatch, demo=True)
    at.run()
    assert "Demo-Modus" in texts(at)
    at.text_input(key="login_name").input("demo-foerderer")
    at.text_input(key="login_password").input(DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    body = texts(at)
    assert md_text("Demo: Förderer") in body and "Demo-Modus" in body  # label escaped


def test_missing_published_copy_is_friendly(tmp_path, monkeypatch):
    from dashboards.auth import add_user

    add_user(tmp_path / "users.yaml", "anna", "koordination", PASSWORD)
    at = logged_in(tmp_path, monkeypatch, "koordination")
    at.run()
    assert not at.exception
    assert "Noch keine Daten – bitte zuerst `lagebild run` ausführen." in texts(at)


def test_funder_sees_no_delivery_view_and_no_case_level(workspace, monkeypatch):
    at = logged_in(workspace, monkeypatch, "foerderer")
    at.run()
    with pytest.raises(ValueError):
        at.switch_page("views/lieferungen.py")
    at, _ = run_view(workspace, monkeypatch, "foerderer", "ueberblick")
    assert "Falldaten" not in [e.label for e in at.expander]
    at, _ = run_view(workspace, monkeypatch, "foerderer", "fallzahlen")
    assert "Je Fachkraft (pseudonym)" not in texts(at)
    at, _ = run_view(workspace, monkeypatch, "foerderer", "themen")
    assert "Exemplarische Fälle" not in texts(at)
    assert not [f for f in at.get("form")]  # no register editing


def test_funder_tables_are_suppressed(workspace, monkeypatch):
    at, _ = run_view(workspace, monkeypatch, "foerderer", "fallzahlen")
    table = frames(at)[0]
    provider_col = table["Träger"].tolist()
    assert "p04" in provider_col
    row = table[table["Träger"] == "p04"].iloc[0]
    assert row["Fälle im Zeitraum"] == "x"  # two cases: hidden, as every hidden count
    assert row[label("avg_caseload")] == "x"


def test_provider_sees_only_itself(workspace, monkeypatch):
    for view in ("fallzahlen", "prozessqualitaet", "lieferungen"):
        at, _ = run_view(workspace, monkeypatch, "traeger", view)
        for df in frames(at):
            if "Träger" in df.columns:
                assert set(df["Träger"]) <= {"p04", "Gesamt", ""}, (view, set(df["Träger"]))
    at, _ = run_view(workspace, monkeypatch, "traeger", "lieferungen")
    assert "p02_export_alt.xlsx" not in str(frames(at))


def test_koordination_edits_theme_register(workspace, monkeypatch):
    from transforms.themes.store import theme_history

    at, _ = run_view(workspace, monkeypatch, "koordination", "themen")
    theme_id = at.selectbox(key="theme_pick").value
    form_box = at.selectbox[1]
    form_box.set_value("priorisiert")
    at.text_input[0].input("AG Wohnen")
    at.text_area[0].input("In der AG am 12.11. priorisiert.")
    assert at.get("form"), "the register form exists"
    submit = next(b for b in at.button if b.label == "Speichern")
    submit.click().run()
    assert not at.exception, at.exception
    assert "Gespeichert" in texts(at)
    hist = theme_history(workspace, theme_id)
    assert hist["note"].iloc[-1] == "In der AG am 12.11. priorisiert."
    assert hist["new_status"].iloc[-1] == "priorisiert"
    assert hist["user_name"].iloc[-1] == "test-koordination"


def test_publication_toggle_suppresses_for_koordination(workspace, monkeypatch):
    at, _ = run_view(workspace, monkeypatch, "koordination", "fallzahlen")
    assert "k = 3" not in texts(at).split("Datenbasis:")[0]
    at.toggle(key="lagebild_publication").set_value(True).run()
    table = frames(at)[0]
    assert (table["Fälle im Zeitraum"] == "x").any()


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_role_can_log_in(workspace, monkeypatch, role):
    name, _ = ROLE_USERS[role]
    at = app(workspace, monkeypatch)
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert "Überblick" in [t.value for t in at.title]


@pytest.mark.parametrize("kind", ["region", "provider"])
def test_every_grid_selection_of_a_funder_renders(workspace, monkeypatch, kind):
    """A funder may pick a region or a provider; figures the grid holds only per programme
    (supply gaps, closures) say so instead of failing the page."""
    at = logged_in(workspace, monkeypatch, "foerderer", None)
    at.run()
    at.radio(key="g_kind").set_value(kind).run()
    assert not at.exception, at.exception
    for view in ROLE_VIEWS["foerderer"]:
        at.switch_page(f"views/{view}.py")
        at.run()
        assert not at.exception, (kind, view, at.exception)
        assert VIEWS[view] in [t.value for t in at.title]
    at.switch_page("views/versorgungsluecken.py")
    at.run()
    assert any("je Programm" in i.value or "nicht" in i.value for i in at.info), kind


def test_a_funder_sees_process_quality_of_the_year_of_a_chosen_quarter(workspace, monkeypatch):
    """Process quality is published per calendar year: a quarter chosen by a funder shows the
    year it lies in (said on the page), the grid's cells for that year."""
    at = logged_in(workspace, monkeypatch, "foerderer", None)
    at.run()
    quarter = at.selectbox(key="g_period").value
    assert len(quarter) == 7  # the default: the last complete quarter
    at.switch_page("views/prozessqualitaet.py")
    at.run()
    assert not at.exception, at.exception
    year = quarter[:4]
    assert any(f"gezeigt wird {year}" in i.value for i in at.info)
    src = read.Source.of(workspace)
    f = read.Filters(year, year)
    expected = read.process_quality(src, src.viewer("foerderer"), f, group_by=("program",))
    shown = frames(at)[-1]
    assert len(shown) == len(expected.table) > 1


def test_a_funder_choosing_a_year_sees_the_overview_without_caseload_figures(
    workspace, monkeypatch
):
    """The caseload is published per quarter only (docs/decisions.md): for a year the
    overview keeps its other figures, and says why the caseload is missing."""
    at = logged_in(workspace, monkeypatch, "foerderer", None)
    at.run()
    quarter = at.selectbox(key="g_period").value
    at.selectbox(key="g_period").set_value(quarter[:4]).run()
    assert not at.exception, at.exception
    assert "Überblick" in [t.value for t in at.title]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Fälle im Zeitraum"] == "–"
    assert tiles["Ziele ohne passendes Angebot"] != "–"
    assert any("je Quartal veröffentlicht" in c.value for c in at.caption)
