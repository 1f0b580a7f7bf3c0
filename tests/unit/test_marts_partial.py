"""Partitioned marts: when a few providers' staging rows change, the models marked
`-- partitioned: provider_id` are rebuilt for those providers only (issue 15, a re-delivery
redoes only its provider's work) — and every mart is exactly what a whole build gives."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from benchmarks.staging_fill import fill_staging
from data_contracts.schema import AUDIT_DDL
from kernel.settings import Settings
from kernel.warehouse import connect
from pipelines.defs.publish import PUBLISHED_SCHEMAS
from tests.marts_helpers import redeliver_first_provider
from transforms.runner import BUILD_STATE, INPUT_STATE, SHARED_STATE, build_marts, load_models

AS_OF = date(2026, 8, 20)
SETTINGS = Settings(workspace=Path("/nonexistent"))
PARTITIONED = {
    "intermediate.cases",
    "intermediate.closed_cases",
    "intermediate.barriers",
    "intermediate.contacts",
    "intermediate.goals",
    "intermediate.goals_cut",
    "intermediate.referrals",
    "intermediate.referrals_cut",
    "intermediate.relapses",
    "intermediate.staffing",
    "mart.caseload_by_caseworker",
    "mart.caseload",
    "mart.cases",
    "mart.goals",
    "mart.referrals",
    "mart.referral_waits",
    "mart.structural_closures",
    "mart.supply_gaps",
}
SHARED = {"intermediate.quarters", "mart.periods"}  # the calendar
BY_PERSON = {"mart.reentry"}  # re-entry crosses providers: rebuilt for the persons concerned


@pytest.fixture
def built(tmp_path) -> Path:
    """A warehouse of 1,200 synthetic cases of 4 providers, its marts built once."""
    db = tmp_path / "a.duckdb"
    con = connect(db)
    con.execute(AUDIT_DDL)
    fill_staging(con, 1200, providers=4, as_of=AS_OF)
    build_marts(con, SETTINGS, AS_OF)
    con.close()
    return db


def _providers(con) -> list[str]:
    return [
        r[0]
        for r in con.execute("SELECT DISTINCT provider_id FROM staging.cases ORDER BY 1").fetchall()
    ]


def _partial_and_whole(db: Path, change, settings=SETTINGS, as_of=AS_OF):
    """Apply `change` to staging, then build partially on `db` and whole on a copy; returns the
    partial build's runs and the differences (model, rows only in one, rows only in other)."""
    con = connect(db)
    change(con)
    con.close()
    whole_db = db.with_name("whole.duckdb")
    shutil.copy(db, whole_db)
    con = connect(db)
    runs = build_marts(con, settings, as_of)
    con.close()
    con = connect(whole_db)
    build_marts(con, settings, as_of, partial=False)
    con.execute(f"ATTACH '{db}' AS partial (READ_ONLY)")
    diffs = []
    for m in load_models():
        if m.materialized == "table":
            a, b = (
                con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})"
                ).fetchone()[0]
                for x, y in ((m.key, f"partial.{m.key}"), (f"partial.{m.key}", m.key))
            )
            if a or b:
                diffs.append((m.key, a, b))
    con.close()
    return {r.key: r for r in runs}, diffs


def test_the_declared_models_are_the_partitioned_ones():
    assert {m.key for m in load_models() if m.partitioned} == PARTITIONED
    assert {m.key for m in load_models() if m.shared} == SHARED
    assert {m.key for m in load_models() if m.by_person} == BY_PERSON


def test_a_redelivery_rebuilds_one_provider_and_every_mart_equals_a_whole_build(built):
    runs, diffs = _partial_and_whole(built, redeliver_first_provider)
    assert diffs == []
    assert {k for k, r in runs.items() if r.providers is not None} == PARTITIONED | BY_PERSON
    assert {r.providers for r in runs.values() if r.providers is not None} == {1}
    # the whole models are rebuilt whole, as before, and so is the calendar
    assert all(runs[k].providers is None for k in SHARED)
    con = connect(built)
    closed = con.execute(
        "SELECT count(*) FROM mart.cases WHERE closed_on = DATE '2026-08-01'"
    ).fetchone()[0]
    con.close()
    assert closed >= 5


