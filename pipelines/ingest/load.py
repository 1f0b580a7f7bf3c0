"""Inspect a delivery and load it: exactly the semantics of exchange-format.md.

`inspect_delivery` does everything that reads (parse, identifier gate, provider check, row
rules) in temp tables and is shared by `lagebild check` and the pipeline. `ingest_pending`
applies each landed delivery in snapshot order, one transaction per delivery:
quarantine, or load its valid rows into staging for the tables where it is the provider's
newest snapshot, supersede what it replaces, and reconcile received = loaded + rejected.

No delivery can stop the run: whatever goes wrong while one is opened, parsed or checked —
an exception, a limit, the time bound — ends it `quarantined` with the reason "nicht lesbar:
…" (never the error's text, which may quote a value), and the run goes on. A delivery whose
processing a crash interrupted (the process died: an abort in a native reader, a kill) is
first opened again in a separate process; if that dies too, it is quarantined unopened.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from data_contracts import Contract, load_contract
from data_contracts.rules import MIN_YEAR, checked_sql, lit, reference_sql
from pipelines.ingest import export_date, holds, orphans
from pipelines.ingest.faults import interrupts, raise_if_ctrl_c
from pipelines.ingest.gate import VALUES_TABLE, collect_values, drop_values, scan_identifiers
from pipelines.ingest.limits import LimitExceeded, Limits, watchdog
from pipelines.ingest.reader import Fault, ParsedDelivery, parse_delivery
from pipelines.observe import stage

log = logging.getLogger("lagebild.ingest")

# Tables are checked parents first, so children can be matched to the valid cases.
TABLE_ORDER = ["cases", "goals", "referrals", "contacts", "barriers", "staffing", "relapses"]

REJECTIONS_TMP = "delivery_rejections"

# the earliest exported_on that can be a snapshot date: rows carry no earlier date (contract)
EARLIEST_EXPORT = date(MIN_YEAR, 1, 1)


@dataclass
class TableCount:
    table_name: str
    file_name: str
    received: int
    loaded: int
    rejected: int


@dataclass
class Inspection:
    parsed: ParsedDelivery
    provider_id: str | None = None
    exported_on: date | None = None
    quarantine: list[Fault] = field(default_factory=list)
    counts: dict[str, TableCount] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exported_on_trusted: bool = True  # False: exported_on is later than the receipt date
    unreadable: bool = False  # reading or checking failed (quarantined "nicht lesbar")

    @property
    def rows_received(self) -> int:
        return sum(c.received for c in self.counts.values())

    @property
    def rows_loaded(self) -> int:
        return sum(c.loaded for c in self.counts.values())

    @property
    def rows_rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())


def _parse_date(value) -> date | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def create_rejections_tmp(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {REJECTIONS_TMP} (
            table_name VARCHAR, file_name VARCHAR, line INTEGER, column_name VARCHAR,
            reason VARCHAR, kind VARCHAR)"""
    )


def _check_provider(
    con, parsed: ParsedDelivery, contract: Contract, provider_columns: list[int]
) -> tuple[str | None, list[Fault]]:
    """All rows of a delivery belong to one provider_id (and the manifest's, if given). The
    provider_id recorded for the delivery is a valid pseudonym or none: a value breaking the
    key pattern (or looking like an identifier) is never stored.

    `provider_columns`: the provider_id columns (k) among the distinct values the gate collected
    (gate.collect_values), trimmed by SQL's trim (which also strips Unicode spaces such as
    U+00A0), as the row rules trim the values they load."""
    found = sorted(
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT trim(v) FROM {VALUES_TABLE} WHERE k IN (SELECT unnest(?))"
            " AND nullif(trim(v), '') IS NOT NULL",
            [provider_columns],
        ).fetchall()
    )
    manifest_pid = str(parsed.manifest.get("provider_id") or "").strip() or None
    faults = []
    if len(found) > 1:
        faults.append(
            Fault(
                f"Zeilen mehrerer Träger in einer Lieferung ({len(found)} verschiedene provider_id)"
            )
        )
    elif manifest_pid and found and found[0] != manifest_pid:
        faults.append(Fault("provider_id der Zeilen weicht von manifest.json ab"))
    elif not found and not manifest_pid:
        faults.append(Fault("keine provider_id in der Lieferung"))
    pid = found[0] if found else manifest_pid
    key = contract.patterns["key"]["regex"]
    if pid and (not re.search(key, pid) or contract.find_identifier(pid, key=True)):
        pid = None
    return pid, faults


