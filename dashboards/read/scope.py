"""Who reads, from which published copy, with which filters: the scope every query runs in.

A `Source` is one workspace's published copy (`WORKSPACE/published/lagebild.duckdb`) with its
settings; queries open one short read-only connection per call (DuckDB connections are not
thread-safe and Streamlit serves sessions in threads): the gate runs each query in
`one_connection()`, so all its reads, and those of the queries it calls, share the connection
its first read opens. In the dashboard server (`keep_copies_open()`) that connection is a
cursor of the copy's database, which the process keeps open: opening and closing the file cost
12–25 ms per query at 1,000,000 cases, more than most grid reads; a new publication (a new
file) is opened on its first read.

A `Viewer` is the role a query is scoped to: a `traeger` sees only its own provider (the
provider filter is overridden, not just hidden), a `foerderer` aggregates only, always
suppressed.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb

from kernel.settings import Settings, load_settings
from kernel.warehouse import connect
from kernel.workspace import Workspace

ROLE_LABELS = {
    "koordination": "Koordinierende Stelle",
    "traeger": "Träger",
    "evaluation": "Evaluation",
    "foerderer": "Förderer",
}
ROLES = tuple(ROLE_LABELS)

NO_DATA_MESSAGE = "Noch keine Daten – bitte zuerst `lagebild run` ausführen."


class AccessDenied(PermissionError):
    """The viewer's role may not see this."""


@dataclass(frozen=True)
class Viewer:
    """The role a query is scoped to.

    k            suppression threshold (Settings.suppression_k)
    publication  koordination / evaluation chose "für Veröffentlichung": suppress as well
    """

    role: str
    provider: str | None = None
    k: int = 3
    publication: bool = False

    def __post_init__(self):
        if self.role not in ROLE_LABELS:
            raise AccessDenied(f"Unbekannte Rolle '{self.role}'")
        if self.role == "traeger" and not self.provider:
            raise AccessDenied("Die Rolle Träger braucht eine Träger-ID.")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def suppress_k(self) -> int | None:
        """k when this viewer's output is suppressed, else None. A provider's view of its own
        cases is not (metrics.md: only "anything beyond its own cases" is); what rests on
        other providers' records reaches it under `network_k`."""
        if self.role == "foerderer" or (self.publication and self.role != "traeger"):
            return self.k
        return None

    @property
    def network_k(self) -> int | None:
        """k for figures that rest on other providers' records too (re-entries and relapses
        found through the person key, the network's themes): suppressed for providers."""
        return (
            self.suppress_k
            if self.suppress_k is not None
            else (self.k if self.role == "traeger" else None)
        )

    @property
    def case_level(self) -> bool:
        """Case tables are shown: the case-level roles, and not in the published view ("für
        Veröffentlichung": everything on the page must be fit to leave the office)."""
        return self.role in ("koordination", "evaluation", "traeger") and self.suppress_k is None

    @property
    def rejection_lines(self) -> bool:
        return self.role in ("koordination", "traeger")

    @property
    def edits_register(self) -> bool:
        return self.role == "koordination"

    def published(self) -> Viewer:
        """The same viewer with suppression on (reports, exports for publication)."""
        return replace(self, publication=True)


@dataclass(frozen=True)
class Filters:
    """Dashboard filters. Empty tuples mean "all" (within what the role may see)."""

    period_from: str | None = None
    period_to: str | None = None
    programs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()


ALL = Filters()


