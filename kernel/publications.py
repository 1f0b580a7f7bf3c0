"""Which providers each earlier publication rested on, kept append-only.

    WORKSPACE/audit/publications.jsonl     one JSON object per line, mode 0600

A reader who keeps an earlier publication (a release, a download from the dashboard) and
reads a later one can subtract them cell by cell. Where only providers that joined since
changed the cell, the difference is their part of it: with one new provider, its count, however
small (a demo network with its eighth provider joining: 250 differences of 1 or 2, docs/
decisions.md). So the grid protects the providers that joined since each earlier publication
against a reader who knows what all the others hold (`dashboards.disclosure.insiders`,
`coalitions`); this log says which sets of providers were published before.

A run appends the providers of the copy it publishes and of each table the grid is counted
from (a provider can come with some tables first and bring another later: for that one it is
new), with the data cut-off (only cells of periods begun by then can have been shown), when
they differ from the last line; a release
carries the sets in its manifest, and `lagebild verify` puts them into the workspace of its
rebuild and freezes the log there (its rounds are no publications), so the rebuild protects
the same providers. A line this module cannot read as such an entry is skipped; a cut-off that
is no ISO date counts as unknown (every period: the safe side).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from kernel.access_log import file_lock

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FROZEN = ".publications-frozen"  # in audit/: the log of a rebuild, not written by its runs


def log_path(workspace: str | Path) -> Path:
    return Path(workspace) / "audit" / "publications.jsonl"


Published = dict[str, frozenset[str]]  # table (or ALL) -> the providers it held


ALL = "*"  # every table: the providers of the copy (mart.cases)


def published_sets(workspace: str | Path | None) -> list[tuple[Published, str | None]]:
    """The publications recorded so far: per table the providers it held (ALL: the copy's),
    each with the latest data cut-off (ISO date) it was published with (None: not known), in
    order of first publication."""
    if workspace is None or not log_path(workspace).is_file():
        return []
    latest: dict[frozenset, tuple[Published, str | None]] = {}
    for line in _lines(log_path(workspace)):
        entry = _entry(line)
        if entry is not None:
            tables, as_of = entry
            key = frozenset(tables.items())
            before = latest.get(key, (tables, ""))[1]
            latest[key] = (tables, None if None in (before, as_of) else max(before, as_of))
    return list(latest.values())


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def _names(value) -> frozenset[str] | None:
    ok = isinstance(value, list) and all(isinstance(p, str) for p in value)
    return frozenset(value) if ok else None


def _entry(line: str) -> tuple[Published, str | None] | None:
    """The tables' providers and the cut-off of a line, None unless it is an entry of this
    log (a line without tables: its providers stand for every table)."""
    try:
        entry = json.loads(line)
    except Exception:  # any line that is no entry (also one nested too deep)
        return None
    if not isinstance(entry, dict) or (providers := _names(entry.get("providers"))) is None:
        return None
    tables = {ALL: providers}
    if isinstance(entry.get("tables"), dict):
        for table, names in entry["tables"].items():
            if (held := _names(names)) is not None:
                tables[str(table)] = held
    as_of = entry.get("as_of")
    return tables, as_of if isinstance(as_of, str) and _DATE.fullmatch(as_of) else None


def record(
    workspace: str | Path,
    tables: dict[str, list[str]],
    as_of: str | None,
    run_id: str | None = None,
) -> bool:
    """Append the providers (`tables[ALL]`) and each table's providers and the data cut-off
    of a copy about to be published, unless they are the last line's or the log is frozen.
    True when a line was written."""
    path = log_path(workspace)
    held = {t: frozenset(p) for t, p in tables.items()}
    with file_lock(path.parent / ".publications.lock"):
        if (path.parent / FROZEN).exists():
            return False
        lines = _lines(path) if path.is_file() else []
        if lines and _entry(lines[-1]) == (held, as_of):
            return False
        entry = {
            "at": datetime.now().isoformat(timespec="seconds"),
            "run_id": run_id,
            "as_of": as_of,
            "providers": sorted(held[ALL]),
            "tables": {t: sorted(p) for t, p in sorted(held.items()) if t != ALL},
        }
        # never through a symbolic link planted in its place (as `file_lock`)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a+b") as fh:
            torn = fh.seek(0, os.SEEK_END) > 0 and not _ends_with_newline(fh)
            text = ("\n" if torn else "") + json.dumps(entry, ensure_ascii=False) + "\n"
            fh.write(text.encode("utf-8"))
    return True


def as_lists(sets: list[tuple[Published, str | None]]) -> list:
    """The sets as a release's manifest keeps them (JSON)."""
    return [[{t: sorted(p) for t, p in sorted(tables.items())}, as_of] for tables, as_of in sets]


def _ends_with_newline(fh) -> bool:
    fh.seek(-1, os.SEEK_END)
    return fh.read(1) == b"\n"


def seed(workspace: str | Path, sets: list) -> None:
    """The sets a release was made under (`as_lists`) as the log of a rebuild's new workspace,
    frozen: the rebuild's rounds publish nothing."""
    for tables, as_of in sets:
        if isinstance(tables, list):  # [providers, as_of]: every table alike
            tables = {ALL: tables}
        record(workspace, {str(t): list(p) for t, p in tables.items()}, as_of)
    frozen = log_path(workspace).parent / FROZEN
    frozen.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(frozen, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