def unreadable_reason(exc: BaseException) -> str:
    """German reason for a delivery that could not be read: the kind of failure, never the
    error's own text (DuckDB and parsers quote the offending value)."""
    if isinstance(exc, LimitExceeded):
        return f"Grenze überschritten: {exc.reason}"
    if isinstance(exc, duckdb.InterruptException):
        return "nicht lesbar: Zeitgrenze für Lesen und Prüfen überschritten"
    if isinstance(exc, MemoryError):
        return "nicht lesbar: der Arbeitsspeicher reichte zum Lesen nicht aus"
    if isinstance(exc, RecursionError):
        return "nicht lesbar: zu tief verschachtelte Struktur"
    if isinstance(exc, UnicodeError):
        return "nicht lesbar: Zeichenkodierung nicht lesbar"
    if isinstance(exc, OSError):
        return "nicht lesbar: eine Datei der Lieferung konnte nicht gelesen werden"
    if isinstance(exc, duckdb.Error):
        return "nicht lesbar: Fehler beim Einlesen in die Datenbank"
    return f"nicht lesbar: unerwarteter Fehler beim Lesen oder Prüfen ({type(exc).__name__})"


def log_unreadable(exc: BaseException, name: str) -> None:
    """Where it failed (code locations and error type), never the error's text."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = ", ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames)
    log.warning(f"Lieferung {name}: {unreadable_reason(exc)} [{type(exc).__name__} in {where}]")


def inspect_delivery(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    workdir: Path,
    contract: Contract | None = None,
    known_cases: str | None = None,
    limits: Limits | None = None,
    extra_faults: list[str] | None = None,
    received_on: date | None = None,
    rules: bool = True,
) -> Inspection:
    """Parse, gate and check one delivery into temp tables `checked_<table>`.

    `known_cases`: a relation of (provider_id, case_id) that child rows may reference when the
    delivery has no cases table (the provider's current cases in staging); None in `check`.
    `extra_faults`: structural faults landing found (symlinks in a folder, a name carrying an
    identifier). `rules=False`: parse and gate only; the row rules are then checked with
    other deliveries' (`pipelines.ingest.together`). Never raises for anything the delivery
    contains: an unforeseen error is a quarantine "nicht lesbar".
    """
    contract = contract or load_contract()
    limits = (limits or Limits()).start()
    create_rejections_tmp(con)
    parsed = ParsedDelivery(source_name=path.name, kind="other")
    try:
        with stage("parse"), watchdog(con, limits):
            parsed = parse_delivery(con, path, contract, workdir, limits)
        parsed.faults[:0] = [
            Fault(f, identifier="nicht wiedergegeben" in f) for f in extra_faults or []
        ]
        with stage("validate"), watchdog(con, limits):
            insp = _gate(con, parsed, contract, received_on)
            if rules and not insp.quarantine:
                check_rows(con, insp, contract, known_cases)
                export_date.distrust_before_rows(con, insp)
            return insp
    except interrupts():
        raise
    except BaseException as exc:  # also Rust panics of native readers
        raise_if_ctrl_c(exc)
        log_unreadable(exc, parsed.source_name)
        with contextlib.suppress(duckdb.Error):  # fails in an aborted transaction: see apply
            create_rejections_tmp(con)
        insp = Inspection(parsed=parsed, notes=list(parsed.notes), unreadable=True)
        insp.quarantine = [Fault(f) for f in extra_faults or []] + [Fault(unreadable_reason(exc))]
        return insp


def _gate(
    con, parsed: ParsedDelivery, contract: Contract, received_on: date | None = None
) -> Inspection:
    """Manifest, identifier gate and provider check over the parsed temp tables: whatever
    quarantines the whole delivery (`Inspection.quarantine`)."""
    insp = Inspection(parsed=parsed, notes=list(parsed.notes))
    faults = list(parsed.faults)
    try:
        insp.exported_on = _parse_date(parsed.manifest.get("exported_on"))
    except ValueError:
        faults.append(Fault("manifest.json: exported_on ist kein Datum", file_name="manifest.json"))
    received_on = received_on or date.today()
    if insp.exported_on and insp.exported_on < EARLIEST_EXPORT:
        # outside the dates the contract accepts in any row: not a snapshot date (0001-01-01
        # as the cut-off ended every later run, themes: year 0)
        d = insp.exported_on
        insp.notes.append(
            f"Exportdatum {d.day:02d}.{d.month:02d}.{d.year:04d} liegt vor {MIN_YEAR} und ist"
            " nicht plausibel; es wird nicht übernommen: die Lieferung ist nach ihrem"
            f" Eingangsdatum ({received_on:%d.%m.%Y}) eingeordnet. Bitte das Exportdatum in"
            " manifest.json prüfen"
        )
        insp.exported_on = None
        insp.exported_on_trusted = False
    elif insp.exported_on and insp.exported_on > received_on:
        insp.notes.append(
            f"Exportdatum {insp.exported_on:%d.%m.%Y} liegt nach dem Eingang"
            f" ({received_on:%d.%m.%Y}) und wird nicht übernommen: die Lieferung ist nach ihrem"
            " Eingangsdatum eingeordnet"
        )
        insp.exported_on_trusted = False
    version = parsed.manifest.get("contract_version")
    if isinstance(version, bool) or version not in (None, "", 1, "1"):
        shown = version if isinstance(version, int) or str(version).isdigit() else "?"
        faults.append(
            Fault(
                f"manifest.json: Vertragsversion {str(shown)[:10]} wird nicht unterstützt"
                " (erwartet 1)",
                file_name="manifest.json",
            )
        )
    if parsed.tables:
        try:
            cols = collect_values(con, parsed)
            faults += scan_identifiers(con, parsed, contract, cols)
            provider_columns = [k for k, (_, col, _, _) in enumerate(cols) if col == "provider_id"]
            pid, provider_faults = _check_provider(con, parsed, contract, provider_columns)
        finally:
            drop_values(con)
        insp.provider_id = pid
        faults += provider_faults
    if faults:
        # identifier hits first: they are what a data-protection officer must see at once
        insp.quarantine = sorted(faults, key=lambda f: not f.identifier)
    return insp


def check_rows(con, insp: Inspection, contract: Contract, known_cases: str | None) -> None:
    """The row rules of a gated delivery, table by table, into `judged_<table>` (read as
    `checked_<table>`, `show_checked`)."""
    parsed = insp.parsed
    for name in TABLE_ORDER:
        st = parsed.tables.get(name)
        if st is None:
            continue
        sql = checked_sql(
            st.table, st.raw, st.headers, st.bool_mark_columns, contract, st.rows_received
        )
        if st.table.references:
            cases = "checked_cases_valid" if "cases" in parsed.tables else known_cases
            if cases:  # in the same statement: one table written, not two
                sql = reference_sql(f"({sql})", cases, st.headers.get("case_id", "fall_id"))
            else:
                insp.notes.append(
                    f"{st.file_name}: keine Fälle in der Lieferung – Zuordnung der Fälle wird"
                    " erst beim Laden geprüft"
                )
        con.execute(f"CREATE OR REPLACE TEMP TABLE judged_{name} AS {sql}")
        show_checked(con, name, f"SELECT * FROM judged_{name}")
        if name == "cases":
            con.execute(
                "CREATE OR REPLACE TEMP TABLE checked_cases_valid AS"
                " SELECT provider_id, case_id FROM checked_cases WHERE len(faults) = 0"
            )
        count_rows(con, insp, name)
    quarantine_if_nothing_valid(insp)


def show_checked(con, name: str, rows: str) -> None:
    """`checked_<name>`, what counting and loading read of a delivery's checked table: a view
    over the rows it was judged into (`rows`), by itself or as its part of a joint check
    (`pipelines.ingest.together`), so the rows are not copied once more for it."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW checked_{name} AS {rows}")


