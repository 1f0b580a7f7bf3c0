"""The marts as Dagster assets: keys, lineage, checks, and a materialisation into a workspace."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from benchmarks.staging_fill import fill_staging
from data_contracts.schema import AUDIT_DDL, META_DDL
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.defs import marts as datasets
from pipelines.resources import LagebildResource

MARTS = {
    "periods",
    "cases",
    "caseload",
    "caseload_by_caseworker",
    "goals",
    "supply_gaps",
    "referrals",
    "referral_waits",
    "structural_closures",
    "reentry",
    "scorecard",
}


def _warehouse(ws: Path, cases: int = 3000) -> None:
    """A workspace warehouse with synthetic staging and its data basis, as the ingest leaves it."""
    ws.mkdir(parents=True, exist_ok=True)
    con = connect(Workspace(ws).db_path)
    try:
        con.execute(AUDIT_DDL)
        con.execute(META_DDL)
        fill_staging(con, cases, providers=4, as_of=date(2026, 8, 20))
    finally:
        con.close()


def test_asset_keys_groups_and_lineage():
    spec_keys = {k.path[1] for k in datasets.marts.keys}
    assert spec_keys == MARTS
    assert all(k.path[0] == "mart" for k in datasets.marts.keys)
    assert set(datasets.marts.group_names_by_key.values()) == {"marts"}
    deps = datasets.marts.asset_deps
    assert dg.AssetKey("staging") in deps[dg.AssetKey(["mart", "cases"])]
    assert (
        dg.AssetKey(["mart", "caseload_by_caseworker"]) in deps[dg.AssetKey(["mart", "caseload"])]
    )
    assert dg.AssetKey(["mart", "goals"]) in deps[dg.AssetKey(["mart", "supply_gaps"])]
    # every mart has at least a grain check
    checked = {c.asset_key.path[1] for c in datasets.mart_checks.check_specs}
    assert checked == MARTS


def test_definitions_load():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {f"mart/{m}" for m in MARTS} <= keys


@pytest.mark.slow
def test_materialize_builds_all_marts_and_checks_pass(tmp_path):
    ws = tmp_path / "ws"
    _warehouse(ws)
    result = dg.materialize(
        [datasets.marts, datasets.mart_checks],
        resources={"lagebild": LagebildResource(workspace=str(ws))},
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(datasets.mart_checks.check_specs)
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert failed == []
    materialized = {e.asset_key.path[1] for e in result.get_asset_materialization_events()}
    assert materialized == MARTS
    con = connect(Workspace(ws).db_path, read_only=True)
    try:
        for mart in MARTS:
            assert con.execute(f"select count(*) from mart.{mart}").fetchall()[0][0] > 0, mart
    finally:
        con.close()


@pytest.mark.slow
def test_a_failing_check_is_reported(tmp_path):
    ws = tmp_path / "ws"
    _warehouse(ws, cases=500)
    resource = LagebildResource(workspace=str(ws))
    assert dg.materialize([datasets.marts], resources={"lagebild": resource}).success
    con = connect(Workspace(ws).db_path)
    con.execute("insert into mart.reentry select * from mart.reentry limit 1")
    con.close()
    result = dg.materialize(
        [datasets.marts, datasets.mart_checks],
        resources={"lagebild": resource},
        selection=dg.AssetSelection.all_asset_checks(),
        raise_on_error=False,
    )
    assert result.get_asset_materialization_events() == []  # only the checks ran
    failed = {
        e.check_name
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["mart", "reentry"] and not e.passed
    }
    assert failed == {"grain_unique", "consistent"}
