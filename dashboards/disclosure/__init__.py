"""Small-number protection (statistische Geheimhaltung) for everything that leaves the office.

`tables` holds the per-table rules and the `Published` table (values with their suppression
marks) that every view, download and report renders.
"""

from dashboards.disclosure.tables import (
    DEFAULT_K,
    MISSING_MARK,
    RATE_MARK,
    SECONDARY_MARK,
    Published,
    format_count,
    format_number,
    format_percent,
    internal_note,
    is_small,
    note,
    publish,
    rate_hidden,
    suppress,
    suppress_pivot,
    unsuppressed,
)

__all__ = [
    "DEFAULT_K",
    "MISSING_MARK",
    "RATE_MARK",
    "SECONDARY_MARK",
    "Published",
    "format_count",
    "format_number",
    "format_percent",
    "internal_note",
    "is_small",
    "note",
    "publish",
    "rate_hidden",
    "suppress",
    "suppress_pivot",
    "unsuppressed",
]