@dataclass(frozen=True)
class Source:
    """A workspace's published copy and its settings: what every query reads."""

    workspace: Path
    settings: Settings = field(compare=False)

    @classmethod
    def of(cls, workspace: str | Path, settings: Settings | None = None) -> Source:
        root = Path(workspace).resolve()
        return cls(root, settings or load_settings(root))

    @property
    def ws(self) -> Workspace:
        return Workspace(self.workspace)

    @property
    def db(self) -> Path:
        return self.ws.published_db_path

    def viewer(self, role: str, provider: str | None = None, publication: bool = False):
        return Viewer(role, provider, k=self.settings.suppression_k, publication=publication)

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the published copy: inside `one_connection()` the one
        its first read opened, else a connection of its own for this block."""
        shared = _shared.get()
        if shared is None:
            with _OPEN.connection(self.db) as con:
                yield con
            return
        con = shared.get(self.db)
        if con is None:
            con = shared[self.db] = _shared_stack.get().enter_context(_OPEN.connection(self.db))
        yield con

    def identity(self) -> tuple:
        """Changes with every publication and every register edit: the key of caches."""
        parts: list = []
        decisions = self.workspace / "audit" / "decisions.jsonl"  # kernel/decisions.py
        for path in (
            self.db,
            self.ws.register_db_path,
            self.workspace / "lagebild.yaml",
            decisions,
        ):
            st = path.stat() if path.exists() else None
            parts.append((st.st_mtime_ns, st.st_size) if st else None)
        return (str(self.workspace), *parts)

    def has_data(self) -> bool:
        if not self.db.exists():
            return False
        try:
            with self.read() as con:
                return has_table(con, "meta", "data_basis") and has_table(con, "mart", "cases")
        except duckdb.Error:
            return False


@dataclass(eq=False)
class _Copy:
    """One version of a published copy, open: an in-memory database with the file attached."""

    version: tuple
    db: duckdb.DuckDBPyConnection
    in_use: int = 0
    stale: bool = False


class _OpenCopies:
    """Published copies this process keeps open: one read-only database per file version.

    A query reads through a cursor of it (microseconds) instead of opening the file (10 ms)
    and closing it again. A new publication replaces the file (atomic rename: a new inode);
    the next read sees the new version at once and opens it, and the old one is closed when
    the last query reading it ends. Each version is attached to an in-memory database of its
    own: DuckDB hands every connection to a file *path* the database already open for it, so
    opening the path again would serve the old version as long as anything held it. At most
    `keep` copies stay open (release snapshots of the Berichtsarchiv too).
    """

    ALIAS = "published_copy"

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.enabled = False
        self.guard = threading.Lock()
        self.held: OrderedDict[Path, _Copy] = OrderedDict()

    @staticmethod
    def _version(db: Path) -> tuple | None:
        try:
            st = db.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _open(self, db: Path, version: tuple) -> _Copy | None:
        con = connect(None)
        try:
            con.execute(
                f"ATTACH '{str(db).replace(chr(39), chr(39) * 2)}' AS {self.ALIAS} (READ_ONLY)"
            )
        except duckdb.Error:
            con.close()
            return None  # not a database (any more): the caller's own connection reports it
        return _Copy(version, con)

    def _release(self, copy: _Copy) -> None:
        """Called under the lock: close a replaced or evicted copy nobody reads any more."""
        if copy.stale and not copy.in_use:
            copy.db.close()

    def _cursor(self, db: Path) -> tuple[_Copy, duckdb.DuckDBPyConnection] | None:
        version = self._version(db)
        if version is None:
            return None
        with self.guard:
            copy = self.held.get(db)
            if copy is None or copy.version != version:
                fresh = self._open(db, version)
                if fresh is None:
                    return None
                if copy is not None:
                    copy.stale = True
                    self._release(copy)
                copy = self.held[db] = fresh
            self.held.move_to_end(db)
            for path in list(self.held)[: max(len(self.held) - self.keep, 0)]:
                evicted = self.held.pop(path)
                evicted.stale = True
                self._release(evicted)
            # under the lock: the database is shared by threads
            cursor = copy.db.cursor()
            copy.in_use += 1
        try:
            cursor.execute(f"USE {self.ALIAS}")
        except BaseException:
            self._done(copy, cursor)
            raise
        return copy, cursor

    def _done(self, copy: _Copy, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.close()
        finally:
            with self.guard:
                copy.in_use -= 1
                self._release(copy)

    @contextlib.contextmanager
    def connection(self, db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        opened = self._cursor(db) if self.enabled else None
        if opened is None:  # not kept open, no such file, or not a database: as ever
            con = connect(db, read_only=True)
            try:
                yield con
            finally:
                con.close()
            return
        copy, con = opened
        try:
            yield con
        finally:
            self._done(copy, con)

    def close_all(self) -> None:
        with self.guard:
            for copy in self.held.values():
                copy.stale = True
                self._release(copy)
            self.held.clear()


_OPEN = _OpenCopies()


def keep_copies_open() -> None:
    """Keep published copies open in this process: for the dashboard server only, which never
    writes. (A pipeline process must not: its checks open the new copy right after the swap,
    and DuckDB would hand them the old one still held open here.)"""
    _OPEN.enabled = True


# the connections of the current `one_connection()` block (per thread: a new thread starts
# with an empty context), by published copy, and the stack that closes them
_shared: ContextVar[dict[Path, duckdb.DuckDBPyConnection] | None] = ContextVar(
    "lagebild_read_connections", default=None
)
_shared_stack: ContextVar[contextlib.ExitStack] = ContextVar("lagebild_read_stack")
# the results of the queries asked inside the current block (`remembered`)
_results: ContextVar[dict | None] = ContextVar("lagebild_read_results", default=None)


@contextlib.contextmanager
def one_connection(*, remember: bool = False) -> Iterator[None]:
    """Within the block, `Source.read()` of a published copy shares one connection, opened by
    the first read and closed when the block ends; a nested block uses the outer one.
    `remember`: a query asked again inside the block is answered from the first answer
    (`remembered`; a report's or release's block)."""
    if _shared.get() is not None:
        yield
        return
    with contextlib.ExitStack() as stack:
        token = _shared.set({})
        stack_token = _shared_stack.set(stack)
        results_token = _results.set({} if remember else None)
        try:
            yield
        finally:
            _results.reset(results_token)
            _shared.reset(token)
            _shared_stack.reset(stack_token)


def remembering() -> bool:
    """True inside a `one_connection(remember=True)` block."""
    return _results.get() is not None


def remembered(key: tuple, compute):
    """`compute()` once per `one_connection(remember=True)` block and `key`, every caller
    getting a copy of its own: the block reads one connection's snapshot, so the same query
    gives the same result. A report asks some figures more than once (the data basis, process
    quality); the three reports of a run are built in one block (reports.write_all)."""
    store = _results.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return copy.deepcopy(store[key])


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?"
            " AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]  # fetchall: leaves no unfinished result (a later register fails)
    )


def effective_providers(viewer: Viewer, filters: Filters) -> tuple[str, ...]:
    """The provider restriction actually applied: a traeger is always its own provider."""
    if viewer.role == "traeger":
        return (viewer.provider,)
    return tuple(filters.providers)


def rollup_filters(viewer: Viewer, filters: Filters) -> dict:
    """{column: [values]} for transforms.* roll-ups (only non-empty restrictions)."""
    out: dict = {}
    provs = effective_providers(viewer, filters)
    if provs:
        out["provider_id"] = list(provs)
    if filters.programs:
        out["program"] = list(filters.programs)
    if filters.regions:
        out["region_code"] = list(filters.regions)
    return out


def where(
    viewer: Viewer,
    filters: Filters,
    alias: str = "",
    *,
    period_col: str | None = None,
    provider_col: str = "provider_id",
) -> tuple[str, list]:
    """SQL condition and parameters for the viewer's scope and the filters."""
    a = f"{alias}." if alias else ""
    clauses, params = ["true"], []
    for col, values in (
        (provider_col, effective_providers(viewer, filters)),
        ("program", filters.programs),
        ("region_code", filters.regions),
    ):
        if values:
            clauses.append(f"{a}{col} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if period_col and filters.period_from:
        clauses.append(f"{a}{period_col} >= ?")
        params.append(filters.period_from)
    if period_col and filters.period_to:
        clauses.append(f"{a}{period_col} <= ?")
        params.append(filters.period_to)
    return " AND ".join(clauses), params


def span_dates(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[date, date]:
    """First day and last counted day of the filtered quarters."""
    lo, hi = filters.period_from or "0000-Q1", filters.period_to or "9999-Q4"
    row = con.execute(
        "SELECT min(period_start), max(counted_until) FROM mart.periods"
        " WHERE period BETWEEN ? AND ?",
        [lo, hi],
    ).fetchone()
    if row is None or row[0] is None:
        row = con.execute(
            "SELECT min(period_start), max(counted_until) FROM mart.periods"
        ).fetchone()
    return row[0], row[1]


def quarter_shift(period: str, n: int) -> str:
    y, q = int(period[:4]), int(period[-1])
    idx = y * 4 + (q - 1) + n
    return f"{idx // 4}-Q{idx % 4 + 1}"


def default_filters(options: dict) -> Filters:
    """The last four complete quarters (a partial current quarter can be chosen)."""
    periods = options["periods"]
    if not periods:
        return Filters()
    complete = [p for p in periods if p not in options.get("partial", [])]
    last = complete[-1] if complete else periods[-1]
    first = quarter_shift(last, -3)
    if first < periods[0]:
        first = periods[0]
    return Filters(period_from=first, period_to=last)


def last_complete_quarter(as_of: date) -> str:
    """The last calendar quarter that ends on or before as_of."""
    q = (as_of.month - 1) // 3 + 1
    end_month = 3 * q
    next_first = date(as_of.year + (end_month == 12), end_month % 12 + 1, 1)
    period = f"{as_of.year}-Q{q}"
    if (next_first - as_of).days > 1:  # as_of is not the quarter's last day
        period = quarter_shift(period, -1)
    return period
