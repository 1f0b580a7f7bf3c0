"""`make bench-10m`: 10,000,000 cases from 500 providers on this machine (issue 15), with
DuckDB's memory limit set so the run spills instead of failing.

Generates the inbox (cached in bench-cache/inbox-10000000), runs `lagebild run` once with
`duckdb_memory_limit` in the workspace's settings, times the dashboard queries (5 repeats) and
writes the figures to docs/performance-10m.json; `make bench` shows them in
docs/performance.md. Not part of `make bench`: the run takes most of an hour here.
No incremental run and no release verification at this size (each would take as long again).

`python -m benchmarks.tenm --dashboard` times only the dashboard queries again, on the
published copy the last run left in bench-cache/ws-10000000 (after a change to the read side:
half an hour less than a whole run); the figures say when and with which code they were taken.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import UTC, datetime

from benchmarks.__main__ import (
    CACHE,
    ROOT,
    code_version,
    dashboard_queries,
    floor_scan,
    generate,
    machine,
    outside_stages,
    say,
    timed_run,
)

CASES = 10_000_000
PROVIDERS = 500
MEMORY_LIMIT = "5GB"  # the goal: peak memory under 12 GB (DuckDB's limit plus Python's part;
# with 8GB the run peaked at 14.3 GB, with 6GB at 9.2–12.5 GB until the suites' frames were
# freed as read, 6.5 GB since (2026-12-06, docs/scaling.md); the marts alone take as long
# with 4GB as with 6GB: 187 / 181 s)
RESULT = ROOT / "docs" / "performance-10m.json"


def dashboard_again() -> int:
    """The dashboard queries alone, on the last run's published copy (see the docstring)."""
    ws = CACHE / f"ws-{CASES}"
    if not RESULT.exists() or not (ws / "published" / "lagebild.duckdb").exists():
        say("Kein Lauf mit 10.000.000 Fällen vorhanden: zuerst `make bench-10m`.")
        return 2
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    say("Dashboard-Abfragen auf der veröffentlichten Kopie des letzten Laufs …")
    result["dashboard"] = dashboard_queries(ws, repeats=5)
    result["dashboard_date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["dashboard_code"] = code_version()
    RESULT.write_text(json.dumps(result, indent=1), encoding="utf-8")
    say(f"Ergebnisse: {RESULT}")
    return 0


def main() -> int:
    if "--dashboard" in sys.argv[1:]:
        return dashboard_again()
    say(f"{CASES:,} Fälle ({PROVIDERS} Träger), DuckDB-Speichergrenze {MEMORY_LIMIT}")
    inbox, gen_s = generate(CASES, PROVIDERS)
    ws = CACHE / f"ws-{CASES}"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    (ws / "lagebild.yaml").write_text(f"duckdb_memory_limit: {MEMORY_LIMIT}\n", encoding="utf-8")
    say("  vollständiger Lauf …")
    t0 = time.perf_counter()
    try:
        full = timed_run(inbox, ws)
    except RuntimeError as exc:  # the figures of a failed run are figures too
        full = {"failed": str(exc)[-2000:], "wall_s": round(time.perf_counter() - t0, 1)}
    say(f"  {full.get('wall_s')} s, {full.get('peak_rss_mb')} MB")
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "cases": CASES,
        "providers": PROVIDERS,
        "memory_limit": MEMORY_LIMIT,
        "generate_s": round(gen_s, 1),
        "full": full,
        "floor": floor_scan(inbox),
    }
    if "stages" in full:
        result["in_no_stage"] = outside_stages(full["stages"])
        say("  Dashboard-Abfragen …")
        result["dashboard"] = dashboard_queries(ws, repeats=5)
    RESULT.write_text(json.dumps(result, indent=1), encoding="utf-8")
    say(f"Ergebnisse: {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
