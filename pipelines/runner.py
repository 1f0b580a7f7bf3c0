"""`lagebild run`, `lagebild check` and `lagebild demo`.

`run` materialises the same Dagster assets `dagster dev` shows, in-process, against the
workspace's own Dagster instance (WORKSPACE/.dagster), so every CLI run also appears in the UI.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import UserError
from kernel.settings import Settings, load_settings

log = logging.getLogger("lagebild")

STAGE_OF_GROUP = {"marts": "marts", "themes": "themes", "publish": "publish", "reports": "reports"}


def _console_logging() -> None:
    """Progress lines of the `lagebild` logger on stdout, once."""
    if any(getattr(h, "_lagebild", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    handler._lagebild = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    seconds: float
    failures: list[str] = field(default_factory=list)
    stages: dict[str, dict] = field(default_factory=dict)  # stage -> seconds, peak_rss_mb


def run_pipeline(settings: Settings, selection=None) -> RunOutcome:
    """Materialise all assets (or `selection`) with their checks, in-process."""
    import dagster as dg

    from kernel.warehouse import WorkspaceBusy, write_lock
    from pipelines import observe
    from pipelines.defs import all_asset_checks, all_assets
    from pipelines.resources import LagebildResource

    ws = settings.ws.ensure()
    instance = dg.DagsterInstance.from_config(str(ws.dagster_home))
    resource = LagebildResource(
        workspace=str(ws.root),
        inbox=str(settings.inbox or ""),
        as_of=settings.as_of.isoformat() if settings.as_of else "",
    )
    observe.reset_stages()
    observe.start_sampling()
    t0 = time.perf_counter()
    try:
        with write_lock(ws.lock_file):
            result = dg.materialize(
                [*all_assets(), *all_asset_checks()],
                resources={"lagebild": resource},
                instance=instance,
                selection=selection,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                tags={"lagebild/quelle": "kommandozeile"},
            )
    except WorkspaceBusy as exc:
        raise UserError(str(exc)) from exc
    seconds = time.perf_counter() - t0
    failures = [
        f"{ev.step_key}: {_failure_text(ev)}"
        for ev in result.all_events
        if ev.event_type_value == "STEP_FAILURE"
    ]
    failures += [
        f"Prüfung {ev.asset_check_evaluation_data.check_name} an"
        f" {ev.asset_check_evaluation_data.asset_key.to_user_string()} nicht bestanden"
        for ev in result.all_events
        if ev.event_type_value == "ASSET_CHECK_EVALUATION"
        and not ev.asset_check_evaluation_data.passed
    ]
    outcome = RunOutcome(result.success and not failures, result.run_id, seconds, failures)
    outcome.stages = _stage_figures(instance, result.run_id)
    _record_stages(ws, outcome)
    return outcome


STAGE_LABELS = {
    "landing": "Landung",
    "parse": "Lesen",
    "validate": "Prüfung",
    "staging": "Staging",
    "marts": "Marts",
    "themes": "Themen",
    "publish": "Veröffentlichung",
    "reports": "Berichte",
}


def _record_stages(ws, outcome: RunOutcome) -> None:
    """Keep the stage figures of every run in audit.runs (read by `make bench`)."""
    from kernel.warehouse import writer

    if not ws.db_path.exists() or not outcome.stages:
        return
    with writer(ws.db_path, ws.lock_file) as con:
        con.executemany(
            "INSERT INTO audit.runs VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?)",
            [
                (outcome.run_id, name, f["seconds"], f["peak_rss_mb"], None)
                for name, f in outcome.stages.items()
            ]
            + [
                (
                    outcome.run_id,
                    "gesamt",
                    outcome.seconds,
                    max((f["peak_rss_mb"] for f in outcome.stages.values()), default=0.0),
                    None,
                )
            ],
        )


def _failure_text(ev) -> str:
    data = ev.step_failure_data
    err = getattr(data, "error", None)
    return err.message.strip().splitlines()[-1] if err and err.message else "fehlgeschlagen"


def _stage_figures(instance, run_id: str) -> dict[str, dict]:
    """Seconds and peak RSS per stage: ingest phases from observe.stage, the rest from the
    Dagster step windows of this run (marts, themes, publish, reports)."""
    from pipelines import observe
    from pipelines.defs import all_assets

    figures = {
        name: {"seconds": round(st.seconds, 3), "peak_rss_mb": round(st.peak_rss_mb, 1)}
        for name, st in observe.STAGES.items()
    }
    group_of_step: dict[str, str] = {}
    for a in all_assets():
        for key in a.keys:
            group_of_step[a.node_def.name] = a.group_names_by_key.get(key, "")
    windows: dict[str, list[float]] = {}
    for rec in instance.all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None:
            continue
        stage_name = STAGE_OF_GROUP.get(group_of_step.get(ev.step_key, ""))
        if stage_name is None:
            continue
        w = windows.setdefault(stage_name, [float("inf"), 0.0])
        if ev.event_type_value == "STEP_START":
            w[0] = min(w[0], rec.timestamp)
        elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            w[1] = max(w[1], rec.timestamp)
    for name, (start, end) in windows.items():
        if end > start and name not in figures:
            figures[name] = {
                "seconds": round(end - start, 3),
                "peak_rss_mb": round(observe.peak_between(start, end), 1),
            }
    return figures


def _print_run_summary(settings: Settings, outcome: RunOutcome) -> None:
    from kernel.warehouse import reader
    from pipelines.ingest.load import STATUS_DE

    ws = settings.ws
    if not ws.db_path.exists():
        return
    with reader(ws.db_path) as con:
        statuses = con.execute(
            "SELECT status, count(*) FROM audit.deliveries GROUP BY 1 ORDER BY 1"
        ).fetchall()
        basis = con.execute(
            "SELECT as_of, as_of_source, providers, deliveries FROM meta.data_basis"
        ).fetchone()
        quarantined = con.execute(
            "SELECT source_name, message FROM audit.deliveries WHERE status = 'quarantined'"
            " ORDER BY source_name"
        ).fetchall()
    print()
    print(
        "Lieferungen im Arbeitsbereich: "
        + ", ".join(f"{n} {STATUS_DE.get(s, s)}" for s, n in statuses)
    )
    for name, message in quarantined:
        print(f"  {name} – {message}")
    if basis:
        source = "angegeben" if basis[1] == "argument" else "früheste aktuelle Lieferung"
        print(
            f"Datenstand: {basis[0]} ({source}); {basis[2]} Träger, {basis[3]} aktuelle Lieferungen"
        )
    print(f"Warehouse: {ws.db_path}")
    if ws.published_db_path.exists():
        print(f"Veröffentlichte Kopie für Dashboards: {ws.published_db_path}")
    parts = [
        f"{label} {outcome.stages[k]['seconds']:.1f} s"
        for k, label in STAGE_LABELS.items()
        if k in outcome.stages
    ]
    print(f"Laufzeit: {outcome.seconds:.1f} s" + (f" ({', '.join(parts)})" if parts else ""))


def cli_run(args) -> int:
    _console_logging()
    if not args.inbox.is_dir():
        raise UserError(f"Posteingang nicht gefunden: {args.inbox}")
    settings = load_settings(args.workspace, args.inbox, args.as_of)
    print(f"Lagebild: Lauf über {args.inbox} → {settings.workspace}")
    outcome = run_pipeline(settings)
    _print_run_summary(settings, outcome)
    if not outcome.success:
        print("\nDer Lauf ist nicht vollständig durchgelaufen:", file=sys.stderr)
        for f in outcome.failures:
            print(f"  - {f}", file=sys.stderr)
        print(
            "Details: `make dagster` bzw. `dagster dev` zeigt den Lauf"
            f" {outcome.run_id[:8]} mit allen Ereignissen.",
            file=sys.stderr,
        )
        return 1
    return 0


def cli_check(args) -> int:
    """Validate one delivery without loading anything. Exit 0 = fehlerfrei, 1 = Zeilen würden
    abgelehnt, 3 = Quarantäne."""
    from kernel.warehouse import connect
    from pipelines.ingest.load import REJECTIONS_TMP, inspect_delivery, quarantine_rows

    path: Path = args.path
    if not path.exists():
        raise UserError(f"Lieferung nicht gefunden: {path}")
    con = connect()
    with tempfile.TemporaryDirectory(prefix="lagebild-check-") as tmp:
        insp = inspect_delivery(con, path, Path(tmp))
        rows = con.execute(
            f"SELECT table_name, file_name, line, column_name, reason FROM {REJECTIONS_TMP}"
            " ORDER BY table_name, line"
        ).fetchall()
    print(f"Prüfung der Lieferung {path.name} ({insp.parsed.format or insp.parsed.kind})")
    print(f"Träger: {insp.provider_id or '—'} · Exportdatum: {insp.exported_on or '—'}")
    for note in insp.notes:
        print(f"Hinweis: {note}")
    if insp.quarantine:
        print("\nDie Lieferung käme vollständig in Quarantäne (keine Zeile würde geladen):")
        for _, file_name, line, _, reason, _ in quarantine_rows(insp):
            where = f"{file_name or '—'}" + (f", Zeile {line}" if line else "")
            print(f"  - {where}: {reason}")
        con.close()
        return 3
    print(f"\n{'Tabelle':<12}{'Datei':<28}{'erhalten':>10}{'gültig':>10}{'abgelehnt':>11}")
    for c in insp.counts.values():
        print(
            f"{c.table_name:<12}{c.file_name[:27]:<28}{c.received:>10}{c.loaded:>10}"
            f"{c.rejected:>11}"
        )
    shown = rows[:50]
    if rows:
        print(f"\nAbgelehnte Zeilen ({len(rows)}):")
        for _table, file_name, line, _, reason in shown:
            print(f"  - {file_name}, Zeile {line}: {reason}")
        if len(rows) > len(shown):
            print(f"  … und {len(rows) - len(shown)} weitere")
    gx = _check_with_suites(con, insp)
    con.close()
    if gx:
        print(f"\nGreat Expectations auf den gültigen Zeilen: {gx}")
    if rows:
        print(
            f"\nErgebnis: würde teilweise angenommen ({len(rows)} Zeilen abgelehnt)."
            " Es wurde nichts geladen."
        )
        return 1
    print("\nErgebnis: fehlerfrei, würde vollständig angenommen. Es wurde nichts geladen.")
    return 0


def _check_with_suites(con, insp) -> str:
    """Run the contract's GX suites on the rows that passed the row rules."""
    from data_contracts.suites import ephemeral_context, validate_frame

    context = ephemeral_context()
    results = []
    for name in insp.counts:
        table = insp.parsed.tables[name].table
        cols = ", ".join(table.column_names)
        frame = con.execute(
            f"SELECT {cols}, NULL::VARCHAR AS delivery_id FROM checked_{name} WHERE len(faults) = 0"
        ).df()
        results.append(validate_frame(context, table, frame)[0])
    if not results:
        return ""
    bad = [r for r in results if not r.success]
    total = sum(r.evaluated for r in results)
    if not bad:
        return f"{len(results)} Suiten, {total} Erwartungen, alle erfüllt"
    return f"{len(bad)} von {len(results)} Suiten verletzt: " + "; ".join(
        f"{r.table}: {', '.join(f['expectation'] for f in r.failed)}" for r in bad
    )


def cli_demo(args) -> int:
    """Generate demo exports (once), run everything, print where the results are."""
    _console_logging()
    workspace: Path = args.workspace.resolve()
    inbox = workspace / "inbox"
    if not inbox.is_dir() or not any(inbox.iterdir()):
        from generator import generate_inbox

        print(f"Erzeuge Demo-Exporte ({args.cases} Fälle, {args.providers} Träger) in {inbox} …")
        generate_inbox(
            inbox, cases=args.cases, providers=args.providers, seed=args.seed, with_faults=True
        )
    settings = load_settings(workspace, inbox, None)
    print(f"Lagebild-Demo: Lauf über {inbox}")
    outcome = run_pipeline(settings)
    _print_run_summary(settings, outcome)
    reports = sorted(p for p in settings.ws.reports_dir.rglob("*") if p.is_file())
    if reports:
        print("\nBerichte:")
        for p in reports:
            print(f"  {p}")
    if not outcome.success:
        for f in outcome.failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print(f"\nDashboards: make dashboard  (oder lagebild dashboard --workspace {workspace} --demo)")
    if args.serve:
        from dashboards.launch import launch

        return launch(workspace, port=args.port, demo=True)
    return 0
