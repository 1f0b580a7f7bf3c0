"""A build reuses a family's suppressed cells while everything they depend on is the same
(publication.Memo, keyed by publication.source_key and publication.input_key), and only
then: the published grid is the one a build from scratch gives."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dashboards import read
from dashboards.disclosure import publication
from dashboards.disclosure.families import ALL, GROUPS, Context, families
from kernel.warehouse import connect

IGNORED = {"seconds", "reused", "queried"}


@pytest.fixture(scope="module")
def built_once(workspace, tmp_path_factory) -> tuple[Path, dict]:
    """The fixture's warehouse after one build that kept its cells (the memo), and that
    build: most tests begin there (one build for the module, not one per test)."""
    path = tmp_path_factory.mktemp("memo") / "lagebild.duckdb"
    src = read.Source.of(workspace)
    shutil.copy(src.ws.published_db_path, path)
    path.chmod(0o600)
    con = connect(path)
    try:
        return path, publication.build(con, src.settings, reuse=True)
    finally:
        con.close()


@pytest.fixture()
def kept_warehouse(built_once, workspace, tmp_path):
    """A writable copy of `built_once`'s warehouse, its memo in it, and the settings."""
    path = tmp_path / "lagebild.duckdb"
    shutil.copy(built_once[0], path)
    con = connect(path)
    yield con, read.Source.of(workspace).settings
    con.close()


def _same(built: dict, scratch: dict) -> None:
    assert list(built) == list(scratch)
    for name, (cells, summary) in built.items():
        other_cells, other_summary = scratch[name]
        pd.testing.assert_frame_equal(cells, other_cells, obj=name)
        assert {k: v for k, v in summary.items() if k not in IGNORED} == {
            k: v for k, v in other_summary.items() if k not in IGNORED
        }, name


def _reused(built: dict) -> set[str]:
    return {name for name, (_cells, summary) in built.items() if summary["reused"]}


def _queried(built: dict) -> set[str]:
    return {name for name, (_cells, summary) in built.items() if summary["queried"]}


def test_an_unchanged_grid_is_reused_whole_and_the_same(built_once, kept_warehouse, tmp_path):
    con, settings = kept_warehouse
    _, first = built_once  # nothing kept before it: from scratch
    assert _reused(first) == set()
    second = publication.build(con, settings, reuse=True)
    nonempty = {n for n, (cells, _s) in first.items() if len(cells)}
    assert _reused(second) == nonempty and nonempty == {f.name for f in families(settings)}
    assert _queried(second) == set(first) - nonempty  # nothing of a kept family is read
    _same(second, first)
    assert sum(int((c["status"] != "").sum()) for c, _s in second.values()) > 0
    # where a run was started from is not part of the key
    elsewhere = dataclasses.replace(settings, inbox=tmp_path / "anderer-posteingang")
    assert _reused(publication.build(con, elsewhere, reuse=True)) == nonempty


def test_a_changed_mart_rebuilds_the_families_it_feeds_only(kept_warehouse):
    con, settings = kept_warehouse
    # one provider's referrals change (a correction): referral families are rebuilt
    provider = con.execute("SELECT min(provider_id) FROM mart.referrals").fetchone()[0]
    con.execute(
        "DELETE FROM mart.referrals WHERE provider_id = ? AND referral_id IN"
        " (SELECT min(referral_id) FROM mart.referrals WHERE provider_id = ?)",
        [provider, provider],
    )
    built = publication.build(con, settings, reuse=True)
    rebuilt = set(built) - _reused(built)
    assert {"referrals", "started"} <= rebuilt
    assert {"cases", "goals", "reentry"} <= _reused(built)
    # the families that read other marts only are not even queried
    assert {"referrals", "started"} <= _queried(built)
    assert not {"cases", "goals", "gap_cases", "reentry"} & _queried(built)
    _same(built, publication.build(con, settings))


def test_a_changed_extra_with_the_same_counts_keeps_the_suppression_not_the_extras(kept_warehouse):
    con, settings = kept_warehouse
    # FTE days change (a staffing correction): the caseload counts stay, the ratios do not
    con.execute("UPDATE mart.caseload SET fte_days = fte_days + 1.5")
    built = publication.build(con, settings, reuse=True)
    assert "cases" in _reused(built) & _queried(built)
    scratch = publication.build(con, settings)
    _same(built, scratch)
    # and the next build takes them whole again, with the new extras
    again = publication.build(con, settings, reuse=True)
    assert "cases" not in _queried(again)
    _same(again, scratch)


def test_two_columns_that_swap_names_are_a_changed_source(kept_warehouse):
    """DuckDB's row hash sees values by position, not names or types (attack review): the
    source key covers the columns as well, or the swap would publish the old figures."""
    con, settings = kept_warehouse
    for a, b in (("case_days", "tmp_x"), ("fte_days", "case_days"), ("tmp_x", "fte_days")):
        con.execute(f"ALTER TABLE mart.caseload RENAME COLUMN {a} TO {b}")
    built = publication.build(con, settings, reuse=True)
    assert "cases" in _queried(built)
    _same(built, publication.build(con, settings))
    # a column retyped with the same values is a change too
    con.execute("ALTER TABLE mart.referrals ALTER COLUMN wait_days TYPE BIGINT")
    assert {"referrals", "started"} <= _queried(publication.build(con, settings, reuse=True))


