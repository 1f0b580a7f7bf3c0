"""The workspace lock held by another process: the lock is re-entrant within one process, so a
test that needs a busy workspace holds it from a child."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def lock_held_elsewhere(workspace: Path) -> Iterator[subprocess.Popen]:
    """Hold `workspace`'s lock from a child process for the block (at most 60 s)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from kernel.warehouse import write_lock\n"
            f"with write_lock(Path({str(Path(workspace) / '.lagebild.lock')!r})):\n"
            "    print('gesperrt', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "gesperrt"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
