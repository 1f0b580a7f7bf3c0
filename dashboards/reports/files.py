"""Report files swapped in whole: written beside their place first (issue 15).

A report file is written into a new file beside it and then renamed over it, so a writer
stopped halfway (a run killed, the reports' worker given up, a full disk) leaves the last
complete file, never a truncated one (`dashboards.reports.write`, `render.write_pdf_page`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dashboards.reports.model import KINDS


def beside(out: Path) -> Path:
    """A new, empty, owner-only file beside `out` to write it into before it is swapped in
    (created exclusively: a link or file already at a name is never written through).
    Named `.<name>.<random>.tmp`, so that `sweep_unfinished` finds what a killed writer left."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def sweep_unfinished(directory: Path, kinds=KINDS) -> list[str]:
    """Remove what writers of these report kinds left half-written in `directory` (a process
    killed before it swapped its file in); returns the names removed. Only while no writer
    can be at work: the pipeline's reports step, under the workspace's lock."""
    removed = []
    for kind in kinds:
        for path in directory.glob(f".{kind}_*.tmp"):
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path.name)
    return removed
