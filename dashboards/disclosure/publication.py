"""The publication grid: built once per run, stored in the published copy (schema `grid`),
and the only source of the figures a suppressed reader sees.

For every family (dashboards/disclosure/families.py) the leaf counts are aggregated to the
declared cross-classifications, primary and secondary suppression are decided jointly over
all of them (dashboards/disclosure/linked.py) and the pattern is audited by linear
programming (dashboards/disclosure/audit.py): for every suppressed cell, an attacker who
knows all published cells of the family and that all counts are non-negative integers must
not narrow it to an interval narrower than k. One table per family, `grid.<family>`: its
dimension columns (totals as `__all__`), `level` of the period, `value`, `status` ('',
'primary', 'secondary') and the family's additive components (caseload days, FTE, wait
quantiles); `grid.audit` holds the audit of each family.

Suppression and audit are a function of a family's leaves (true and as each provider knows
them), the settings and the code in this package. A build keeps each family's published
cells in the private warehouse (`MEMO`, never published) under two keys and reuses them
while one is the same: a provider's re-delivery changes a few families only, and an
unchanged family's work is not repeated.

- `source_key`: the rows of the marts the family reads (`Family.sources`), the settings and
  the code (this package and transforms/). While it is the same, nothing of the family is
  queried: leaves, extras and cells are what they were.
- `input_key`: the leaves' values themselves. A changed mart that leaves a family's counts
  as they were (a case closed changes no referral count) keeps its suppression; only its
  extras are queried anew.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboards.disclosure.families import ALL, GROUPS, Context, Family, Shared, families
from dashboards.disclosure.grid import enclosing_periods
from dashboards.disclosure.insiders import PROVIDER
from dashboards.disclosure.pattern import pattern_spec, suppression_pattern
from kernel.cores import at_once
from kernel.fingerprint import code_digest
from kernel.publications import ALL as ALL_TABLES
from kernel.publications import published_sets
from kernel.settings import Settings
from kernel.warehouse import table_columns

MEMO_VERSION = "3"  # raise when what a key covers or the memo's layout changes
# family, input_key, source_key, summary; the published cells in MEMO_<family>
MEMO = f"intermediate.grid_memo_v{MEMO_VERSION}"
# settings that say where and how a run was started, not what the grid counts
_NOT_COUNTED = ("workspace", "inbox", "report_pdf")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a family's name is part of its tables' names
log = logging.getLogger("lagebild.publish")


def _code_digest() -> str:
    """The source (read now) of this package and of transforms/ (which computes the leaves
    and extras from the marts), and the libraries that decide the suppression."""
    here = Path(__file__).resolve().parent
    return code_digest(
        MEMO_VERSION,
        [*sorted(here.glob("*.py")), *sorted((here.parents[1] / "transforms").glob("*.py"))],
        ("numpy", "pandas", "scipy", "highspy", "duckdb"),
    )


# taken when this package is imported, so the key names the code that runs: a file changed
# on disk later (an update during a run) shows as a different digest, and `Memo.save` keeps
# nothing of that run
CODE_KEY = _code_digest()


def _rows_digest(digest, frame: pd.DataFrame) -> None:
    """The frame's columns and its rows as a multiset: the grid does not depend on row order
    (build_grid sorts its cells), and a query's row order may vary from run to run."""
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    digest.update(len(rows).to_bytes(8, "little") + rows.tobytes())


def _family_digest(family: Family, settings: Settings, kind: str):
    """A key's start: the code, the family, what the settings count, and the kind of key."""
    digest = hashlib.sha256(f"{CODE_KEY}\0{family.name}\0{kind}\0".encode())
    counted = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.name not in _NOT_COUNTED
    }
    digest.update(repr(sorted(counted.items())).encode())
    return digest


def input_key(
    family: Family,
    settings: Settings,
    leaves: pd.DataFrame,
    known: pd.DataFrame | None,
    withheld: set[str] = frozenset(),
    coalitions: tuple = (),
) -> str:
    """Everything a family's suppressed cells depend on, as one hash. (The source key needs
    no `coalitions`: a set other than the current providers is published, and its entry
    changes, only with other providers, and so only with other source rows.)"""
    digest = _family_digest(family, settings, "leaves")
    digest.update(repr(sorted(withheld)).encode())
    digest.update(repr([(sorted(c), as_of) for c, as_of in coalitions]).encode())
    _rows_digest(digest, leaves)
    if known is not None:
        _rows_digest(digest, known)
    return digest.hexdigest()


