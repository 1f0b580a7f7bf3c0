"""Dagster assets of the ingest: `landing` and `staging`, with their asset checks.

The Great Expectations suites (data_contracts/suites.py) run as blocking checks on `staging`:
if a delivered row ever reached staging against the contract, no mart is built from it.
"""

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from data_contracts import load_contract
from data_contracts.schema import create_all
from kernel.warehouse import reader
from pipelines import suite_worker
from pipelines.ingest.batch import STATUS_DE, ingest_pending, resolve_data_basis
from pipelines.ingest.landing import land
from pipelines.ingest.limits import Limits
from pipelines.observe import stage, timed_check
from pipelines.resources import LagebildResource

log = logging.getLogger("lagebild.ingest")


@dg.asset(
    key="landing",
    group_name="ingest",
    description="Neue Lieferungen aus dem Posteingang: unveränderliche Kopie mit SHA-256,"
    " Duplikate erkannt.",
)
def landing(lagebild: LagebildResource) -> dg.MaterializeResult:
    settings = lagebild.settings()
    if not settings.inbox:
        raise dg.Failure("Kein Posteingang angegeben (LAGEBILD_INBOX oder --inbox).")
    with stage("landing"), lagebild.write() as con:
        create_all(con)
        result = land(
            con,
            settings.ws,
            Path(settings.inbox),
            settings.max_unpacked_bytes,
            settings.first_receipt_days,
        )
    dup = len(result.duplicates)
    log.info(
        f"Posteingang: {len(result.new)} neu, {dup} {'Duplikat' if dup == 1 else 'Duplikate'},"
        f" {result.known} bereits bekannt"
    )
    return dg.MaterializeResult(
        metadata={
            "new_deliveries": len(result.new),
            "duplicates": len(result.duplicates),
            "already_known": result.known,
        }
    )


@dg.asset(
    key="staging",
    deps=["landing"],
    group_name="ingest",
    description="Lesen (CSV/XLSX/ZIP, Kodierungen, Trennzeichen), Identifikator-Sperre,"
    " Zeilenprüfung gegen den Datenvertrag, Quarantäne, Ersetzen älterer Stände; danach je"
    " Träger und Tabelle der neueste gültige Stand in staging.*",
)
def staging(context: dg.AssetExecutionContext, lagebild: LagebildResource) -> dg.MaterializeResult:
    settings = lagebild.settings()
    with lagebild.write() as con:
        create_all(con)
        with stage("ingest"):  # wall time: its parse, validate and staging overlap
            results = ingest_pending(
                con,
                settings.ws,
                context.run_id,
                progress=log.info,
                limits=Limits.from_settings(settings),
            )
            # the loaded deliveries written into the warehouse file now, as part of the
            # ingest (the writer keeps up to 1 GB of log: kernel.warehouse.CHECKPOINT_THRESHOLD)
            con.execute("CHECKPOINT")
        as_of = resolve_data_basis(con, settings.as_of, context.run_id, settings.first_receipt_days)
        rows = {
            name: con.execute(f"SELECT count(*) FROM staging.{name}").fetchone()[0]
            for name in load_contract().tables
        }
    by_status: dict[str, int] = {}
    for r in results:
        by_status[STATUS_DE[r.status]] = by_status.get(STATUS_DE[r.status], 0) + 1
    log.info(f"Datenstand (as_of): {as_of}")
    return dg.MaterializeResult(
        metadata={
            "deliveries_processed": len(results),
            **{f"status_{k}": v for k, v in by_status.items()},
            **{f"zeilen_{k}": v for k, v in rows.items()},
            "as_of": str(as_of),
        }
    )


def _run_scope(context: dg.AssetCheckExecutionContext) -> tuple[str, list, str]:
    """Which staging rows a check looks at: a SQL condition, its parameters, a description.

    In a run that materialised `staging`, the rows loaded in that run (earlier rows were
    checked by the run that loaded them); in a run of the check alone, all rows."""
    latest = context.instance.get_latest_materialization_event(dg.AssetKey("staging"))
    if latest is not None and latest.run_id == context.run.run_id:
        return (
            "delivery_id IN (SELECT delivery_id FROM audit.deliveries WHERE run_id = ?)",
            [context.run.run_id],
            "in diesem Lauf geladene Zeilen",
        )
    return "true", [], "alle Zeilen"


def _provider_scope(context: dg.AssetCheckExecutionContext) -> tuple[str, list, str]:
    """Like `_run_scope`, by provider: references and keys hold within one provider
    (provider_id is part of every key), and a run changes the rows of the providers it records
    deliveries of only. A re-delivery's check reads that provider's rows, not every row of the
    network (1,000,000 cases: 0.9 s, almost all of it the other providers' contacts)."""
    condition, params, scope = _run_scope(context)
    if not params:
        return condition, params, scope
    return (
        "provider_id IN (SELECT provider_id FROM audit.deliveries WHERE run_id = ?)",
        params,
        "Träger mit Lieferungen in diesem Lauf",
    )


