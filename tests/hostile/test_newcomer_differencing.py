"""A funder keeps what the dashboard showed (a download, a release) and reads it again after a
new provider joined the network: every cell shown both times, minus its earlier value, is the
newcomer's part of it. None of these differences may be a small count (1 … k−1). Real runs
of the pipeline, the grid as published both times."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dashboards.disclosure import publication
from generator import generate_inbox
from kernel import publications
from kernel.settings import load_settings
from pipelines.runner import run_pipeline

K = 3
NEWCOMER = "pcve-nrw-west"


def _grids(path: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            n
            for (n,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'grid'"
                " AND table_name <> 'audit'"
            ).fetchall()
        ]
        return {n: con.execute(f"SELECT * FROM grid.{n}").df() for n in names}
    finally:
        con.close()


def _small_differences(before: dict, after: dict) -> list[str]:
    found = []
    for name, new in after.items():
        old = before[name]
        dims = [
            c
            for c in new.columns
            if c not in ("value", "status", "level") and not pd.api.types.is_numeric_dtype(new[c])
        ]
        both = new.merge(old, on=dims, suffixes=("", "_before"))
        both = both[(both["status"] == "") & (both["status_before"] == "")]
        if name == "themes":
            # text topics are fitted anew on all notes: the newcomer's notes move cases of the
            # others between topics, so a difference there is no part of the newcomer's
            both = both[~both["theme_id"].str.startswith("T-text-")]
        diff = both["value"] - both["value_before"]
        small = both[(diff.abs() >= 1) & (diff.abs() < K)]
        found += [
            f"{name}: {r}" for r in small[[*dims, "value_before", "value"]].to_dict("records")
        ]
    return found


def _run(ws: Path, inbox: Path) -> None:
    """A run up to the published copy (the attack reads its grid; no reports)."""
    selection = dg.AssetSelection.all() - dg.AssetSelection.assets("reports")
    assert run_pipeline(load_settings(ws, inbox), selection=selection).success


@pytest.fixture(scope="module")
def first_publication(tmp_path_factory) -> tuple[Path, dict, list[Path]]:
    """A network of three providers, published once (no earlier publication: the same grid
    with or without what follows); the newcomer's delivery not yet in the inbox."""
    tmp = tmp_path_factory.mktemp("differencing")
    generated, inbox, ws = tmp / "generated", tmp / "ws" / "inbox", tmp / "ws" / "ws"
    generate_inbox(generated, cases=900, providers=4, seed=3, plain=True)
    newcomer = [p for p in generated.iterdir() if p.is_dir() and p.name.startswith(NEWCOMER)]
    assert len(newcomer) == 1
    for folder in generated.iterdir():
        if folder.is_dir() and folder not in newcomer:
            shutil.copytree(folder, inbox / folder.name)
    _run(ws, inbox)
    return tmp / "ws", _grids(ws / "published" / "lagebild.duckdb"), newcomer


@pytest.fixture(scope="module")
def after_the_newcomer(first_publication, tmp_path_factory) -> Path:
    """The second publication, the newcomer's delivery added, in a copy of the workspace
    without the log of earlier publications (as a workspace from before it): the copy in
    place counts as the earlier publication (the log a run writes itself is read by
    tests/integration/test_releases.py). Returns the workspace."""
    original, _, newcomer = first_publication
    copy = tmp_path_factory.mktemp("after") / "ws"
    shutil.copytree(original, copy, symlinks=True)
    inbox, ws = copy / "inbox", copy / "ws"
    publications.log_path(ws).unlink()
    shutil.copytree(newcomer[0], inbox / newcomer[0].name)
    _run(ws, inbox)
    return ws


@pytest.mark.slow
def test_a_newcomers_counts_are_no_difference_of_two_publications(
    first_publication, after_the_newcomer
):
    sets = publications.published_sets(after_the_newcomer)
    assert [NEWCOMER in tables[publications.ALL] for tables, _ in sets] == [False, True]
    after = _grids(after_the_newcomer / "published" / "lagebild.duckdb")
    assert _small_differences(first_publication[1], after) == []


@pytest.mark.slow
def test_without_the_earlier_publications_the_differences_give_the_newcomer_away(
    first_publication, after_the_newcomer, monkeypatch
):
    """The attack above finds small counts in the grid of the same marts built without the
    earlier publications (as before 2026-12-07): the test above can fail."""
    monkeypatch.setattr(publication, "published_sets", lambda workspace: [])
    settings = load_settings(after_the_newcomer, after_the_newcomer.parent / "inbox")
    con = duckdb.connect(str(after_the_newcomer / "lagebild.duckdb"), read_only=True)
    try:
        built = publication.build(con, settings)
    finally:
        con.close()
    after = {name: cells for name, (cells, _) in built.items()}
    assert len(_small_differences(first_publication[1], after)) >= 10  # 43 (2026-12-07, too)