def source_key(family: Family, settings: Settings, prints: dict[str, tuple]) -> str:
    """Everything a family's published cells, extras included, are computed from: the code,
    the settings and its sources' columns and rows (`prints`: table -> `Context.fingerprint`)."""
    digest = _family_digest(family, settings, "sources")
    for table in family.sources:
        digest.update(f"{table}\0{prints[table]}\0".encode())
    return digest.hexdigest()


@dataclasses.dataclass
class Memo:
    """The published cells of the last build, per family:
    {family: (input_key, source_key, summary)}.

    A memo that cannot be read is no memo: the families are built anew (and a warning
    logged); one that cannot be written leaves the next run to build anew."""

    entries: dict[str, tuple[str, str | None, dict]]

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> Memo:
        try:
            if not table_columns(con, MEMO):
                return cls({})
            rows = con.execute(
                f"SELECT family, input_key, source_key, summary FROM {MEMO}"
            ).fetchall()
            return cls({f: (key, src, json.loads(summary)) for f, key, src, summary in rows})
        except (duckdb.Error, ValueError) as exc:
            log.warning(f"Gemerkte Sperrmuster nicht lesbar, alle werden neu berechnet: {exc}")
            return cls({})

    def cells(
        self, con, family: str, key: str, by: str = "input_key"
    ) -> tuple[pd.DataFrame, dict] | None:
        """The kept cells and summary of `family` when they were built under `key` (its
        "input_key" or its "source_key")."""
        entry = self.entries.get(family)
        if key is None or entry is None or entry[0 if by == "input_key" else 1] != key:
            return None
        try:
            cells = con.execute(f"SELECT * FROM {MEMO}_{family} ORDER BY memo_row").df()
        except duckdb.Error as exc:
            log.warning(f"Gemerktes Sperrmuster von {family} nicht lesbar, neu berechnet: {exc}")
            return None
        return cells.drop(columns="memo_row"), dict(entry[2])

    @staticmethod
    def save(con: duckdb.DuckDBPyConnection, fresh: dict[str, tuple], names: list[str]) -> None:
        """Keep newly built families ({family: (input_key, source_key, cells, summary)}) and
        forget the
        families no longer built (`names`: this build's). A family's old entry goes first, so
        a build that stops halfway leaves no key on other cells."""
        if _code_digest() != CODE_KEY:
            log.warning("Der Programmcode hat sich während des Laufs geändert: nichts gemerkt.")
            return
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
            _drop_other_versions(con)
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {MEMO} (family VARCHAR PRIMARY KEY,"
                " input_key VARCHAR, source_key VARCHAR, summary VARCHAR)"
            )
            gone = con.execute(
                f"SELECT family FROM {MEMO} WHERE family NOT IN (SELECT unnest(?))", [names]
            ).fetchall()
            for (family,) in gone:
                con.execute(f"DELETE FROM {MEMO} WHERE family = ?", [family])
                if _NAME.match(family):
                    con.execute(f"DROP TABLE IF EXISTS {MEMO}_{family}")
            for family, (key, sources, cells, summary) in fresh.items():
                con.execute(f"DELETE FROM {MEMO} WHERE family = ?", [family])
                frame = cells.assign(memo_row=np.arange(len(cells)))
                con.register("grid_memo_frame", frame)
                try:
                    con.execute(
                        f"CREATE OR REPLACE TABLE {MEMO}_{family} AS SELECT * FROM grid_memo_frame"
                    )
                finally:
                    con.unregister("grid_memo_frame")
                con.execute(
                    f"INSERT INTO {MEMO} VALUES (?, ?, ?, ?)",
                    [family, key, sources, json.dumps(summary, default=_plain)],
                )
        except (duckdb.Error, TypeError, ValueError) as exc:
            log.warning(f"Sperrmuster nicht gemerkt, der nächste Lauf rechnet neu: {exc}")


def _drop_other_versions(con: duckdb.DuckDBPyConnection) -> None:
    """A memo of another version is never read again: its tables go (cells with the true
    values of suppressed cells, private, but nothing to keep)."""
    schema, table = MEMO.split(".")
    prefix = table.rsplit("_v", 1)[0] + "_v"
    stale = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = ? AND starts_with(table_name, ?) AND table_name <> ?"
        " AND NOT starts_with(table_name, ?)",
        [schema, prefix, table, f"{table}_"],
    ).fetchall()
    for (name,) in stale:
        con.execute(f'DROP TABLE IF EXISTS {schema}."{name}"')


