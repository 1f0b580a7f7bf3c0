"""The SQL model runner: discovery, dependency order, parameters, atomic builds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kernel.settings import Settings
from tests.marts_helpers import build, case, insert, one, rows
from transforms.runner import build_marts, load_models

SETTINGS = Settings(workspace=Path("/nonexistent"))


def test_models_run_after_their_dependencies():
    models = load_models()
    position = {m.key: i for i, m in enumerate(models)}
    assert {m.schema for m in models} == {"intermediate", "mart"}
    for m in models:
        for dep in m.deps:
            assert position[dep] < position[m.key], (m.key, dep)
    # the marts read staging only through the intermediate layer
    assert all(not m.sources for m in models if m.schema == "mart")
    assert "mart.caseload_by_caseworker" in load_models()[position["mart.caseload"]].deps


def test_sql_files_are_lowercase_cte_chains():
    for m in load_models():
        body = "\n".join(
            line for line in m.sql.splitlines() if not line.strip().startswith("--")
        ).strip()
        assert body.startswith("with"), m.path.name
        assert "final as (" in body, m.path.name
        assert "SELECT " not in body and "FROM " not in body, m.path.name


def test_empty_staging_builds_empty_marts(staging_con):
    build(staging_con, date(2024, 5, 15))
    for table in ("periods", "cases", "caseload", "supply_gaps", "reentry"):
        assert one(staging_con, f"select count(*) n from mart.{table}")["n"] == 0


def test_as_of_from_the_data_basis(staging_con):
    insert(staging_con, "cases", [case("P1", "A", "2024-01-01")])
    staging_con.execute("insert into meta.data_basis (as_of) values (date '2024-02-10')")
    build_marts(staging_con, SETTINGS)
    assert rows(staging_con, "select period, days, partial from mart.periods") == [
        {"period": "2024-Q1", "days": 41, "partial": True}
    ]


def test_as_of_on_the_last_day_of_a_quarter_is_not_partial(staging_con):
    insert(staging_con, "cases", [case("P1", "A", "2024-01-01")])
    build(staging_con, date(2024, 3, 31))
    assert rows(staging_con, "select period, days, partial from mart.periods") == [
        {"period": "2024-Q1", "days": 91, "partial": False}
    ]


def test_failed_build_leaves_previous_marts(staging_con, tmp_path):
    insert(staging_con, "cases", [case("P1", "A", "2024-01-01")])
    build(staging_con, date(2024, 5, 15))
    broken = tmp_path / "transforms"
    (broken / "intermediate").mkdir(parents=True)
    (broken / "marts").mkdir()
    (broken / "marts" / "cases.sql").write_text("with final as (select 1 as x) select nonsense")
    with pytest.raises(Exception):  # noqa: B017 - any DuckDB error
        build_marts(staging_con, SETTINGS, date(2024, 6, 1), models=load_models(broken))
    assert one(staging_con, "select count(*) n from mart.cases")["n"] == 1
    assert one(staging_con, "select as_of from intermediate.params")["as_of"] == date(2024, 5, 15)


def test_unknown_dependency_is_reported(tmp_path):
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "a.sql").write_text("with final as (select * from mart.missing) select 1")
    with pytest.raises(ValueError, match="unknown model"):
        load_models(tmp_path)


def test_cycle_is_reported(tmp_path):
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "a.sql").write_text("select * from mart.b")
    (tmp_path / "marts" / "b.sql").write_text("select * from mart.a")
    with pytest.raises(ValueError, match="cycle"):
        load_models(tmp_path)


def test_rebuild_is_idempotent(staging_con):
    insert(staging_con, "cases", [case("P1", "A", "2024-01-01", "2024-02-01")])
    build(staging_con, date(2024, 5, 15))
    first = staging_con.execute("select * from mart.caseload order by all").fetchall()
    build(staging_con, date(2024, 5, 15))
    assert staging_con.execute("select * from mart.caseload order by all").fetchall() == first


def test_public_functions_leave_the_connection_usable(staging_con):
    """DuckDB 2.0 refuses con.sql() while an execute() result is unfinished (fetchone)."""
    from transforms.caseload import rollup
    from transforms.checks import run_checks
    from transforms.gaps import referral_waits, structural_closures, supply_gaps
    from transforms.reentry import reentry_rates

    insert(staging_con, "cases", [case("P1", "A", "2024-01-01", "2024-02-01")])
    build(staging_con, date(2024, 5, 15))
    steps = [
        lambda: build_marts(staging_con, SETTINGS, date(2024, 5, 15)),
        lambda: run_checks(staging_con),
        lambda: rollup(staging_con),
        lambda: supply_gaps(staging_con),
        lambda: referral_waits(staging_con),
        lambda: structural_closures(staging_con),
        lambda: reentry_rates(staging_con.sql("select * from mart.reentry")),
    ]
    for step in steps:
        step()
        assert staging_con.sql("select 1 as x").fetchall() == [(1,)]


def test_a_model_that_becomes_a_view_replaces_its_table(staging_con, tmp_path):
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "marts").mkdir()
    model = tmp_path / "marts" / "counts.sql"
    model.write_text("with final as (select count(*) as n from staging.cases)\nselect * from final")
    build_marts(staging_con, SETTINGS, date(2024, 5, 15), models=load_models(tmp_path))
    model.write_text("-- materialized: view\n" + model.read_text())
    build_marts(staging_con, SETTINGS, date(2024, 5, 15), models=load_models(tmp_path))
    kinds = staging_con.execute(
        "SELECT 'view' FROM duckdb_views() WHERE schema_name = 'mart' AND view_name = 'counts'"
        " UNION ALL SELECT 'table' FROM duckdb_tables() WHERE schema_name = 'mart'"
        " AND table_name = 'counts'"
    ).fetchall()
    assert kinds == [("view",)]
