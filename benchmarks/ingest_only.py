"""Ingest alone (landing and staging: parse, gate, row rules, load) of an inbox into a fresh
workspace; prints the stage seconds. For A/B comparisons of two code versions on the same
inbox, interleaved, so both meet the same machine load:

    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/ingest_only.py INBOX WS label
    .venv/bin/python benchmarks/ingest_only.py INBOX WS label

(run it as a file, so PYTHONPATH decides which code version is measured).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

INGEST_STAGES = ("landing", "parse", "validate", "staging")  # thread-seconds since 12-03
WALL_STAGES = ("landing", "ingest")  # wall time (code from 2026-12-03 on)


def main(inbox: Path, ws: Path, label: str) -> None:
    try:
        from kernel.settings import load_settings
    except ImportError:  # checkouts before the kernel/ package
        from pipelines.settings import load_settings
    from pipelines.runner import run_pipeline

    shutil.rmtree(ws, ignore_errors=True)
    run_pipeline(load_settings(ws, inbox, None), selection=["landing", "staging"])
    con = duckdb.connect(str(ws / "lagebild.duckdb"), read_only=True)
    stages = dict(con.execute("SELECT stage, seconds FROM audit.runs").fetchall())
    con.close()
    summed = WALL_STAGES if "ingest" in stages else INGEST_STAGES
    ingest = sum(stages.get(s, 0) for s in summed)
    shown = {s: round(stages.get(s, 0), 2) for s in (*INGEST_STAGES, "ingest") if s in stages}
    print(f"{label} {shown} ingest {ingest:.2f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
