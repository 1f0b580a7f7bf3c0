"""Render time of every view on the demo data (pipeline-built), under AppTest with a cold
cache. Numbers go to test-artifacts/render_times_apptest.json; the browser numbers (click to
drawn charts) are measured by tests/e2e."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st

from dashboards.read import ROLES
from dashboards.views import views_for
from tests.dashboards.apptest import logged_in
from tests.e2e.pipeline_workspace import pipeline_workspace, providers

ROLE_VIEWS = {r: tuple(v.key for v in views_for(r)) for r in ROLES}

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_every_view_under_two_seconds_on_demo_data(tmp_path_factory, monkeypatch):
    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    small = providers(root)[0]
    times: dict[str, dict[str, float]] = {}
    for role, provider in (
        ("koordination", None),
        ("traeger", small),
        ("evaluation", None),
        ("foerderer", None),
    ):
        for view in ROLE_VIEWS[role]:
            at = logged_in(root, monkeypatch, role, provider)
            at.run()
            st.cache_data.clear()
            at.switch_page(f"views/{view}.py")
            t0 = time.perf_counter()
            at.run()
            secs = time.perf_counter() - t0
            assert not at.exception, (role, view, at.exception)
            times.setdefault(role, {})[view] = round(secs, 3)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "render_times_apptest.json").write_text(json.dumps(times, indent=2))
    slow = {f"{r}/{v}": s for r, vs in times.items() for v, s in vs.items() if s >= 2.0}
    assert not slow, slow
