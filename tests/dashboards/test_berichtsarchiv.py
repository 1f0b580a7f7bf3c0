"""Berichtsarchiv (issue 14): each role sees the releases meant for it, koordination sees what a
release rests on, two releases of a report are compared cell by cell, a changed file shows."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from dashboards import read
from dashboards.reports import release
from kernel import access_log
from tests.dashboards.apptest import logged_in, texts

CELLS = "table,row,column,value,suppression\n"


def _release(ws, release_id, kind, created_at, cells, deliveries):
    folder = ws / "releases" / release_id
    folder.mkdir(parents=True)
    files = {
        "bericht.pdf": b"%PDF-1.7 Bericht",
        "bericht.html": b"<html lang='de'></html>",
        "bericht.xlsx": b"PK xlsx",
        "zellen.csv": (CELLS + cells).encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {
        "release_id": release_id,
        "kind": kind,
        "period": "2026-Q3",
        "as_of": "2026-09-30",
        "created_at": created_at,
        "created_by": "koordinatorin",
        "note": None,
        "suppression_k": 5,
        "settings": {"reentry_windows": [90, 365]},
        "contract": {"version": 1, "sha256": "c"},
        "metrics": {"version": 1, "sha256": "m"},
        "code": {"package": "0.1.0"},
        "deliveries": deliveries,
        "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    entry = {k: manifest[k] for k in ("release_id", "kind", "period", "as_of", "created_at")}
    with open(ws / "releases" / "register.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**entry, "created_by": "koordinatorin", "note": None}) + "\n")


def _delivery(provider, delivery_id):
    return {
        "delivery_id": delivery_id,
        "provider_id": provider,
        "source_name": f"{provider}.zip",
        "received_at": "2026-10-01",
        "status": "geladen",
        "sha256": delivery_id * 8,
        "current_tables": ["cases"],
    }


A = "lenkungsgruppe-2026-Q3-20261001-080000"
B = "lenkungsgruppe-2026-Q3-20261101-080000"
F = "foerderer-2026-Q3-20261001-090000"
E = "evaluation-2026-Q3-20261001-100000"


@pytest.fixture(scope="module")
def archive(workspace, tmp_path_factory):
    """A copy of the dashboard workspace with four hand-made releases."""
    workspace = shutil.copytree(workspace, tmp_path_factory.mktemp("archive") / "ws")
    same = '"Fallzahlen","Programm=KIM","Fälle","120",""\n'
    _release(
        workspace,
        A,
        "lenkungsgruppe",
        "2026-10-01T08:00:00+00:00",
        same + '"Fallzahlen","Programm=JMD","Fälle","<5","primary"\n',
        [_delivery("p01", "d1"), _delivery("p02", "d2")],
    )
    _release(
        workspace,
        B,
        "lenkungsgruppe",
        "2026-11-01T08:00:00+00:00",
        same + '"Fallzahlen","Programm=JMD","Fälle","7",""\n',
        [_delivery("p01", "d1"), _delivery("p02", "d3"), _delivery("p03", "d4")],
    )
    _release(workspace, F, "foerderer", "2026-10-01T09:00:00+00:00", same, [])
    _release(workspace, E, "evaluation", "2026-10-01T10:00:00+00:00", same, [])
    return workspace


def _open(ws, monkeypatch, role, provider=None):
    at = logged_in(ws, monkeypatch, role, provider)
    at.run()
    at.switch_page("views/berichtsarchiv.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("koordination", {A, B, F, E}),
        ("evaluation", {A, B, F, E}),
        ("foerderer", {F}),
        ("traeger", {A, B}),
    ],
)
def test_each_role_sees_the_releases_meant_for_it(archive, role, visible):
    assert set(release.releases_for(archive, role)["release_id"]) == visible


def test_two_releases_are_compared_cell_by_cell_with_the_reason(archive, monkeypatch):
    at = _open(archive, monkeypatch, "koordination")
    register = at.dataframe[0].value
    assert set(register["Veröffentlichung"]) == {A, B, F, E} and "von" in register.columns
    assert "Worauf die Veröffentlichung beruht" in str(at.expander)
    at.selectbox(key="release_chosen").set_value(B).run()
    at.selectbox(key="release_other").set_value(A).run()
    changes = next(d.value for d in at.dataframe if "vorher" in d.value.columns)
    assert changes.to_dict("records") == [
        {
            "Tabelle": "Fallzahlen",
            "Zeile": "Programm=JMD",
            "Spalte": "Fälle",
            "vorher": "<5",
            "nachher": "7",
        }
    ]
    shown = texts(at).replace("\\", "")  # Markdown escapes (md_text) removed
    assert "neue Träger: p03" in shown
    assert "neue oder korrigierte Lieferungen von: p02" in shown
    assert "Alle Dateien unverändert" in shown


def test_a_provider_sees_the_change_but_not_what_it_rests_on(archive, monkeypatch):
    at = _open(archive, monkeypatch, "traeger", "p04")
    register = at.dataframe[0].value
    assert set(register["Veröffentlichung"]) == {A, B} and "von" not in register.columns
    at.selectbox(key="release_chosen").set_value(B).run()
    assert "Worauf die Veröffentlichung beruht" not in str(at.expander)
    shown = texts(at).replace("\\", "")  # Markdown escapes (md_text) removed
    assert "1 Zellen" in shown
    assert "neue Träger" not in shown and "p03" not in shown


def test_a_changed_release_file_is_shown_as_such(archive, monkeypatch, tmp_path):
    folder = archive / "releases" / E
    original = (folder / "bericht.html").read_bytes()
    (folder / "bericht.html").write_bytes(original + b"<!-- x -->")
    try:
        at = _open(archive, monkeypatch, "evaluation")
        at.selectbox(key="release_chosen").set_value(E).run()
        assert any("bericht.html wurde verändert" in e.value for e in at.error)
    finally:
        (folder / "bericht.html").write_bytes(original)


def test_only_report_files_leave_a_release(archive):
    assert release.release_file(archive, F, "bericht.pdf").startswith(b"%PDF")
    for name in ("manifest.json", "../../users.yaml", "themenspeicher.duckdb"):
        with pytest.raises(release.ReportError):
            release.release_file(archive, F, name)
    for bad in ("../../published", "..", f"{F}/../{E}", "lenkungsgruppe-2026-Q3"):
        with pytest.raises(release.ReportError):
            release.release_file(archive, bad, "bericht.pdf")
        with pytest.raises(release.ReportError):
            release.lineage_snapshot(archive, bad)


def test_a_release_is_traced_in_its_own_snapshot(archive, monkeypatch):
    """With `verify --keep`'s snapshot, koordination opens a release's cells down to the
    cases of that snapshot (here: the fixture copy), on record with the release id; without
    one, it is told how to make it."""
    snapshot = release.lineage_snapshot(archive, B) / "published"
    snapshot.mkdir(parents=True)
    shutil.copy2(archive / "published" / "lagebild.duckdb", snapshot / "lagebild.duckdb")
    at = _open(archive, monkeypatch, "koordination")
    at.selectbox(key="release_chosen").set_value(A).run()
    assert f"lagebild verify {A} --keep" in texts(at)
    at.selectbox(key="release_chosen").set_value(B).run()
    at.toggle(key="lineage_cases").set_value(True).run()
    assert not at.exception, at.exception
    src = read.Source.of(snapshot.parent)
    expected = read.cases(src, src.viewer("koordination"), read.Filters("2026-Q3", "2026-Q3"))
    assert int(at.metric[0].value) == len(expected) > 0
    entries = access_log.read(archive)
    assert any(e["event"] == "drilldown" and B in e["object"] for e in entries)
    # caseload per FTE of the release: its first provider's case days from the snapshot
    at.toggle(key="lineage_caseload").set_value(True).run()
    assert not at.exception, at.exception
    provider = at.selectbox(key="lineage_caseload_provider").value
    cell = read.caseload(
        src, src.viewer("koordination"), read.Filters("2026-Q3", "2026-Q3", providers=(provider,))
    ).table.iloc[0]
    shown = {m.label: m.value for m in at.metric}
    assert int(shown["Falltage"].replace(".", "")) == int(cell["case_days"]) > 0
    assert int(shown["Fälle im Zeitraum"].replace(".", "")) == int(cell["cases_in_period"])
    entries = access_log.read(archive)
    assert any(
        e["event"] == "drilldown"
        and e["object"] == f"Herkunft Fälle je VZÄ ({provider}, Veröffentlichung {B})"
        for e in entries
    )