def test_each_family_reads_its_declared_sources_only(warehouse):
    """A family's kept cells are taken unread while its `sources` are unchanged: a table it
    reads but does not declare would let its figures go stale. On a database holding its
    sources alone, each family gives the same leaves, known leaves and extras."""
    con, settings = warehouse
    for family in families(settings):
        con.execute("ATTACH ':memory:' AS only_sources")
        try:
            for table in family.sources:
                schema = table.split(".")[0]
                con.execute(f"CREATE SCHEMA IF NOT EXISTS only_sources.{schema}")
                con.execute(f"CREATE TABLE only_sources.{table} AS SELECT * FROM {table}")
            cursor = con.cursor()
            cursor.execute("USE only_sources")
            whole, alone = Context(con, settings), Context(cursor, settings)
            parts = [f for f in (family.leaves, family.known, family.extras) if f is not None]
            for part in parts:
                expected, got = part(whole), part(alone)
                keys = list(expected.columns)
                assert got.sort_values(keys, ignore_index=True).equals(
                    expected.sort_values(keys, ignore_index=True)
                ), family.name
            cursor.close()
        finally:
            con.execute("USE lagebild")
            con.execute("DETACH only_sources")


def test_the_memos_code_key_covers_the_transforms_that_compute_the_leaves(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        publication, "code_digest", lambda salt, files, dists: seen.setdefault("f", list(files))
    )
    publication._code_digest()
    names = {(p.parent.name, p.name) for p in seen["f"]}
    assert {("transforms", "gaps.py"), ("transforms", "caseload.py")} <= names
    assert ("disclosure", "linked.py") in names


def test_other_settings_or_a_lost_memo_build_anew(kept_warehouse):
    con, settings = kept_warehouse
    stricter = dataclasses.replace(settings, suppression_k=settings.suppression_k + 2)
    assert _reused(publication.build(con, stricter, reuse=True)) == set()
    # a memo row whose cells are gone is no reuse either: the entry goes with its cells
    con.execute(f"DELETE FROM {publication.MEMO} WHERE family = 'cases'")
    built = publication.build(con, stricter, reuse=True)
    assert "cases" not in _reused(built) and "goals" in _reused(built)


def test_a_broken_or_outdated_memo_is_built_anew_never_a_crash(kept_warehouse, monkeypatch):
    con, settings = kept_warehouse
    # cells gone under a kept key (e.g. dropped by hand): rebuilt and kept again
    con.execute(f"DROP TABLE {publication.MEMO}_goals")
    built = publication.build(con, settings, reuse=True)
    assert "goals" not in _reused(built) and "cases" in _reused(built)
    assert "goals" in _reused(publication.build(con, settings, reuse=True))
    # a family no longer built is forgotten with its cells
    con.execute(f"CREATE TABLE {publication.MEMO}_alt AS SELECT 1 AS value")
    con.execute(f"INSERT INTO {publication.MEMO} VALUES ('alt', 'k', NULL, '{{}}')")
    publication.build(con, stricter := dataclasses.replace(settings, suppression_k=4), reuse=True)
    families = {f for (f,) in con.execute(f"SELECT family FROM {publication.MEMO}").fetchall()}
    assert "alt" not in families and "goals" in families
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert f"{publication.MEMO.split('.')[1]}_alt" not in tables
    # code changed on disk during the run: nothing of it is kept
    monkeypatch.setattr(publication, "_code_digest", lambda: "anderer Code")
    publication.build(con, settings, reuse=True)
    monkeypatch.undo()
    assert _reused(publication.build(con, stricter, reuse=True)) >= {"cases", "goals"}
    # the tables of a memo of another version go with the next save
    con.execute("CREATE TABLE intermediate.grid_memo_v2 AS SELECT 'cases' AS family")
    con.execute("CREATE TABLE intermediate.grid_memo_v2_cases AS SELECT 1 AS value")
    publication.build(con, dataclasses.replace(settings, suppression_k=5), reuse=True)
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not {"grid_memo_v2", "grid_memo_v2_cases"} & tables
    assert f"{publication.MEMO.split('.')[1]}_goals" in tables


def test_a_read_only_warehouse_builds_without_keeping(workspace, caplog):
    src = read.Source.of(workspace)
    with src.read() as con:
        built = publication.build(con, src.settings, reuse=True)
    assert _reused(built) == set() and set(built) == {f.name for f in families(src.settings)}
    assert "Sperrmuster nicht gemerkt" in caplog.text


def test_each_familys_extras_cover_every_grouping_it_is_published_by(warehouse):
    """Extras are queried for the groupings a family is published by only (the wait quantiles
    of `started`: per programme): a grouping added to its publications needs them too, or its
    cells would be published without their median and 90th percentile."""
    con, settings = warehouse
    for family in families(settings):
        if family.extras is None:
            continue
        extras = family.extras(Context(con, settings))
        published = {g for pub in family.publications for g in pub if g in GROUPS}
        for group in published:
            assert (extras[group] != ALL).any(), (family.name, group)
        built, _summary = publication.build_family(Context(con, settings), family)
        columns = list(family.extra_columns)
        assert built[columns].notna().any(axis=None), family.name
