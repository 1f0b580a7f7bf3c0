"""`make bench` records the machine's form (a fixed Python loop, before and after the bench)
beside its times: the same virtual machine ran the same code a third slower for an hour at a
time, and without it a slower bench read as slower code (docs/performance-notes.md,
thirty-fifth session)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import __main__ as bench

HISTORY = Path(bench.__file__).resolve().parents[1] / "docs" / "performance-history.json"


def _two_benches() -> list[dict]:
    """The last two recorded benches, the later one with its form, the earlier without (as
    every bench before 2026-12-08)."""
    earlier, later = json.loads(HISTORY.read_text(encoding="utf-8"))[-2:]
    earlier["machine"].pop("python_loop_s", None)
    later["machine"]["python_loop_s"] = [0.231, 0.305]
    return [earlier, later]


def test_the_report_shows_the_form_of_the_latest_bench_and_of_each_earlier_one():
    history = _two_benches()
    text = bench.render_markdown(history)
    assert "a fixed Python loop took 0.231 s / 0.305 s before / after this bench" in text
    earlier = [line for line in text.splitlines() if line.startswith(f"| {history[0]['date']} |")]
    assert earlier and all(line.endswith("| — |") for line in earlier)

    history.append({**history[1], "date": "2099-01-01 00:00 UTC"})  # a third, later bench
    rows = [line for line in bench.render_markdown(history).splitlines() if "|" in line]
    assert any(line.endswith("| 0.231 s / 0.305 s |") for line in rows)


def test_a_bench_without_the_form_reports_as_before():
    history = _two_benches()
    history[1]["machine"].pop("python_loop_s")
    assert "a fixed Python loop took" not in bench.render_markdown(history)


def test_the_form_is_the_best_of_three_loops(monkeypatch):
    times = iter([10.0, 10.9, 20.0, 20.2, 30.0, 30.5])  # three loops: 0.9, 0.2, 0.5 s
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(times))
    monkeypatch.setattr(bench, "FORM_LOOP", 10)
    assert bench.machine_form() == 0.2