def count_rows(con, insp: Inspection, name: str) -> None:
    """A checked table's rejected rows into the delivery's rejections, and its counts."""
    st = insp.parsed.tables[name]
    checked = f"checked_{name}"
    # an INSERT answers with the rows it inserted: the rejected rows are counted there, not
    # in another pass over every row (the table's own count is kept, not scanned)
    rejected = con.execute(
        f"""INSERT INTO {REJECTIONS_TMP}
        SELECT {lit(name)}, {lit(st.file_name)}, __line,
               array_to_string(list_distinct(list_transform(faults, lambda f: f.col)), ', '),
               array_to_string(list_transform(faults, lambda f: f.reason), '; '), 'row'
        FROM {checked} WHERE len(faults) > 0"""
    ).fetchone()[0]
    valid = con.execute(f"SELECT count(*) FROM {checked}").fetchone()[0] - rejected
    if st.malformed:
        con.executemany(
            f"INSERT INTO {REJECTIONS_TMP} VALUES (?, ?, ?, NULL, ?, 'row')",
            [(name, st.file_name, line, reason) for line, reason in st.malformed],
        )
    insp.counts[name] = TableCount(
        name,
        st.file_name,
        received=st.rows_received + len(st.malformed),
        loaded=valid,
        rejected=rejected + len(st.malformed),
    )