def test_a_new_and_a_vanished_provider_are_both_rebuilt(built):
    def change(con):
        first, second = _providers(con)[:2]
        for table in ("cases", "goals", "referrals", "contacts", "barriers", "staffing"):
            con.execute(f"DELETE FROM staging.{table} WHERE provider_id = ?", [first])
            con.execute(
                f"INSERT INTO staging.{table} SELECT * REPLACE ('neu-' || provider_id AS"
                f" provider_id) FROM staging.{table} WHERE provider_id = ?",
                [second],
            )

    runs, diffs = _partial_and_whole(built, change)
    assert diffs == []
    assert runs["mart.cases"].providers == 2
    con = connect(built)
    providers = [
        r[0] for r in con.execute("SELECT DISTINCT provider_id FROM mart.cases").fetchall()
    ]
    con.close()
    assert len(providers) == 4 and any(p.startswith("neu-") for p in providers)


def test_nothing_changed_rebuilds_no_provider(built):
    runs, diffs = _partial_and_whole(built, lambda con: None)
    assert diffs == []
    assert runs["mart.cases"].providers == 0 and runs["mart.cases"].rows == 1200 - _not_yet(built)


def _not_yet(db: Path) -> int:
    con = connect(db)
    n = con.execute("SELECT count(*) FROM staging.cases WHERE opened_on > ?", [AS_OF]).fetchone()
    con.close()
    return n[0]


@pytest.mark.parametrize(
    "settings, as_of",
    [
        (SETTINGS, date(2026, 7, 31)),  # another cut-off: every case's figures can change
        (Settings(workspace=Path("/nonexistent"), review_due_days=30), AS_OF),
    ],
    ids=["as_of", "parameter"],
)
def test_another_cut_off_or_parameter_builds_whole(built, settings, as_of):
    runs, diffs = _partial_and_whole(built, redeliver_first_provider, settings, as_of)
    assert diffs == []
    assert all(r.providers is None for r in runs.values())


def test_many_changed_providers_build_whole(built):
    def change(con):
        for pid in _providers(con)[:3]:
            con.execute("DELETE FROM staging.goals WHERE provider_id = ?", [pid])

    runs, diffs = _partial_and_whole(built, change)
    assert diffs == []
    assert all(r.providers is None for r in runs.values())


def test_changed_sql_builds_whole(built, monkeypatch):
    """A model whose SQL changed (a new release of Lagebild) is never patched per provider."""
    models = load_models()
    changed = [
        m.__class__(**{**m.__dict__, "sql": m.sql + "\n-- geändert"})
        if m.key == "mart.goals"
        else m
        for m in models
    ]
    con = connect(built)
    redeliver_first_provider(con)
    runs = build_marts(con, SETTINGS, AS_OF, models=changed)
    con.close()
    assert all(r.providers is None for r in runs)


def test_a_partitioned_model_may_not_read_a_whole_model(tmp_path):
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "intermediate" / "totals.sql").write_text(
        "with final as (select provider_id, count(*) n from staging.cases group by all)\n"
        "select * from final"
    )
    (tmp_path / "marts" / "shares.sql").write_text(
        "-- partitioned: provider_id\n"
        "with final as (select provider_id, n / sum(n) over () share from intermediate.totals)\n"
        "select * from final"
    )
    with pytest.raises(ValueError, match="partitioned, but reads the whole model"):
        load_models(tmp_path)


def test_a_redelivery_that_moves_the_calendar_builds_its_readers_whole(built):
    """A re-delivered case opened a year before all others adds quarters: every model that
    reads the calendar, directly or through another, is built whole, the other partitioned
    models for the one provider — and every mart equals a whole build."""

    def earlier(con):
        first = _providers(con)[0]
        con.execute(
            "UPDATE staging.cases SET opened_on = (SELECT min(opened_on) - INTERVAL 400 DAY"
            " FROM staging.cases) WHERE case_id = (SELECT min(case_id) FROM staging.cases"
            " WHERE provider_id = ?) AND provider_id = ?",
            [first, first],
        )

    con = connect(built)
    quarters_before = con.execute("SELECT count(*) FROM intermediate.quarters").fetchone()[0]
    con.close()
    runs, diffs = _partial_and_whole(built, earlier)
    assert diffs == []
    con = connect(built)
    assert con.execute("SELECT count(*) FROM intermediate.quarters").fetchone()[0] > (
        quarters_before
    )
    con.close()
    assert runs["intermediate.cases"].providers == 1 and runs["mart.cases"].providers == 1
    for key in ("mart.caseload_by_caseworker", "mart.caseload", "mart.supply_gaps"):
        assert runs[key].providers is None, key
    assert runs["mart.goals"].providers == 1 and runs["mart.referrals"].providers == 1


def test_a_redelivery_within_the_calendar_rebuilds_its_readers_for_one_provider(built):
    """The calendar unchanged: the caseload and the quarter marts, which read it, are rebuilt
    for the re-delivering provider only; the state remembers the calendar's fingerprint."""
    runs, diffs = _partial_and_whole(built, redeliver_first_provider)
    assert diffs == []
    for key in ("mart.caseload_by_caseworker", "mart.caseload", "mart.referral_waits"):
        assert runs[key].providers == 1, key
    con = connect(built)
    kept = {r[0] for r in con.execute(f"SELECT model FROM {SHARED_STATE}").fetchall()}
    con.close()
    assert kept == SHARED


