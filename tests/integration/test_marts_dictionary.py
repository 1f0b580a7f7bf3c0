"""The mart dictionary cannot drift: built columns and types = data_contracts/marts.yaml, and
docs/data-dictionary.md = what the generator makes of it."""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.staging_fill import fill_staging
from kernel.settings import Settings
from kernel.warehouse import connect
from transforms.dictionary import DOC_FILE, column_types, load_mart_dictionary, render_markdown
from transforms.runner import build_marts, load_models
from transforms.themes.build import build_themes

THEME_MARTS = ["themes", "theme_cases"]
MART_TABLES = [m.name for m in load_models() if m.schema == "mart"] + THEME_MARTS


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    con = connect()
    fill_staging(con, 2000, providers=3, as_of=date(2026, 8, 20))
    settings = Settings(workspace=tmp_path_factory.mktemp("ws"), theme_min_providers=1)
    build_marts(con, settings, date(2026, 8, 20))
    build_themes(con, settings)
    yield con
    con.close()


def test_every_table_of_schema_mart_is_in_the_dictionary(built):
    built_tables = {
        r[0]
        for r in built.execute(
            "select table_name from duckdb_tables() where schema_name = 'mart'"
            " union select view_name from duckdb_views() where schema_name = 'mart'"
        ).fetchall()
    }
    assert built_tables == set(MART_TABLES) == set(load_mart_dictionary()["tables"])


@pytest.mark.parametrize("table", MART_TABLES)
def test_built_columns_equal_the_dictionary(built, table):
    actual = built.execute(
        "select column_name, data_type from duckdb_columns()"
        " where schema_name = 'mart' and table_name = ? order by column_index",
        [table],
    ).fetchall()
    assert actual == column_types(table)
    assert built.execute(f"select count(*) from mart.{table}").fetchall()[0][0] > 0


def test_every_mart_model_is_documented_with_key_and_grain():
    tables = load_mart_dictionary()["tables"]
    for name in MART_TABLES:
        assert name in tables, name
        spec = tables[name]
        assert spec["grain"] and spec["label"] and spec["key"]
        assert set(spec["key"]) <= set(spec["columns"])
        for column, c in spec["columns"].items():
            assert c["label"].strip() and len(c["definition"]) > 8, (name, column)


def test_required_columns_of_the_product_spec_are_present():
    required = {
        "cases": "provider_id case_id person_key program region_code intensity opened_on"
        " closed_on close_reason goals goals_without_offer referrals referrals_failed"
        " max_wait_days barrier_codes last_contact_on has_assessment has_plan has_review"
        " has_evaluation",
        "caseload": "period period_start period_end partial provider_id program region_code"
        " scope days case_days fte_days active_cases_end fte_end cases_in_period",
        "supply_gaps": "period provider_id program region_code domain goals_set"
        " goals_without_offer cases_with_gap",
        "referral_waits": "period provider_id program region_code service_type referrals"
        " no_offer rejected started wait_days_median wait_days_p90 waiting_at_end",
        "reentry": "provider_id case_id program region_code intensity close_reason risk_level"
        " closed_on followup_days reentry_days relapse_days relapses_during",
        "themes": "theme_id kind label barrier_code domain terms cases providers regions"
        " first_seen last_seen trend exemplary_cases status",
    }
    required["caseload_by_caseworker"] = required["caseload"] + " caseworker_id"
    for table, cols in required.items():
        assert set(cols.split()) <= {c for c, _ in column_types(table)}, table


def test_data_dictionary_document_is_current():
    assert DOC_FILE.read_text(encoding="utf-8") == render_markdown(), (
        "docs/data-dictionary.md is out of date: run python -m transforms.dictionary"
    )
