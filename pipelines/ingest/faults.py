"""The faults that make a delivery unreadable, shared by the file readers and the limits."""

from __future__ import annotations


class UnreadableFile(Exception):
    """A structural fault: the file cannot be read as a CSV of the exchange format."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class LimitExceeded(UnreadableFile):
    """A limit of exchange-format.md "Limits" is exceeded: the delivery is quarantined."""