def quarantine_if_nothing_valid(insp: Inspection) -> None:
    if insp.rows_received and not insp.rows_loaded:
        insp.quarantine = [Fault("keine einzige gültige Zeile in der Lieferung")]


def quarantine_rows(insp: Inspection) -> list[tuple]:
    return [
        (f.table_name, f.file_name, f.line, f.column_name, f.reason, "quarantine")
        for f in insp.quarantine
    ]


@dataclass
class ApplyResult:
    delivery_id: str
    source_name: str
    provider_id: str | None
    status: str
    rows_received: int
    rows_loaded: int
    rows_rejected: int
    message: str


@dataclass(frozen=True)
class Arrival:
    """What landing knows about a delivery, plus its snapshot date once parsed."""

    delivery_id: str
    source_name: str
    sha256: str
    received_at: datetime
    landed_at: datetime
    snapshot_on: date
    tables: list[str]
    run_id: str | None

    @property
    def snapshot_key(self) -> tuple:
        """Order of snapshots: exported_on (else receipt date), then receipt time, then id."""
        return (self.snapshot_on, self.received_at, self.delivery_id)


def rollback(con) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def record_inspection(
    con, insp, did, source_name, sha, received_at, landed_at, run_id
) -> ApplyResult:
    """Record a judged delivery (quarantine or load) and mark it processed."""
    snapshot = (
        insp.exported_on if insp.exported_on and insp.exported_on_trusted else received_at.date()
    )
    arrival = Arrival(
        did,
        source_name,
        sha,
        received_at,
        landed_at,
        snapshot,
        sorted(insp.parsed.tables),
        run_id,
    )
    with stage("staging"):
        if insp.quarantine:
            result = _record_quarantine(con, insp, arrival)
        else:
            result = _record_load(con, insp, arrival)
    con.execute("UPDATE audit.landing SET processed = true WHERE delivery_id = ?", [did])
    return result


def _insert_delivery(
    con,
    a: Arrival,
    insp: Inspection,
    status: str,
    current: list[str],
    message: str,
    received: int,
    loaded: int,
    rejected: int,
) -> None:
    con.execute(
        "INSERT INTO audit.deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            a.delivery_id,
            insp.provider_id,
            a.source_name,
            a.sha256,
            a.received_at,
            a.landed_at,
            insp.exported_on,
            a.snapshot_on,
            insp.parsed.format,
            a.tables,
            current,
            status,
            received,
            loaded,
            rejected,
            message,
            a.run_id,
        ],
    )
    con.execute(
        f"INSERT INTO audit.rejections SELECT {lit(a.delivery_id)}, table_name, file_name, line,"
        f" column_name, reason, kind FROM {REJECTIONS_TMP} ORDER BY kind DESC, table_name, line"
    )


