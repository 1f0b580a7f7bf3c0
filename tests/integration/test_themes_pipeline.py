"""The themes asset in Dagster, its checks, the register across re-runs and warehouse
rebuilds, and the `lagebild themes` command line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from data_contracts.schema import AUDIT_DDL, META_DDL, staging_ddl
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.cli import main
from pipelines.defs import themes as th
from pipelines.resources import LagebildResource
from tests import themes_data as td
from transforms.themes.read import list_themes
from transforms.themes.store import theme_history

WZ = "T-wartezeit-gesundheit_psychisch"
ASSETS = [th.mart_themes, th.theme_checks]


def _fill_warehouse(ws: Path, drop_wz_cases: bool = False) -> None:
    """A fresh warehouse with the hand-made staging rows (as ingest would write it)."""
    ws.mkdir(parents=True, exist_ok=True)
    Workspace(ws).db_path.unlink(missing_ok=True)
    con = connect(Workspace(ws).db_path)
    try:
        con.execute(staging_ddl())
        con.execute(AUDIT_DDL)
        con.execute(META_DDL)
        td.build_all(con)
        if drop_wz_cases:
            con.execute("DELETE FROM staging.barriers WHERE case_id LIKE 'C-wz-%'")
    finally:
        con.close()


def _materialize(ws: Path) -> dg.ExecuteInProcessResult:
    res = dg.materialize(ASSETS, resources={"lagebild": LagebildResource(workspace=str(ws))})
    assert res.success
    checks = {e.check_name: e.passed for e in res.get_asset_check_evaluations()}
    assert checks == {
        "grain_unique": True,
        "register_complete": True,
        "thresholds_consistent": True,
        "exemplary_cases_known": True,
        "no_free_text": True,
    }
    return res


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_register_survives_reruns_and_warehouse_rebuilds(tmp_path, capsys):
    ws = tmp_path / "ws"
    _fill_warehouse(ws)
    _materialize(ws)
    first = list_themes(ws)
    assert WZ in set(first["theme_id"])
    text_ids = sorted(t for t in first["theme_id"] if t.startswith("T-text-"))
    assert len(text_ids) == 3

    code, out, _ = _cli(
        capsys,
        "themes",
        "set",
        WZ,
        "--status",
        "projektgruppe",
        "--owner",
        "Projektgruppe Gesundheit",
        "--note",
        "Komplexes Thema, an die Projektgruppe übergeben",
        "--workspace",
        str(ws),
    )
    assert code == 0
    assert "neu → an Projektgruppe übergeben" in out and "Projektgruppe Gesundheit" in out
    code, _, _ = _cli(
        capsys, "themes", "set", text_ids[0], "--status", "themenspeicher", "--workspace", str(ws)
    )
    assert code == 0

    # re-run on the same warehouse
    _materialize(ws)
    # re-delivery: the warehouse is rebuilt from scratch, the register file stays
    _fill_warehouse(ws)
    _materialize(ws)
    again = list_themes(ws).set_index("theme_id")
    assert sorted(t for t in again.index if t.startswith("T-text-")) == text_ids
    assert again.loc[WZ, "status"] == "projektgruppe"
    assert again.loc[WZ, "owner"] == "Projektgruppe Gesundheit"
    assert again.loc[text_ids[0], "status"] == "themenspeicher"
    hist = theme_history(ws, WZ)
    assert hist["note"].tolist()[-1] == "Komplexes Thema, an die Projektgruppe übergeben"

    # a re-delivery in which the theme no longer reaches the thresholds: inactive, kept
    _fill_warehouse(ws, drop_wz_cases=True)
    _materialize(ws)
    code, out, _ = _cli(capsys, "themes", "list", "--workspace", str(ws))
    assert code == 0 and WZ not in out and "inaktive im Themenspeicher" in out
    code, out, _ = _cli(capsys, "themes", "list", "--all", "--workspace", str(ws))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(WZ))
    assert "(inaktiv)" in line and "Projektgruppe Gesundheit" in line


@pytest.mark.slow
def test_themes_cli_list_and_errors(tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    code, out, _ = _cli(capsys, "themes", "list", "--workspace", str(ws))
    assert code == 0 and "Noch keine generativen Themen" in out

    _fill_warehouse(ws)
    _materialize(ws)
    code, out, _ = _cli(capsys, "themes", "list", "--workspace", str(ws))
    assert code == 0
    header = next(x for x in out.splitlines() if x.startswith("ID"))
    for col in ("Art", "Bezeichnung", "Fälle", "Träger", "Regionen", "Trend", "Status", "Gremium"):
        assert col in header
    assert "Wartezeit – Psychische Gesundheit" in out
    assert "Zeitfenster 01.10.2025 bis 30.09.2026" in out
    assert "T-kosten-wohnen" not in out  # local to one provider

    code, _, err = _cli(
        capsys,
        "themes",
        "set",
        "T-gibt-es-nicht",
        "--status",
        "priorisiert",
        "--workspace",
        str(ws),
    )
    assert code == 2 and "Unbekanntes Thema 'T-gibt-es-nicht'" in err

    code, _, err = _cli(capsys, "themes", "list", "--workspace", str(tmp_path / "fehlt"))
    assert code == 2 and "gibt es nicht" in err
