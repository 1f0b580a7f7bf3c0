"""The theme register (Themenspeicher): statuses, history, stable ids, nothing deleted."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kernel.settings import Settings
from tests import themes_data as td
from transforms.themes.build import build_themes
from transforms.themes.read import list_themes
from transforms.themes.register import STATUSES, UnknownTheme
from transforms.themes.store import set_theme_status, theme_history, theme_observations

WZ = "T-wartezeit-gesundheit_psychisch"


def _ids(con, active_only=True):
    where = "WHERE active" if active_only else ""
    return {r[0] for r in con.execute(f"SELECT theme_id FROM mart.themes {where}").fetchall()}


@pytest.fixture
def built(staging_con, tmp_path):
    td.build_all(staging_con)
    settings = Settings(workspace=tmp_path)
    build_themes(staging_con, settings, run_at=datetime(2026, 10, 1, 9, 0))
    return staging_con, settings


def test_statuses_are_the_kim_process_steps():
    assert STATUSES == (
        "neu",
        "priorisiert",
        "themenspeicher",
        "projektgruppe",
        "lenkungsgruppe",
        "erledigt",
    )


def test_set_status_appends_dated_decisions(built, tmp_path):
    change = set_theme_status(
        tmp_path,
        WZ,
        "priorisiert",
        note="In der AG am 12.10. priorisiert",
        decided_on=date(2026, 10, 12),
        user="koordination",
    )
    assert (change["old_status"], change["new_status"]) == ("neu", "priorisiert")
    set_theme_status(
        tmp_path,
        WZ,
        "projektgruppe",
        owner="Projektgruppe Gesundheit",
        decided_on=date(2026, 11, 3),
        user="koordination",
    )
    set_theme_status(
        tmp_path,
        WZ,
        "lenkungsgruppe",
        note="Beschlussvorlage",
        decided_on=date(2026, 12, 1),
        user="koordination",
    )
    h = theme_history(tmp_path, WZ)
    assert h["entry_kind"].tolist() == ["system", "beschluss", "beschluss", "beschluss"]
    assert h["new_status"].tolist() == ["neu", "priorisiert", "projektgruppe", "lenkungsgruppe"]
    assert h["old_status"].tolist()[1:] == ["neu", "priorisiert", "projektgruppe"]
    # owner kept when not given, cleared with ""
    assert h["new_owner"].tolist()[2:] == ["Projektgruppe Gesundheit"] * 2
    assert h["note"].tolist()[1] == "In der AG am 12.10. priorisiert"
    assert [d.date() for d in h["decided_on"][1:]] == [
        date(2026, 10, 12),
        date(2026, 11, 3),
        date(2026, 12, 1),
    ]
    set_theme_status(tmp_path, WZ, "erledigt", owner="")
    listed = list_themes(tmp_path).set_index("theme_id")
    assert listed.loc[WZ, "status"] == "erledigt"
    assert listed.loc[WZ, "status_label"] == "erledigt"
    assert listed.loc[WZ, "owner"] is None or listed.loc[WZ, "owner"] != listed.loc[WZ, "owner"]


def test_unknown_theme_and_status_are_refused(built, tmp_path):
    with pytest.raises(UnknownTheme, match="Unbekanntes Thema 'T-gibt-es-nicht'"):
        set_theme_status(tmp_path, "T-gibt-es-nicht", "priorisiert")
    with pytest.raises(ValueError, match="Unbekannter Status"):
        set_theme_status(tmp_path, WZ, "vertagt")
    with pytest.raises(UnknownTheme):
        theme_history(tmp_path, "T-gibt-es-nicht")


def test_register_survives_a_rerun_with_stable_ids(built, tmp_path):
    con, settings = built
    before = _ids(con)
    text_ids = {t for t in before if t.startswith("T-text-")}
    assert len(text_ids) == 3
    for tid in before:
        set_theme_status(tmp_path, tid, "themenspeicher", owner="AG Fallrekonstruktion")
    build_themes(con, settings, run_at=datetime(2026, 10, 2, 9, 0))
    assert _ids(con) == before
    listed = list_themes(tmp_path)
    assert set(listed["status"]) == {"themenspeicher"}
    assert set(listed["owner"]) == {"AG Fallrekonstruktion"}
    # mart.themes carries the register's status too
    assert {r[0] for r in con.execute("SELECT DISTINCT status FROM mart.themes").fetchall()} == {
        "themenspeicher"
    }
    # the decisions are still there; a re-run adds no system entry for unchanged themes
    assert len(theme_history(tmp_path, WZ)) == 2


def test_text_ids_follow_their_terms_when_the_notes_change(built, tmp_path):
    con, settings = built
    before = _ids(con)
    # more notes in the same topics, by a new provider, later in the window
    import random

    rng = random.Random(99)
    for i in range(30):
        topic = ["psychotherapie", "kinderbetreuung", "wohnen"][i % 3]
        td.add_case(con, "P5", f"N{i}", "05119")
        td.add_barrier(
            con, "P5", f"N{i}", date(2026, 9, 20), "sonstiges", None, td.note_for(topic, rng)
        )
    build_themes(con, settings, run_at=datetime(2026, 10, 2, 9, 0))
    assert _ids(con) == before


def test_theme_below_thresholds_stays_inactive_never_deleted(built, tmp_path):
    con, settings = built
    set_theme_status(tmp_path, WZ, "projektgruppe", owner="Projektgruppe Gesundheit")
    # a re-delivery without most of these cases
    con.execute("DELETE FROM staging.barriers WHERE case_id IN ('C-wz-0', 'C-wz-1', 'C-wz-2')")
    build_themes(con, settings, run_at=datetime(2026, 10, 5, 9, 0))
    assert WZ not in _ids(con)
    assert WZ in _ids(con, active_only=False)
    row = con.execute(
        "SELECT active, cases, providers, status, owner FROM mart.themes WHERE theme_id = ?", [WZ]
    ).fetchone()
    assert row == (False, 3, 3, "projektgruppe", "Projektgruppe Gesundheit")
    assert WZ not in set(list_themes(tmp_path)["theme_id"])
    inactive = list_themes(tmp_path, include_inactive=True).set_index("theme_id")
    assert not inactive.loc[WZ, "active"]
    h = theme_history(tmp_path, WZ)
    assert h["entry_kind"].iloc[-1] == "system" and "Unter die Schwellen" in h["note"].iloc[-1]
    # one observation per Datenstand: the re-run with the same as_of replaced the first
    obs = theme_observations(tmp_path, WZ)
    assert obs["active"].tolist() == [False] and obs["cases"].tolist() == [3]
    # it rises again: active, with a system entry, status untouched
    for i in range(3):
        td.add_case(con, "P3", f"back{i}", "05315")
        td.add_barrier(con, "P3", f"back{i}", date(2026, 9, 1), "wartezeit", "gesundheit_psychisch")
    td.set_as_of(con, date(2026, 10, 10))
    build_themes(con, settings, run_at=datetime(2026, 10, 11, 9, 0))
    assert WZ in _ids(con)
    assert theme_history(tmp_path, WZ)["note"].iloc[-1].startswith("Wieder über den Schwellen")
    assert theme_observations(tmp_path, WZ)["active"].tolist() == [False, True]
    assert list_themes(tmp_path).set_index("theme_id").loc[WZ, "status"] == "projektgruppe"


def test_list_themes_reads_the_register_again_only_after_a_change(built, tmp_path, monkeypatch):
    """The register is opened once per change, not per query (~35 ms each in the dashboard),
    and an edit shows at the very next read, also one made by another process."""
    import transforms.themes.read as read

    assert list_themes(tmp_path).set_index("theme_id").loc[WZ, "status"] == "neu"
    opened = []
    real_open = read.open_register

    def counting(ws):
        opened.append(ws)
        return real_open(ws)

    monkeypatch.setattr(read, "open_register", counting)
    assert list_themes(tmp_path).set_index("theme_id").loc[WZ, "status"] == "neu"
    assert opened == []  # unchanged file: the kept read
    set_theme_status(tmp_path, WZ, "priorisiert", decided_on=date(2026, 10, 12), user="k")
    assert list_themes(tmp_path).set_index("theme_id").loc[WZ, "status"] == "priorisiert"
    assert len(opened) == 1
    listed = list_themes(tmp_path)
    listed.loc[listed["theme_id"] == WZ, "status"] = "verändert"  # a caller's copy
    assert list_themes(tmp_path).set_index("theme_id").loc[WZ, "status"] == "priorisiert"