def _plain(value):
    """numpy scalars in a summary as JSON numbers (anything else: not kept, TypeError)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} in a grid summary")


def period_level(label: str) -> str:
    return "year" if len(label) == 4 else ("half" if label[5] == "H" else "quarter")


def incomplete_periods(ctx: Context) -> set[str]:
    """The quarters not yet complete at the data cut-off, with their half-years and years.
    A count that adds up over quarters (goals, referrals, closures) is published for complete
    periods only: the few days of a running quarter give small counts, and their suppression
    took the last complete quarter with it (its half-year minus it; docs/decisions.md,
    „Laufende Zeiträume“)."""
    compute = lambda: enclosing_periods(  # noqa: E731
        q for (q,) in ctx.con.execute("SELECT period FROM mart.periods WHERE partial").fetchall()
    )
    return set(ctx.once(("incomplete_periods",), compute))


def coalitions_of(earlier: tuple, providers: set[str], sources: tuple[str, ...] = ()) -> tuple:
    """The earlier publications that matter to a family with these providers and sources:
    who a publication showed in the family (in every source table it recorded; else in the
    copy), where that leaves out one provider at least (it joined since) and holds one at
    least, each with its latest data cut-off (None: unknown, every period); sorted."""
    latest: dict[frozenset[str], str | None] = {}
    for tables, as_of in earlier:
        held = [tables[t] for t in sources if t in tables] or [tables[ALL_TABLES]]
        here = frozenset.intersection(*held) & providers
        if here and here != providers:
            before = latest.get(here, "")
            latest[here] = None if None in (before, as_of) else max(before, as_of)
    return tuple(sorted(latest.items(), key=lambda c: sorted(c[0])))


def _suppressed(
    family: Family, args: tuple, elsewhere: Callable | None = None
) -> tuple[pd.DataFrame, dict]:
    """The family's suppressed cells as published, and the audit figures, from the arguments
    of `suppression_pattern` after the family. `elsewhere` computes the pattern in a helper
    process (None when it cannot: then it is done here)."""
    pattern = None if elsewhere is None else elsewhere(pattern_spec(family), *args)
    if pattern is None:
        if elsewhere is not None:
            log.info("Die Unterdrückung der Familie %s entsteht im Lauf-Prozess.", family.name)
        pattern = suppression_pattern(family, *args)
    cells, stats, audited, exposed = pattern
    if family.shown is not None:
        cells = family.shown(cells)
    summary = {
        "family": family.name,
        "cells": len(cells),
        "primary": int((cells["status"] == "primary").sum()),
        "insider_primary": stats.get("insider"),
        "secondary": int((cells["status"] == "secondary").sum()),
        **audited,
        "suppression_rounds": stats.get("rounds"),
    }
    summary["unprotected"] += exposed
    return cells, summary


def build_family(
    ctx: Context,
    family: Family,
    memo: Memo | None = None,
    fresh: dict | None = None,
    elsewhere: Callable[[], Callable | None] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The family's published cells with their suppression status, and the audit figures.

    With a `memo`, cells kept under the same source key are taken as they are, and cells
    kept under the same input key keep their suppression; whatever was built or keyed anew
    is added to `fresh` ({family: (input_key, source_key, cells, summary)}) for `Memo.save`.
    `elsewhere()`, asked only when the suppression has to be computed, may hand it a helper
    process's `suppression_pattern` (see `build`)."""
    t0 = time.perf_counter()
    sources = None
    if memo is not None and family.sources:
        prints = {t: ctx.fingerprint(t) for t in family.sources}
        sources = source_key(family, ctx.settings, prints)
        kept = memo.cells(ctx.con, family.name, sources, by="source_key")
        if kept is not None:
            cells, summary = kept
            seconds = round(time.perf_counter() - t0, 3)
            return cells, {**summary, "seconds": seconds, "reused": True, "queried": False}
    by_provider = family.leaves(ctx).astype({d: str for d in (*family.dims, PROVIDER)})
    withheld = incomplete_periods(ctx) if family.period == "flow" else set()
    if withheld:
        by_provider = by_provider[~by_provider["period"].isin(withheld)]
    # groups the family is never published by are summed away (fewer unknowns, same LP)
    leaves = by_provider.groupby(list(family.dims), as_index=False, sort=False)["value"].sum()
    leaves = leaves[leaves["value"] > 0]
    k = ctx.settings.suppression_k
    if leaves.empty:
        # the same columns as with cells: readers select them whatever the network's size
        level = ["level"] if "period" in family.dims else []
        cells = pd.DataFrame(
            columns=[*family.dims, "value", "status", *level, *family.extra_columns]
        )
        return cells, {
            "family": family.name,
            "cells": 0,
            "primary": 0,
            "insider_primary": 0,
            "secondary": 0,
            "cells_audited": 0,
            "unprotected": 0,
            "narrowest_width": None,
            "seconds": round(time.perf_counter() - t0, 3),
            "reused": False,
            "queried": True,
        }
    known = None
    if family.known is not None:
        known = family.known(ctx).astype({d: str for d in (*family.dims, PROVIDER)})
        if withheld:
            known = known[~known["period"].isin(withheld)]
    present = set(by_provider[PROVIDER].unique())
    if known is not None:
        present |= set(known[PROVIDER].unique())
    coalitions = coalitions_of(ctx.earlier, present, family.sources or ())
    key = None
    if memo is not None:
        key = input_key(family, ctx.settings, by_provider, known, withheld, coalitions)
    kept = memo.cells(ctx.con, family.name, key) if memo is not None else None
    if kept is not None:
        cells, summary = kept  # as published: queried anew below
        cells = cells.drop(columns=[c for c in ("level", *family.extra_columns) if c in cells])
    else:
        helper = None if elsewhere is None else elsewhere()
        args = (leaves, by_provider, known, k, withheld, coalitions)
        cells, summary = _suppressed(family, args, helper)
    if "period" in family.dims:
        levels = {p: period_level(p) for p in cells["period"].unique()}
        cells["level"] = cells["period"].map(levels)
    cells = _with_extras(ctx, family, cells)
    if fresh is not None and key is not None:
        fresh[family.name] = (key, sources, cells.copy(), summary)
    seconds = round(time.perf_counter() - t0, 3)
    return cells, {**summary, "seconds": seconds, "reused": kept is not None, "queried": True}


