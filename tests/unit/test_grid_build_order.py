"""The grid's families are built longest first and returned in their declared order."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboards.disclosure import publication
from dashboards.disclosure.families import families
from kernel.settings import Settings


def test_the_largest_families_begin_first_and_the_grid_keeps_the_declared_order(monkeypatch):
    settings = Settings(workspace=Path("/nonexistent"))
    begun: list[str] = []
    lock = threading.Lock()

    def build_family(ctx, family, memo=None, fresh=None, elsewhere=None):
        with lock:
            begun.append(family.name)
        return pd.DataFrame({"value": [len(begun)]}), {"family": family.name}

    monkeypatch.setattr(publication, "build_family", build_family)
    con = duckdb.connect()
    built = publication.build(con, settings, workers=1)
    declared = [f.name for f in families(settings)]
    assert begun[: len(publication.LONGEST_FIRST)] == list(publication.LONGEST_FIRST)
    assert sorted(begun) == sorted(declared)
    assert list(built) == declared  # written and audited in the declared order
    assert all(summary["family"] == name for name, (_, summary) in built.items())


def test_a_failing_family_fails_the_build_and_no_family_not_yet_begun_begins(monkeypatch):
    settings = Settings(workspace=Path("/nonexistent"))
    begun: list[str] = []

    def build_family(ctx, family, memo=None, fresh=None, elsewhere=None):
        begun.append(family.name)
        raise RuntimeError(f"kaputt: {family.name}")

    monkeypatch.setattr(publication, "build_family", build_family)
    with pytest.raises(RuntimeError, match="kaputt: referrals"):
        publication.build(duckdb.connect(), settings, workers=1)
    assert begun == ["referrals"]  # the rest were not begun: the build fails at once


def test_a_stop_while_waiting_lets_no_family_begin_that_has_not(monkeypatch):
    settings = Settings(workspace=Path("/nonexistent"))
    begun: list[str] = []
    first_running, release = threading.Event(), threading.Event()

    def build_family(ctx, family, memo=None, fresh=None, elsewhere=None):
        begun.append(family.name)
        first_running.set()
        release.wait(10)
        return pd.DataFrame({"value": [1]}), {"family": family.name}

    def stopped(futures):  # Ctrl-C while the build waits for its families
        first_running.wait(10)
        threading.Timer(0.3, release.set).start()  # the running family ends after the stop
        raise KeyboardInterrupt
        yield  # a generator, as `as_completed` is

    monkeypatch.setattr(publication, "build_family", build_family)
    monkeypatch.setattr(publication, "as_completed", stopped)
    with pytest.raises(KeyboardInterrupt):
        publication.build(duckdb.connect(), settings, workers=1)
    assert begun == ["referrals"]