_SQL_CHECKS = {
    "reconciliation": (
        "Abgleich je Lieferung und Tabelle: erhalten = geladen + abgelehnt; die Zeilen in"
        " staging entsprechen den geladenen Zeilen der aktuellen Lieferungen."
    ),
    "references_and_keys": (
        "Jede Zeile mit Fallbezug gehört zu einem Fall desselben Trägers in staging.cases;"
        " Schlüssel sind eindeutig."
    ),
    "no_identifiers": (
        "Kein Wert in staging sieht wie ein direkter Identifikator aus (E-Mail, Telefon, IBAN,"
        " Geburtsdatum, Anschrift); dieselben Muster wie die Identifikator-Sperre."
    ),
}


@dg.multi_asset_check(
    name="staging_checks",
    specs=[
        *(
            dg.AssetCheckSpec(
                f"contract_{name}",
                asset="staging",
                blocking=True,
                description=f"Great-Expectations-Suite des Austauschformats für staging.{name}",
            )
            for name in load_contract().tables
        ),
        *(
            dg.AssetCheckSpec(name, asset="staging", blocking=True, description=text)
            for name, text in _SQL_CHECKS.items()
        ),
    ],
    can_subset=True,
)
@timed_check
def staging_checks(context: dg.AssetCheckExecutionContext, lagebild: LagebildResource):
    """Every table's contract suite over the rows of this run (`_run_scope`), in the run's
    worker process when it has one (pipelines.suite_worker), else here; meanwhile the three
    SQL checks, each on a read-only connection of its own (DuckDB works without Python's
    lock): the run's process otherwise only waited for the worker, and ran them after it
    (issue 15). Each check is its own result, as it was as its own step."""
    selected = {key.name for key in context.selected_asset_check_keys}
    names = [n for n in load_contract().tables if f"contract_{n}" in selected]
    run_scope, provider_scope = _run_scope(context), _provider_scope(context)
    db_path = lagebild.ws.db_path
    sql = {
        "reconciliation": lambda: _reconciliation(db_path),
        "references_and_keys": lambda: _references_and_keys(db_path, *provider_scope),
        "no_identifiers": lambda: _no_identifiers(db_path, *run_scope),
    }
    with ThreadPoolExecutor(len(sql), thread_name_prefix="lagebild-check") as pool:
        running = {n: pool.submit(_timed, n, check) for n, check in sql.items() if n in selected}
        if names:
            needed = functools.partial(_text_model_needed, db_path, lagebild.settings())
            yield from _contract_results(db_path, names, *run_scope, needed=needed)
        for name, future in running.items():
            passed, metadata = future.result()
            yield dg.AssetCheckResult(
                asset_key="staging", check_name=name, passed=passed, metadata=metadata
            )


def _text_model_needed(db_path: Path, settings) -> bool:
    """Whether the themes step will fit its text model (not take it from the memo): only then
    are scikit-learn and the lemmatiser loaded while the suites run (`pipelines.prewarm`)."""
    from transforms.themes.build import will_fit_text_model

    with reader(db_path) as con:
        return will_fit_text_model(con, settings)


def _timed(name: str, check):
    with stage(f"checks.{name}"):
        return check()


def _contract_results(
    db_path: Path, names: list[str], condition: str, params: list, scope: str, needed=None
):
    outcomes, place = suite_worker.validate(db_path, names, condition, params, needed)
    for name, o in outcomes.items():
        yield dg.AssetCheckResult(
            asset_key="staging",
            check_name=f"contract_{name}",
            passed=o["passed"],
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "checked": scope,
                "validated_in": place,
                "rows": o["rows"],
                "expectations": o["expectations"],
                "violated": len(o["failed"]),
                "details": dg.MetadataValue.json(o["failed"]) if o["failed"] else "keine",
            },
        )