def _record_quarantine(con, insp: Inspection, a: Arrival) -> ApplyResult:
    """Nothing of a quarantined delivery is loaded: every received row counts as rejected."""
    con.executemany(
        f"INSERT INTO {REJECTIONS_TMP} VALUES (?, ?, ?, ?, ?, ?)", quarantine_rows(insp)
    )
    received = insp.parsed.rows_received
    first = insp.quarantine[0].reason
    n_more = len(insp.quarantine) - 1
    more = (
        ""
        if not n_more
        else f" (und {n_more} {'weiterer Grund' if n_more == 1 else 'weitere Gründe'})"
    )
    message = f"Quarantäne: {first}{more}"
    _insert_delivery(con, a, insp, "quarantined", [], message, received, 0, received)
    rows = [
        (
            a.delivery_id,
            name,
            st.file_name,
            st.rows_received + len(st.malformed),
            0,
            st.rows_received + len(st.malformed),
        )
        for name, st in insp.parsed.tables.items()
    ]
    if rows:
        con.executemany("INSERT INTO audit.delivery_tables VALUES (?, ?, ?, ?, ?, ?)", rows)
    return ApplyResult(
        a.delivery_id,
        a.source_name,
        insp.provider_id,
        "quarantined",
        received,
        0,
        received,
        message,
    )


def _record_load(con, insp: Inspection, a: Arrival) -> ApplyResult:
    """Load the tables for which this delivery is the provider's newest snapshot."""
    pid = insp.provider_id
    replaced: list[str] = []
    newer: set[str] = set()
    verdict = holds.judge(con, pid, a, insp.counts)  # import thresholds (issue 13)
    if "cases" in a.tables and not verdict.held:  # the cases it may replace
        orphans.remember_cases(con, pid)
    for name in [] if verdict.held else a.tables:
        cur = con.execute(
            "SELECT delivery_id, snapshot_on, received_at FROM audit.deliveries"
            " WHERE provider_id = ? AND list_contains(current_tables, ?)",
            [pid, name],
        ).fetchone()
        if cur and not verdict.force and (cur[1], cur[2], cur[0]) > a.snapshot_key:
            newer.add(cur[0])
            continue
        cols = ", ".join(c.name for c in insp.parsed.tables[name].table.columns)
        con.execute(f"DELETE FROM staging.{name} WHERE provider_id = ?", [pid])
        con.execute(
            f"INSERT INTO staging.{name} ({cols}, delivery_id)"
            f" SELECT {cols}, {lit(a.delivery_id)} FROM checked_{name} WHERE len(faults) = 0"
        )
        if cur:
            con.execute(
                "UPDATE audit.deliveries SET current_tables = list_filter(current_tables,"
                " lambda t: t <> ?) WHERE delivery_id = ?",
                [name, cur[0]],
            )
            con.execute(
                "UPDATE audit.deliveries SET status = 'superseded', message = concat_ws(' | ',"
                " message, ?) WHERE delivery_id = ? AND len(current_tables) = 0",
                [f"ersetzt durch Lieferung {a.delivery_id} ({a.source_name})", cur[0]],
            )
        replaced.append(name)
    dropped = orphans.drop(con, pid, a.delivery_id, a.source_name) if "cases" in replaced else []
    orphans.forget_cases(con)
    if verdict.held:
        status, message = "held", verdict.message
    elif not replaced:
        status = "superseded"
        message = (
            f"älterer Stand als die bereits geladene Lieferung {', '.join(sorted(newer))};"
            " nicht übernommen"
        )
    else:
        status = "partial" if insp.rows_rejected else "accepted"
        message = (
            f"{insp.rows_rejected} Zeilen abgelehnt"
            if insp.rows_rejected
            else "vollständig geladen"
        )
        if newer:
            kept = ", ".join(sorted(set(a.tables) - set(replaced)))
            message += f"; für {kept} gilt ein neuerer Stand"
    if insp.notes or dropped:
        message += " | " + " | ".join([*insp.notes, *dropped])
    _insert_delivery(
        con,
        a,
        insp,
        status,
        replaced,
        message,
        insp.rows_received,
        insp.rows_loaded,
        insp.rows_rejected,
    )
    con.executemany(
        "INSERT INTO audit.delivery_tables VALUES (?, ?, ?, ?, ?, ?)",
        [
            (a.delivery_id, c.table_name, c.file_name, c.received, c.loaded, c.rejected)
            for c in insp.counts.values()
        ],
    )
    return ApplyResult(
        a.delivery_id,
        a.source_name,
        pid,
        status,
        insp.rows_received,
        insp.rows_loaded,
        insp.rows_rejected,
        message,
    )