def _with_extras(ctx: Context, family: Family, cells: pd.DataFrame) -> pd.DataFrame:
    """The family's additive components (caseload days, FTE, wait quantiles) beside its cells."""
    if family.extras is None:
        return cells
    extras = family.extras(ctx)
    for col in set(GROUPS) - set(family.dims):  # cells are totals over such groups
        if col in extras.columns:
            extras = extras[extras[col] == ALL]
    keys = [d for d in family.dims if d in extras.columns]
    extras = extras.astype(dict.fromkeys(keys, str))
    return cells.merge(
        extras[[*keys, *family.extra_columns]].drop_duplicates(keys), on=keys, how="left"
    )


# the families whose suppression takes longest, longest first (grid alone, two workers, three
# runs each: 10,000 cases 3.2-3.8 s in declaration order, 3.1-3.4 s so; demo 3.0-3.4 -> 2.8-3.3;
# 600 cases 1.7-1.8 -> 1.4-1.7): the others fill the second worker meanwhile
LONGEST_FIRST = ("referrals", "goals", "reentry", "started")


def _build_rank(family: Family) -> int:
    return LONGEST_FIRST.index(family.name) if family.name in LONGEST_FIRST else len(LONGEST_FIRST)


class _Offer:
    """The helper process of `build`: for the first of `names` not yet done, once."""

    def __init__(self, names: list[str], source: Callable[[], Callable | None] | None):
        self._lock = threading.Lock()
        self._waiting = list(names)
        self._source = source

    def take(self, name: str) -> Callable | None:
        with self._lock:
            if self._source is None or not self._waiting or self._waiting[0] != name:
                return None
            source, self._source = self._source, None
        return source()

    def settle(self, name: str) -> None:
        with self._lock:
            if name in self._waiting:
                self._waiting.remove(name)