def _reconciliation(db_path: Path) -> tuple[bool, dict]:
    with reader(db_path) as con:
        unbalanced = con.execute(
            "SELECT count(*) FROM audit.delivery_tables WHERE rows_received <>"
            " rows_loaded + rows_rejected"
        ).fetchone()[0]
        deliveries_unbalanced = con.execute(
            """SELECT count(*) FROM audit.deliveries d
               LEFT JOIN (SELECT delivery_id, sum(rows_received) r, sum(rows_loaded) l,
                                 sum(rows_rejected) j
                          FROM audit.delivery_tables GROUP BY ALL) t USING (delivery_id)
               WHERE d.rows_received <> d.rows_loaded + d.rows_rejected
                  OR (t.delivery_id IS NOT NULL AND (d.rows_received <> t.r
                      OR d.rows_loaded <> t.l OR d.rows_rejected <> t.j))"""
        ).fetchone()[0]
        parts = " UNION ALL ".join(
            f"SELECT '{n}' AS table_name, delivery_id, count(*) AS n FROM staging.{n} GROUP BY ALL"
            for n in load_contract().tables
        )
        staged_mismatch = con.execute(
            f"""WITH staged AS ({parts}),
                current AS (SELECT d.delivery_id, unnest(d.current_tables) AS table_name
                            FROM audit.deliveries d)
                SELECT count(*) FROM current c
                JOIN audit.delivery_tables t USING (delivery_id, table_name)
                LEFT JOIN staged s USING (delivery_id, table_name)
                WHERE coalesce(s.n, 0) <> t.rows_loaded"""
        ).fetchone()[0]
    return unbalanced == 0 and deliveries_unbalanced == 0 and staged_mismatch == 0, {
        "unbalanced_tables": unbalanced,
        "unbalanced_deliveries": deliveries_unbalanced,
        "staging_mismatches": staged_mismatch,
    }


def _references_and_keys(
    db_path: Path, condition: str, params: list, scope: str
) -> tuple[bool, dict]:
    contract = load_contract()
    with reader(db_path) as con:
        orphans = {
            t.name: con.execute(
                f"SELECT count(*) FROM (SELECT provider_id, case_id FROM staging.{t.name}"
                f" WHERE {condition}) x ANTI JOIN (SELECT provider_id, case_id FROM"
                f" staging.cases WHERE {condition}) c USING (provider_id, case_id)",
                params * 2,
            ).fetchone()[0]
            for t in contract.tables.values()
            if t.references
        }
        dupes = {
            t.name: con.execute(
                f"SELECT count(*) FROM (SELECT {', '.join(t.key)} FROM staging.{t.name}"
                f" WHERE {condition} GROUP BY ALL HAVING count(*) > 1)",
                params,
            ).fetchone()[0]
            for t in contract.tables.values()
            if t.key
        }
    passed = not any(orphans.values()) and not any(dupes.values())
    return passed, {"checked": scope, "orphans": orphans, "duplicate_keys": dupes}


def _no_identifiers(db_path: Path, condition: str, params: list, scope: str) -> tuple[bool, dict]:
    from data_contracts.rules import lit, match_text

    contract = load_contract()
    columns = [
        (t.name, c.name, c.is_key)
        for t in contract.tables.values()
        for c in t.columns
        if c.type in ("text", "code")
    ]
    # distinct values first, then the expressions (as in the gate, pipelines/ingest/gate.py)
    values = " UNION ALL ".join(
        f"SELECT '{t}' AS t, {int(key)} AS key, v FROM (SELECT DISTINCT {col} AS v"
        f" FROM staging.{t} WHERE ({condition}) AND {col} IS NOT NULL)"
        for t, col, key in columns
    )
    any_re, key_re = lit(contract.identifier_regex()), lit(contract.identifier_regex(key=True))
    with reader(db_path) as con:
        con.execute(f"CREATE TEMP TABLE staged_values AS {values}", params * len(columns))
        rows = con.execute(
            "SELECT t, count(*) FROM staged_values WHERE CASE WHEN key = 1"
            f" THEN regexp_matches({match_text('v')}, {key_re})"
            f" ELSE regexp_matches({match_text('v')}, {any_re})"
            " END GROUP BY t"
        ).fetchall()
    hits = {t: int(n) for t, n in rows if n}
    return not hits, {"checked": scope, "hits": hits or "keine"}


@dg.sensor(
    name="inbox_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Startet einen Lauf, sobald eine neue Lieferung im Posteingang liegt.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, lagebild: LagebildResource):
    inbox = lagebild.settings().inbox
    if not inbox or not Path(inbox).is_dir():
        return dg.SkipReason("Kein Posteingang konfiguriert (LAGEBILD_INBOX).")
    # name, size and time of every entry (lstat: a symlink is never followed, a dangling one
    # does not fail): cheap enough to poll, changes with every new drop
    entries = []
    for p in sorted(Path(inbox).iterdir()):
        try:
            st = p.lstat()
        except OSError:
            continue
        entries.append(f"{p.name!r}:{st.st_size}:{st.st_mtime_ns}")
    fingerprint = ",".join(entries)
    if fingerprint == (context.cursor or ""):
        return dg.SkipReason("Keine neue Lieferung.")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=None)


SENSORS = [inbox_sensor]
