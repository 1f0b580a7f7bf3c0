"""`lagebild run`, `lagebild check` and `lagebild demo`.

`run` materialises the same Dagster assets `dagster dev` shows, in-process, against the
workspace's own Dagster instance (WORKSPACE/.dagster), so every CLI run also appears in the UI.

A run holds the workspace lock from before anything of the Dagster instance is created or
migrated until its summary is printed; a second run waits up to `lock_wait_seconds` and then
stops with a clear message. When a run cannot run (workspace is a file or read-only, broken
`lagebild.yaml`, corrupt warehouse, another program holding it, no inbox) the command line
prints one German sentence with cause and remedy and exits 2; the technical details go to
WORKSPACE/logs/<lauf>.log (or the system's temp folder when the workspace is unusable).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kernel.errors import UserError
from kernel.settings import Settings, load_settings

log = logging.getLogger("lagebild")
# a line every so often while a run works (observe.heartbeat): only long runs get one
HEARTBEAT_SECONDS = 30.0

STAGE_OF_GROUP = {"marts": "marts", "themes": "themes", "publish": "publish", "reports": "reports"}


class _Stdout(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (never to a stream closed since)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _console_logging() -> None:
    """Progress lines of the `lagebild` logger on stdout, once."""
    if any(getattr(h, "_lagebild", False) for h in log.handlers):
        return
    handler = _Stdout()
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
    log_path: Path | None = None  # technical details of failed steps
    no_data: bool = False  # completed, but no delivery has been accepted (yet)


STEP_LABELS = {
    "landing": "Landung",
    "staging": "Lesen und Prüfen der Lieferungen (staging)",
    "marts": "Marts",
    "themes": "Themen",
    "published_warehouse": "Veröffentlichung",
    "reports": "Berichte",
}
NO_DATA_CAUSES = ("Kein Datenstand", "Noch keine Daten", "keine Daten")


def new_log_path(ws_root: Path | None, command: str = "lauf") -> Path:
    """WORKSPACE/logs/<command>-<time>-<pid>.log, or the temp folder when that is unusable."""
    name = f"{command}-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    for folder in ([ws_root / "logs"] if ws_root else []) + [
        Path(tempfile.gettempdir()) / "lagebild-logs"
    ]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.touch()
            return path
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / name


def write_log(path: Path, title: str, body: str) -> Path | None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"== {datetime.now():%Y-%m-%d %H:%M:%S} {title}\n{body.rstrip()}\n\n")
        return path
    except OSError:
        return None


def _check_workspace(root: Path) -> None:
    """Workspace usable? One German sentence with cause and remedy if not."""
    if root.exists() and not root.is_dir():
        raise UserError(
            f"Der Arbeitsbereich {root} ist eine Datei, kein Ordner. Bitte mit --workspace einen"
            " Ordner angeben (er wird angelegt, wenn es ihn noch nicht gibt)."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".schreibtest-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"Keine Schreibrechte im Arbeitsbereich {root} (oder das Laufwerk ist"
            " schreibgeschützt). Bitte einen beschreibbaren Ordner angeben oder die Rechte"
            " anpassen."
        ) from exc


def _check_warehouse(ws, wait_seconds: float, on_wait) -> None:
    """Open the warehouse once before Dagster starts: a corrupt file or another program
    holding it is said plainly (waiting up to `wait_seconds` for the other program)."""
    from kernel.warehouse import connect, open_problem

    if not ws.db_path.exists():
        return
    deadline = time.monotonic() + max(0.0, wait_seconds)
    told = False
    while True:
        try:
            con = connect(ws.db_path)
            try:
                con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
            finally:
                con.close()
            return
        except Exception as exc:
            problem = open_problem(exc, ws.db_path)
            busy = problem and "geöffnet" in problem
            if busy and time.monotonic() < deadline:
                if on_wait and not told:
                    on_wait(
                        "Die Warehouse-Datei ist von einem anderen Programm geöffnet; warte bis"
                        f" zu {wait_seconds:.0f} s …"
                    )
                    told = True
                time.sleep(0.5)
                continue
            if problem:
                raise UserError(problem) from exc
            raise


def _open_instance(ws):
    from pipelines.dagster_home import open_instance
    from pipelines.event_log import keep_connections

    try:
        instance = open_instance(ws.dagster_home)
        keep_connections(instance)
        return instance
    except Exception as exc:
        raise UserError(
            f"Die Dagster-Ablage {ws.dagster_home} ist beschädigt oder nicht lesbar. Bitte den"
            " Ordner umbenennen und den Lauf wiederholen (er wird neu angelegt; Lieferungen und"
            " Warehouse bleiben erhalten)."
        ) from exc


def run_pipeline(
    settings: Settings, selection=None, on_wait=None, after=None, on_progress=None
) -> RunOutcome:
    """Materialise all assets (or `selection`) with their checks, in-process, under the
    workspace lock (taken before the Dagster instance is touched). `after(outcome)` runs
    while the lock is still held (the command line prints its summary there);
    `on_progress(line)` gets the lines of a long run (`observe.heartbeat`; default: the
    `lagebild` logger, which the command line prints).

    A whole run starts its contract-suites worker as soon as it holds the lock: the worker
    loads Great Expectations (2–3 s) beside this process's own start (Dagster and its
    storage), so that it is ready when the check comes (pipelines.suite_worker), and once that
    worker is done, the reports' worker (pipelines.report_worker), and when the marts' step
    begins, the grid's (pipelines.grid_worker); a run still waiting for the lock loads nothing
    beside the run that holds it."""
    from kernel.warehouse import WorkspaceBusy, write_lock
    from pipelines import grid_worker, report_worker, suite_worker

    _check_workspace(settings.workspace)
    try:
        lock = write_lock(settings.ws.lock_file, settings.lock_wait_seconds, on_wait)
        lock.__enter__()
    except WorkspaceBusy as exc:
        raise UserError(str(exc)) from exc
    try:
        if selection is None:
            suite_worker.start(then=report_worker.start)
            grid_worker.arm()  # started when the marts' step begins
        return _run_locked(settings, selection, on_wait, after, on_progress or log.info)
    finally:
        # helpers not asked (a step before theirs failed) end here; each stop and the lock's
        # release run even if one before them fails (a second Ctrl-C while a helper is reaped)
        with contextlib.ExitStack() as stops:
            stops.callback(lock.__exit__, None, None, None)
            for helper in (report_worker, grid_worker, suite_worker):  # last first
                stops.callback(helper.stop)


def _run_locked(settings: Settings, selection, on_wait, after, on_progress) -> RunOutcome:
    import dagster as dg

    from kernel.warehouse import limit_memory
    from pipelines import observe
    from pipelines.defs import all_asset_checks, all_assets
    from pipelines.interrupts import sigterm_kept
    from pipelines.resources import LagebildResource

    ws = settings.ws
    instance = None
    try:
        ws.ensure()
        limit_memory(
            settings.duckdb_memory_limit,
            settings.duckdb_temp_directory or ws.root / ".spill",
        )
        _check_warehouse(ws, settings.lock_wait_seconds, on_wait)
        instance = _open_instance(ws)
        resource = LagebildResource(
            workspace=str(ws.root),
            inbox=str(settings.inbox or ""),
            as_of=settings.as_of.isoformat() if settings.as_of else "",
            report_pdf=settings.report_pdf,
        )
        observe.reset_stages()
        observe.start_sampling()
        t0 = time.perf_counter()
        with observe.heartbeat(on_progress, STAGE_LABELS, HEARTBEAT_SECONDS), sigterm_kept():
            result = dg.materialize(
                [*all_assets(), *all_asset_checks()],
                resources={"lagebild": resource},
                instance=instance,
                selection=selection,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                tags={"lagebild/quelle": "kommandozeile"},
            )
        seconds = time.perf_counter() - t0
        outcome = RunOutcome(result.success, result.run_id, seconds)
        _collect_failures(ws, result, outcome)
        outcome.stages = _stage_figures(instance, result.run_id)
        _record_stages(ws, outcome)
        if after:
            after(outcome)
        return outcome
    finally:
        if instance is not None:
            instance.dispose()  # closes the event log's kept connections (pipelines/event_log)


def _collect_failures(ws, result, outcome: RunOutcome) -> None:
    """German failure lines: the step's asset and cause (details into the run's log)."""
    failures, details = [], []
    no_data = _has_no_data(ws)
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            cause, chain = _failure_cause(ev, ws.db_path)
            details.append(f"Schritt {ev.step_key}:\n{chain}")
            if no_data and any(m in cause for m in NO_DATA_CAUSES):
                outcome.no_data = True  # nothing accepted yet: later steps have nothing to do
                continue
            label = STEP_LABELS.get(ev.step_key, ev.step_key)
            failures.append(f"Schritt „{label}“ ({ev.step_key}) fehlgeschlagen: {cause}")
        elif ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.asset_check_evaluation_data
            if not data.passed:
                failures.append(
                    f"Prüfung {data.check_name} an {data.asset_key.to_user_string()}"
                    " nicht bestanden"
                )
    if details:
        outcome.log_path = write_log(
            new_log_path(ws.root), f"Lauf {outcome.run_id}", "\n".join(details)
        )
    outcome.failures = failures
    outcome.success = not failures and (result.success or outcome.no_data)


def _has_no_data(ws) -> bool:
    """True when no delivery supplies a current table, or nothing is there at the cut-off."""
    from kernel.warehouse import reader

    if not ws.db_path.exists():
        return True
    try:
        with reader(ws.db_path) as con:
            current = con.execute(
                "SELECT count(*) FROM audit.deliveries WHERE len(current_tables) > 0"
            ).fetchone()[0]
            if not current:
                return True
            as_of = con.execute("SELECT max(as_of) FROM meta.data_basis").fetchone()[0]
            cases = con.execute(
                "SELECT count(*) FROM staging.cases WHERE opened_on <= ?", [as_of]
            ).fetchone()[0]
            return as_of is None or cases == 0
    except Exception:
        return False


STAGE_LABELS = {
    "landing": "Landung",
    "ingest": "Lesen, Prüfen und Laden",  # wall time; parse/validate/staging overlap in it
    "marts": "Marts",
    "themes": "Themen",
    "publish": "Veröffentlichung",
    "reports": "Berichte",
    "checks": "Prüfregeln",
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


WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")
USER_ERRORS = ("UserError", "SettingsError", "WorkspaceBusy", "ReportError", "Failure")


def _failure_cause(ev, db_path: Path) -> tuple[str, str]:
    """(German cause, the whole error chain for the log) of a failed step."""
    from kernel.warehouse import open_problem

    data = ev.step_failure_data
    err = getattr(data, "error", None)
    chain, innermost, user = [], None, None
    while err is not None and len(chain) < 20:
        chain.append(f"{err.cls_name}: {err.message.strip()}\n{''.join(err.stack or [])}")
        if err.cls_name not in WRAPPERS:
            innermost = err
            if err.cls_name in USER_ERRORS:
                user = err
        err = err.cause or err.context
    text = "\n".join(chain)
    if user is not None:  # our own German messages
        failure = getattr(data, "user_failure_data", None)
        msg = (failure and failure.description) or user.message.strip().split(": ", 1)[-1]
        return msg.strip(), text
    if innermost is None:
        return "fehlgeschlagen", text
    message = innermost.message
    problem = open_problem(message, db_path)
    if problem:
        return problem, text
    if "Kein Datenstand" in message:
        return "Kein Datenstand: es wurde noch keine Lieferung angenommen", text
    if innermost.cls_name in ("MemoryError", "OutOfMemoryException") or "Out of Memory" in message:
        return "der Arbeitsspeicher reichte nicht aus", text
    if "No space left" in message:
        return "kein Speicherplatz mehr auf dem Laufwerk des Arbeitsbereichs", text
    return f"unerwarteter Fehler ({innermost.cls_name})", text


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
    from pipelines.ingest.batch import STATUS_DE

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
        + (", ".join(f"{n} {STATUS_DE.get(s, s)}" for s, n in statuses) or "keine")
    )
    for name, message in quarantined:
        print(f"  {name} – {message}")
    if outcome.no_data or _has_no_data(ws):
        if basis and basis[1] == "argument" and basis[2]:
            print(
                f"Noch keine Daten zum Datenstand {basis[0]}: die angenommenen Lieferungen"
                " beginnen später. Marts, Dashboards und Berichte zeigen „keine Daten“."
            )
        else:
            print(
                "Noch keine Daten: es wurde noch keine Lieferung angenommen. Marts, Dashboards"
                " und Berichte zeigen „keine Daten“, bis eine gültige Lieferung eingeht."
            )
    elif basis:
        source = "angegeben" if basis[1] == "argument" else "früheste aktuelle Lieferung"
        print(
            f"Datenstand: {basis[0]} ({source}); {basis[2]} Träger, {basis[3]} aktuelle Lieferungen"
        )
    print(f"Warehouse: {ws.db_path}")
    if ws.published_db_path.exists():
        print(f"Veröffentlichte Kopie für Dashboards und Auswertungen: {ws.published_db_path}")
    if ws.reports_dir.is_dir() and any(ws.reports_dir.iterdir()):
        print(
            f"Berichte: {ws.reports_dir}"
            + ("" if settings.report_pdf else " (HTML und XLSX; PDF mit `lagebild run --pdf`)")
        )
    parts = [
        f"{label} {outcome.stages[k]['seconds']:.1f} s"
        for k, label in STAGE_LABELS.items()
        if k in outcome.stages
    ]
    print(f"Laufzeit: {outcome.seconds:.1f} s" + (f" ({', '.join(parts)})" if parts else ""))


def _print_failures(outcome: RunOutcome) -> None:
    print("\nDer Lauf ist nicht vollständig durchgelaufen:", file=sys.stderr)
    for f in outcome.failures:
        print(f"  - {f}", file=sys.stderr)
    if outcome.log_path:
        print(f"Technische Details: {outcome.log_path}", file=sys.stderr)
    print(
        f"Alle Ereignisse: `make dagster` bzw. `dagster dev` zeigt den Lauf {outcome.run_id[:8]}.",
        file=sys.stderr,
    )


def cannot_run(exc: BaseException, ws_root: Path | None, command: str = "lauf") -> UserError:
    """The one German sentence for a run that could not run; the traceback into a log file
    whose path the sentence names."""
    log_path = new_log_path(ws_root if ws_root and ws_root.is_dir() else None, command)
    written = write_log(
        log_path,
        f"lagebild {command}: konnte nicht ausgeführt werden",
        "".join(traceback.format_exception(exc)),
    )
    where = f" Details: {written}" if written else ""
    if isinstance(exc, UserError):
        return UserError(f"{exc}{where}")
    what = "Der Lauf" if command in ("lauf", "demo") else f"„lagebild {command}“"
    return UserError(
        f"{what} konnte wegen eines unerwarteten Fehlers ({type(exc).__name__}) nicht"
        f" ausgeführt werden. Bitte das Protokoll an die Betreuung des Systems geben.{where}"
    )


def cli_run(args) -> int:
    _console_logging()
    ws_root = Path(args.workspace).resolve()
    try:
        if not args.inbox.is_dir():
            raise UserError(
                f"Posteingang nicht gefunden: {args.inbox}. Bitte den Ordner mit den Lieferungen"
                " mit --inbox angeben."
            )
        _check_workspace(ws_root)
        settings = load_settings(args.workspace, args.inbox, args.as_of, args.pdf or None)
        print(f"Lagebild: Lauf über {args.inbox} → {settings.workspace}")
        outcome = run_pipeline(
            settings,
            on_wait=lambda m: print(m, flush=True),
            after=lambda o: _print_run_summary(settings, o),
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise cannot_run(exc, ws_root) from exc
    if not outcome.success:
        _print_failures(outcome)
        return 1
    return 0


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
    try:
        settings = load_settings(workspace, inbox, None, report_pdf=True)
        print(f"Lagebild-Demo: Lauf über {inbox}")
        outcome = run_pipeline(
            settings,
            on_wait=lambda m: print(m, flush=True),
            after=lambda o: _print_run_summary(settings, o),
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise cannot_run(exc, workspace, "demo") from exc
    reports = sorted(p for p in settings.ws.reports_dir.rglob("*") if p.is_file())
    if reports:
        print("\nBerichte:")
        for p in reports:
            print(f"  {p}")
    if not outcome.success:
        _print_failures(outcome)
        return 1
    _demo_release(workspace)
    from pipelines.commands.deliveries import held_summary

    print(held_summary(workspace))  # issue 13: the held demo delivery and how to decide it
    print(f"\nDashboards: make dashboard  (oder lagebild dashboard --workspace {workspace} --demo)")
    if args.serve:
        from dashboards.launch import launch

        return launch(workspace, port=args.port, demo=True)
    return 0


def _demo_release(workspace: Path) -> None:
    """The demo's first run makes one release of the steering-group report and says how to
    verify it (issue 14); later demo runs leave the releases as they are."""
    from dashboards.reports import default_period
    from dashboards.reports.release import list_releases, make_release

    period = default_period(workspace)
    if period is None or not list_releases(workspace).empty:
        return
    folder = make_release(workspace, "lenkungsgruppe", period, note="Demo", user="demo")
    print(f"\nVeröffentlichung {folder.name}: {folder}")
    print(f"Prüfen mit: lagebild verify {folder.name} --workspace {workspace}")
