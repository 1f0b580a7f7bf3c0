"""The Dagster code location `dagster dev` loads: assets, checks, sensor, job, executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs():
    from pipelines.definitions import defs

    return defs


def test_every_stage_is_an_asset_in_data_flow_order(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "landing",
        "staging",
        "mart/cases",
        "mart/caseload",
        "mart/caseload_by_caseworker",
        "mart/supply_gaps",
        "mart/referral_waits",
        "mart/reentry",
        "mart/themes",
        "published_warehouse",
        "reports",
    } <= keys
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("reports")).parent_keys}
    assert upstream == {"published_warehouse"}
    assert dg.AssetKey("landing") in graph.get(dg.AssetKey("staging")).parent_keys
    assert dg.AssetKey("staging") in graph.get(dg.AssetKey(["mart", "cases"])).parent_keys


def test_contract_suites_are_blocking_checks_on_staging(defs):
    graph = defs.resolve_asset_graph()
    checks = {
        key.name: graph.get_check_spec(key)
        for key in graph.asset_check_keys
        if key.asset_key == dg.AssetKey("staging")
    }
    for table in ("cases", "goals", "referrals", "contacts", "barriers", "staffing", "relapses"):
        assert checks[f"contract_{table}"].blocking
    assert checks["reconciliation"].blocking and checks["no_identifiers"].blocking


def test_inbox_sensor_job_and_in_process_executor(defs):
    assert defs.get_sensor_def("inbox_sensor")
    assert defs.resolve_job_def("lagebild").executor_def.name == "in_process"


def test_dagster_validates_the_code_location(tmp_path):
    env = {
        "LAGEBILD_WORKSPACE": str(tmp_path),
        "LAGEBILD_INBOX": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),
    }
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "pipelines.definitions",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "passed validation" in res.stdout + res.stderr
