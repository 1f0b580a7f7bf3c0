"""The dashboard's queries alone (benchmarks/dashboard_queries.py, as `make bench` times them:
cold, no Streamlit cache) on an existing workspace, for A/B comparisons of two code versions,
interleaved so both meet the same machine load. Each run appends its raw times (ms) to OUT;
`--summary` prints p50 / p95 per view and query over all runs of each label:

    for i in 1 2 3; do
      PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/dashboard_only.py \\
          WS foerderer,koordination 7 before OUT.jsonl
      .venv/bin/python benchmarks/dashboard_only.py WS foerderer,koordination 7 after OUT.jsonl
    done
    .venv/bin/python benchmarks/dashboard_only.py --summary OUT.jsonl

(run it as a file, so PYTHONPATH decides which code version is measured). Each query runs once
untimed first (imports, the OS file cache), then `repeats` times; a view's time is the sum of
its queries' times of the same repetition.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path


def run(ws: Path, roles: list[str], repeats: int, label: str, out: Path) -> None:
    from benchmarks.dashboard_queries import view_queries

    times: dict[str, dict[str, list[float]]] = {}
    for role in roles:
        for view, queries in view_queries(ws, role).items():
            per_query = {}
            for query, fn in queries:
                fn()
                per_query[query] = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    fn()
                    per_query[query].append((time.perf_counter() - t0) * 1000)
            times[f"{view} ({role})"] = per_query
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"label": label, "times": times}, ensure_ascii=False) + "\n")


def _p(times: list[float]) -> str:
    ts = sorted(times)
    p95 = ts[int(0.95 * (len(ts) - 1))]  # as `make bench`
    return f"{statistics.median(ts):7.1f} {p95:7.1f}"


def summary(out: Path) -> None:
    merged: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for line in out.read_text(encoding="utf-8").splitlines():
        run = json.loads(line)
        for view, queries in run["times"].items():
            n = min(len(t) for t in queries.values())
            merged[run["label"]][view]["(view)"] += [
                sum(t[i] for t in queries.values()) for i in range(n)
            ]
            for query, t in queries.items():
                merged[run["label"]][view][query] += t
    labels = list(merged)
    print(f"{'view / query':70s}" + "".join(f" {lb + ' p50':>7s} {'p95':>7s}" for lb in labels))
    for view, queries in merged[labels[0]].items():
        for query in queries:
            name = view if query == "(view)" else f"    {query}"
            cols = [
                _p(merged[lb][view][query]) if merged[lb][view][query] else " " * 15
                for lb in labels
            ]
            print(f"{name[:70]:70s} " + " ".join(cols))


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(Path(sys.argv[2]))
    else:
        run(
            Path(sys.argv[1]),
            sys.argv[2].split(","),
            int(sys.argv[3]),
            sys.argv[4],
            Path(sys.argv[5]),
        )
