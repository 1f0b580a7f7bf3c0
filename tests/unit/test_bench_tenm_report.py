"""The 10,000,000-case section of docs/performance.md (`make bench-10m`): goals marked from the
figures, and dashboard figures taken again later say when and with which code."""

from __future__ import annotations

import json

import pytest

from benchmarks import __main__ as bench


def _result(wall_s: float, peak_mb: int, slowest_ms: float, **extra) -> dict:
    stages = {
        "gesamt": {"s": wall_s - 5, "peak_mb": peak_mb},
        "marts": {"s": 100.0, "peak_mb": 5000},
    }
    return {
        "date": "2026-12-04 15:21 UTC",
        "cases": 10_000_000,
        "providers": 500,
        "memory_limit": "5GB",
        "generate_s": 282.8,
        "floor": {"s": 178.58, "mb": 7849},
        "full": {"wall_s": wall_s, "peak_rss_mb": peak_mb, "stages": stages},
        "dashboard": {
            "queries": {
                "Versorgungslücken (Koordination)": {
                    "Lücken je Lebensbereich": {"p50_ms": slowest_ms - 10, "p95_ms": slowest_ms},
                    "Heatmap": {"p50_ms": 100.0, "p95_ms": 120.0},
                }
            }
        },
        **extra,
    }


@pytest.fixture
def tenm_file(tmp_path, monkeypatch):
    path = tmp_path / "performance-10m.json"
    monkeypatch.setattr(bench, "TENM", path)
    return path


def test_goals_are_marked_from_the_figures(tenm_file):
    tenm_file.write_text(json.dumps(_result(1144.67, 6325, 1410.0)), encoding="utf-8")
    text = "\n".join(bench.tenm_markdown())
    assert "End to end 1144.67 s (6.4× the raw scan), peak memory 6 325 MB" in text
    assert "Goal (under 20 min, under 12 GB): erreicht." in text
    assert "highest 1410.0 ms (Lücken je Lebensbereich (Versorgungslücken (Koordination)))" in text
    assert "goal under 1 s per query: verfehlt." in text

    tenm_file.write_text(json.dumps(_result(1247.0, 11551, 900.0)), encoding="utf-8")
    text = "\n".join(bench.tenm_markdown())
    assert "Goal (under 20 min, under 12 GB): verfehlt." in text  # 20 min 47 s
    assert "goal under 1 s per query: erreicht." in text
    assert "CPU time" not in text  # recorded before the bench measured it


def test_the_cpu_time_of_the_run_is_shown_when_measured(tenm_file):
    result = _result(500.0, 6468, 433.0, machine={"cpus": 2})
    result["full"]["cpu_s"] = 880.0
    tenm_file.write_text(json.dumps(result), encoding="utf-8")
    # 880 CPU-s in 500 s: 1.76 of the 2 CPUs busy on average
    assert "CPU time 880.0 s (1.76 of 2 CPUs busy on average)." in "\n".join(bench.tenm_markdown())


def test_dashboard_figures_taken_again_say_when_and_with_which_code(tenm_file):
    tenm_file.write_text(json.dumps(_result(1144.67, 6325, 900.0)), encoding="utf-8")
    assert "measured again" not in "\n".join(bench.tenm_markdown())
    again = _result(
        1144.67, 6325, 900.0, dashboard_date="2026-12-04 16:10 UTC", dashboard_code="abc123def456"
    )
    tenm_file.write_text(json.dumps(again), encoding="utf-8")
    text = "\n".join(bench.tenm_markdown())
    assert (
        "measured again on the run's published copy 2026-12-04 16:10 UTC (code abc123def456)"
        in text
    )
    assert "## 10 000 000 cases (`make bench-10m`, 2026-12-04 15:21 UTC)" in text  # the run's date


def test_dashboard_again_needs_a_run(tmp_path, monkeypatch):
    from benchmarks import tenm

    monkeypatch.setattr(tenm, "RESULT", tmp_path / "none.json")
    monkeypatch.setattr(tenm, "CACHE", tmp_path)
    assert tenm.dashboard_again() == 2
