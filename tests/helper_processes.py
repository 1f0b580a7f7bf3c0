"""The run's helper processes seen from a test: which are still running."""

from __future__ import annotations

import psutil


def running(module: str) -> list[psutil.Process]:
    """This process's descendants running `python -m <module>`, zombies aside."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            if module in command and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found