def test_a_shared_model_may_be_read_by_a_partitioned_one(tmp_path):
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "intermediate" / "calendar.sql").write_text(
        "-- partitioned: shared\nwith final as (select 1 as q)\nselect * from final"
    )
    (tmp_path / "marts" / "per_quarter.sql").write_text(
        "-- partitioned: provider_id\n"
        "with final as (select c.provider_id, q.q from staging.cases c"
        " cross join intermediate.calendar q)\nselect * from final"
    )
    models = {m.key: m for m in load_models(tmp_path)}
    assert models["intermediate.calendar"].shared
    assert models["mart.per_quarter"].partitioned


def test_the_build_state_is_never_published():
    """Row counts per provider and staging table are what the small-number rules protect."""
    for table in (BUILD_STATE, INPUT_STATE, SHARED_STATE):
        assert table.split(".")[0] not in PUBLISHED_SCHEMAS


def test_a_subset_without_a_partitioned_models_inputs_builds_whole(built):
    """A caller may build a chain of models (benchmarks/pandas_caseload.py): a partitioned
    model whose inputs are not built in the same call is built whole, not from missing deltas."""
    subset = [m for m in load_models() if m.key in ("intermediate.cases", "mart.goals")]
    con = connect(built)
    build_marts(con, SETTINGS, AS_OF, models=subset)
    redeliver_first_provider(con)
    runs = build_marts(con, SETTINGS, AS_OF, models=subset)
    con.close()
    assert [r.providers for r in runs] == [None, None]


def test_a_changed_staging_schema_builds_whole(built):
    """A row's hash ignores column names: two columns swapped by a migration keep every row's
    hash, so the staging columns are part of the build key (found by a review as an attack)."""

    def swap(con):
        con.execute("ALTER TABLE staging.cases RENAME COLUMN program TO tmp_x")
        con.execute("ALTER TABLE staging.cases RENAME COLUMN region_code TO program")
        con.execute("ALTER TABLE staging.cases RENAME COLUMN tmp_x TO region_code")

    runs, diffs = _partial_and_whole(built, swap)
    assert diffs == []
    assert all(r.providers is None for r in runs.values())


def test_no_staging_column_can_shadow_the_row_in_the_fingerprint():
    from data_contracts.contract import load_contract
    from transforms.runner import ROW

    names = {c for t in load_contract().tables.values() for c in t.column_names}
    assert " " in ROW and not any(" " in n for n in names | {"delivery_id"})


def _reentry_days(db: Path, provider: str, case_id: str):
    con = connect(db)
    row = con.execute(
        "SELECT reentry_days, reentry_via FROM mart.reentry WHERE provider_id = ? AND case_id = ?",
        [provider, case_id],
    ).fetchone()
    con.close()
    return row


def test_a_case_at_another_provider_rebuilds_the_persons_reentry_there(built):
    """Re-entry crosses providers: a re-delivery that adds a later case of a person changes the
    re-entry of that person's closed case at another provider, and one that takes the case
    away changes it back. `mart.reentry` is rebuilt for the persons of the changed provider's
    cases before and after (not for its own rows alone), equals a whole build both times, and
    is not among the tables the publication updates by provider."""
    from transforms.runner import last_build

    con = connect(built)
    # a closed case of one provider whose person has no other case at all
    provider, case_id, person, closed_on = con.execute(
        "SELECT provider_id, case_id, person_key, closed_on FROM intermediate.closed_cases"
        " WHERE person_key IN (SELECT person_key FROM intermediate.cases GROUP BY 1"
        " HAVING count(*) = 1) AND closed_on <= DATE '2026-06-01'"
        " ORDER BY provider_id, case_id LIMIT 1"
    ).fetchone()
    other = next(p for p in _providers(con) if p != provider)
    con.close()
    assert _reentry_days(built, provider, case_id) == (None, None)

    def later_case_elsewhere(con):
        con.execute(
            "INSERT INTO staging.cases SELECT * REPLACE ('NEU-1' AS case_id, ? AS person_key,"
            " ?::DATE + 30 AS opened_on, NULL AS closed_on, NULL AS close_reason,"
            " NULL AS previous_case_id) FROM staging.cases WHERE provider_id = ? LIMIT 1",
            [person, closed_on, other],
        )

    runs, diffs = _partial_and_whole(built, later_case_elsewhere)
    assert diffs == []
    assert runs["mart.reentry"].providers == 1 and runs["mart.cases"].providers == 1
    assert _reentry_days(built, provider, case_id) == (30, "personen_pseudonym")
    con = connect(built)
    build = last_build(con)
    con.close()
    assert build.rebuilt_providers == [other]
    assert "mart.reentry" not in build.rebuilt_tables and "mart.cases" in build.rebuilt_tables

    def taken_back(con):
        con.execute(
            "DELETE FROM staging.cases WHERE case_id = 'NEU-1' AND provider_id = ?", [other]
        )

    runs, diffs = _partial_and_whole(built, taken_back)
    assert diffs == []
    assert runs["mart.reentry"].providers == 1
    assert _reentry_days(built, provider, case_id) == (None, None)