class Cancelled(Exception):
    """The grid's build was called off (the publication it was for failed or was stopped)."""


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    workers: int | None = None,
    *,
    reuse: bool = False,
    cancel: threading.Event | None = None,
    elsewhere: Callable[[], Callable | None] | None = None,
) -> dict[str, tuple]:
    """Every family of the grid from the marts on `con`: {family: (cells, summary)}.

    The families are independent: they are built side by side, each reading over a cursor of
    its own, `workers` at a time (default: the cores). DuckDB and HiGHS work without Python's
    lock, the suppression's pandas and Python do not: on two cores 1.2-1.3x faster (10,000
    cases 5.8 -> 4.5 s, docs/performance.md), the same cells and audit. Where other work
    keeps every core busy (`kernel.cores`, LAGEBILD_HELPERS=0) one at a time by default: side
    by side they took a third more CPU time there and ended no sooner (600 cases 1.6 -> 2.2
    CPU-s; 3,000 cases 3.9 -> 5.1 CPU-s, alone on two cores 3.9 -> 3.5 s).

    `reuse`: take a family's cells from the last build on `con` where its input key is the
    same (`Memo`), and keep the newly built ones for the next build. `cancel`: once set, no
    family is begun any more and the build ends with `Cancelled` (nothing kept).

    `elsewhere`: asked at most once, by the first family in `LONGEST_FIRST` order that has to
    be suppressed, for a helper process's `suppression_pattern` (`pipelines.grid_worker`):
    that family's thread waits for it without Python's lock while the others build the rest.
    A family only takes it once every family before it is done without it (reused): the
    longest suppression goes to the second core, whichever family's queries end first."""
    fams = families(settings)
    names = [f.name for f in fams]
    if len(set(names)) < len(names) or not all(_NAME.match(n) for n in names):
        raise ValueError(f"family names must be distinct lowercase identifiers: {names}")
    workers = max(1, min(workers or at_once(os.cpu_count() or 1), len(fams)))
    memo = Memo.load(con) if reuse else None
    fresh: dict[str, tuple] = {}
    shared = Shared()  # figures several families read: computed once (families.Shared)
    earlier = tuple(published_sets(settings.workspace))

    failed = threading.Event()  # one family failed: the build fails, no other one begins

    ordered = sorted(fams, key=_build_rank)
    offer = _Offer([f.name for f in ordered], elsewhere)

    def helper(name: str) -> Callable | None:
        """The helper's pattern if this family may take it; its failure once the build has
        failed or been called off (the helper stopped with it) ends the family too, instead
        of suppressing it here for nothing."""
        pattern = offer.take(name)
        if pattern is None:
            return None

        def guarded(*args):
            found = pattern(*args)
            if found is None and (failed.is_set() or (cancel is not None and cancel.is_set())):
                raise Cancelled(name)
            return found

        return guarded

    def one(family: Family) -> tuple[pd.DataFrame, dict]:
        if failed.is_set() or (cancel is not None and cancel.is_set()):
            raise Cancelled(family.name)
        cursor = con.cursor()
        try:
            ctx = Context(cursor, settings, shared, earlier)
            return build_family(ctx, family, memo, fresh, lambda: helper(family.name))
        except BaseException:
            failed.set()
            raise
        finally:
            cursor.close()
            offer.settle(family.name)

    with ThreadPoolExecutor(workers, thread_name_prefix="lagebild-grid") as pool:
        # the largest first (longest processing time first): the last one to end starts early
        running = {pool.submit(one, f): f.name for f in ordered}
        done: dict[str, tuple] = {}
        try:
            for future in as_completed(running):  # the first failure is the build's
                done[running[future]] = future.result()
        except BaseException:  # also a stop while waiting: the families not begun end at once
            failed.set()
            raise
    if memo is not None and (fresh or set(memo.entries) - set(names)):
        Memo.save(con, fresh, names)
    return {name: done[name] for name in names}


def write(con: duckdb.DuckDBPyConnection, built: dict, schema: str = "grid") -> None:
    """Store the grid as `<schema>.<family>` and `<schema>.audit` (on an attached database
    pass e.g. ``published.grid``)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    audits = []
    for name, (cells, summary) in built.items():
        frame = cells.copy()
        frame["value"] = frame["value"].astype(np.int64)
        con.register("grid_frame", frame)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT * FROM grid_frame")
        finally:
            con.unregister("grid_frame")
        audits.append(summary)
    con.register("grid_audit", pd.DataFrame(audits))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {schema}.audit AS SELECT * FROM grid_audit")
    finally:
        con.unregister("grid_audit")
