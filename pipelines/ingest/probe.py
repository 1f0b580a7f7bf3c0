"""`python -m pipelines.ingest.probe PATH LIMITS…`: open and check one delivery in a process
of its own (an in-memory DuckDB, nothing recorded) and exit 0 when that finished.

The pipeline runs this for a delivery whose processing a crash interrupted before it opens it
again itself (`probe_survives` in pipelines/ingest/limits.py). Nothing is printed: the
delivery may hold identifiers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    from kernel.warehouse import connect
    from pipelines.ingest.limits import Limits
    from pipelines.ingest.load import inspect_delivery

    path = Path(argv[0])
    numbers = [float(x) for x in argv[1:7]]
    limits = Limits(
        max_unpacked_bytes=int(numbers[0]),
        max_compression_ratio=numbers[1],
        max_columns=int(numbers[2]),
        max_sheet_cells=int(numbers[3]),
        max_line_bytes=int(numbers[4]),
        timeout_seconds=numbers[5],
    )
    con = connect()
    with tempfile.TemporaryDirectory(prefix="lagebild-probe-") as tmp:
        inspect_delivery(con, path, Path(tmp), limits=limits)
    con.close()
    return 0


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)
    sys.exit(main(sys.argv[1:]))