def _write_models(folder, models: dict[str, str]) -> None:
    """Model files (`intermediate/…sql`, `marts/…sql`) for `load_models(folder)`."""
    for sub in ("intermediate", "marts"):
        (folder / sub).mkdir()
    for path, sql in models.items():
        (folder / path).write_text(sql, encoding="utf-8")


def test_a_model_partitioned_by_person_must_read_the_closed_cases(tmp_path):
    _write_models(
        tmp_path,
        {
            "marts/x.sql": "-- partitioned: person\nselect provider_id, case_id from intermediate.y",
            "intermediate/y.sql": "-- partitioned: provider_id\n"
            "select provider_id, case_id from staging.cases",
        },
    )
    with pytest.raises(ValueError, match="partitioned by person, but reads no"):
        load_models(tmp_path)


def test_a_redelivery_of_relapses_alone_rebuilds_the_reentry_of_its_cases(built):
    """Relapses are an input of re-entry like the cases: a provider that re-delivers only a
    corrected relapse file is a changed provider, and the relapse figures of its closed case
    follow (found by an attack review: the relapses were not fingerprinted at first)."""
    con = connect(built)
    provider, case_id, closed_on = con.execute(
        "SELECT provider_id, case_id, closed_on FROM intermediate.closed_cases"
        " WHERE closed_on < DATE '2026-01-01' AND subject_key NOT IN"
        " (SELECT subject_key FROM intermediate.relapses) ORDER BY provider_id, case_id LIMIT 1"
    ).fetchone()
    con.close()

    def relapse_only(con):
        con.execute(
            "INSERT INTO staging.relapses SELECT * REPLACE (? AS provider_id, ? AS case_id,"
            " ?::DATE + 40 AS event_on) FROM staging.relapses LIMIT 1",
            [provider, case_id, closed_on],
        )

    runs, diffs = _partial_and_whole(built, relapse_only)
    assert diffs == []
    assert runs["mart.reentry"].providers == 1
    con = connect(built)
    days = con.execute(
        "SELECT relapse_days, own_relapse_days FROM mart.reentry"
        " WHERE provider_id = ? AND case_id = ?",
        [provider, case_id],
    ).fetchone()
    con.close()
    assert days == (40, 40)


def test_a_model_partitioned_by_person_may_not_read_a_whole_model(tmp_path):
    _write_models(
        tmp_path,
        {
            "intermediate/closed_cases.sql": "-- partitioned: provider_id\n"
            "select provider_id, case_id from staging.cases",
            "intermediate/events.sql": "select provider_id, case_id from staging.relapses",
            "marts/x.sql": "-- partitioned: person\nselect * from intermediate.closed_cases"
            " join intermediate.events using (provider_id, case_id)",
        },
    )
    with pytest.raises(ValueError, match="partitioned by person, but reads the whole model"):
        load_models(tmp_path)


def test_the_build_says_whether_it_is_whole_or_for_which_providers_before_it_builds(tmp_path):
    """`on_plan` hears the plan first (the marts' step starts the grid's worker only before
    a whole build, pipelines.defs.marts): None for a whole build, the changed providers for a
    partial one."""
    db = tmp_path / "plan.duckdb"
    con = connect(db)
    con.execute(AUDIT_DDL)
    fill_staging(con, 300, providers=3, as_of=AS_OF)
    heard = []
    built = lambda: con.execute(  # noqa: E731
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'mart'"
    ).fetchone()[0]
    build_marts(con, SETTINGS, AS_OF, on_plan=lambda changed: heard.append((changed, built())))
    assert heard == [(None, 0)]  # the first build is whole, and nothing was built yet
    pid = redeliver_first_provider(con)
    before = built()
    build_marts(con, SETTINGS, AS_OF, on_plan=lambda changed: heard.append((changed, built())))
    con.close()
    assert heard[1] == ([pid], before)  # before the partial build replaced a row
