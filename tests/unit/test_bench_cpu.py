"""`make bench` records each call's CPU work and the least wall time it allows on the machine's
cores: a goal below that time is out of reach by scheduling alone (issue 15's small sizes,
docs/performance-notes.md, twenty-first session)."""

from __future__ import annotations

import subprocess
import sys

from benchmarks import __main__ as bench

BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"


def test_the_cpu_work_of_a_waited_child_is_counted_and_its_sleep_is_not():
    before = bench.children_cpu()
    subprocess.run([sys.executable, "-c", BUSY], check=True)
    busy = bench.children_cpu() - before
    before = bench.children_cpu()
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.4)"], check=True)
    asleep = bench.children_cpu() - before
    assert busy >= 0.4  # its 0.4 s of work, plus the interpreter's start
    assert asleep < 0.3  # the interpreter's start only, not the 0.4 s it slept


def _run(cases: int, wall: float, cpu: float | None, floor: float, again: tuple) -> dict:
    full = {"wall_s": wall, "stages": {}}
    incremental = {"wall_s": again[0], "stages": {}}
    if cpu is not None:
        full["cpu_s"], incremental["cpu_s"] = cpu, again[1]
    return {"cases": cases, "floor": {"s": floor}, "full": full, "incremental": incremental}


def _latest(results: list[dict], demo: dict | None = None) -> dict:
    entry = {"machine": {"cpus": 2}, "results": results}
    if demo:
        entry["demo"] = demo
    return entry


def test_each_call_is_set_against_the_time_its_goal_allows():
    latest = _latest(
        [
            _run(10_000, 10.4, 16.2, 0.95, (7.4, 11.0)),
            _run(1_000_000, 54.51, 100.0, 11.92, (12.56, 18.0)),
        ],
        {"wall_s": 15.61, "cpu_s": 20.54, "stages": {}},
    )
    rows = {line.split(" | ")[0]: line for line in bench.cpu_markdown(latest) if "|" in line}
    # 20.54 CPU-s on 2 cores take at least 10.3 s: (10.3 - 10) x 2 = 0.6 CPU-s too much
    assert rows["| demo (`lagebild demo`)"] == (
        "| demo (`lagebild demo`) | 15.61 s | 20.54 s | 10.3 s | 10.0 s |"
        " no: at least 0.6 CPU-s less work needed |"
    )
    # 16.2 / 2 = 8.1 s against the 8 s goal
    assert rows["| 10 000 cases"].endswith(
        "| 8.1 s | 8.0 s | no: at least 0.2 CPU-s less work needed |"
    )
    # 5x the raw scan of 11.92 s = 59.6 s; 100 CPU-s take at least 50 s
    assert (
        rows["| 1 000 000 cases"]
        == "| 1 000 000 cases | 54.51 s | 100.0 s | 50.0 s | 59.6 s | yes |"
    )
    # the re-delivery's goal is a tenth of the full run, 5.5 s; 18 CPU-s take at least 9 s
    assert rows["| 1 000 000 cases, re-delivery"].endswith(
        "| 9.0 s | 5.5 s | no: at least 7.0 CPU-s less work needed |"
    )
    # no goal for the re-delivery of a smaller network
    assert rows["| 10 000 cases, re-delivery"].endswith("| 5.5 s | — |  |")


def test_runs_recorded_before_cpu_work_was_measured_are_left_out():
    old = _latest([_run(1_000_000, 60.0, None, 12.0, (13.0, None))], {"wall_s": 16.0})
    assert bench.cpu_markdown(old) == []
    mixed = _latest(
        [
            _run(10_000, 10.0, None, 1.0, (7.0, None)),
            _run(1_000_000, 54.0, 90.0, 12.0, (12.0, 17.0)),
        ]
    )
    rows = [
        line
        for line in bench.cpu_markdown(mixed)
        if line.startswith("| 1") or line.startswith("| d")
    ]
    assert [r.split(" | ")[0] for r in rows] == [
        "| 1 000 000 cases",
        "| 1 000 000 cases, re-delivery",
    ]
