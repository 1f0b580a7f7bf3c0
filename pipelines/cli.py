"""The `lagebild` command line.

Argument parsing only; every command's work lives in the module that owns it and is imported
lazily, so `lagebild --help` stays instant (Dagster and Great Expectations are slow to import).
Messages for users are German.

Commands that write start with umask 077 (`kernel.private`); `run` and `demo` first warn about
and close looser modes in the workspace, prune the access log to its retention, and make
everything the run wrote owner-only at the end (landing copies keep their source's mode).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import re
import sys
import threading
from datetime import date
from pathlib import Path

from kernel.errors import UserError

# command -> "module:function"; the function takes the parsed args and returns an exit code.
HANDLERS = {
    "run": "pipelines.runner:cli_run",
    "check": "pipelines.commands.check:cli_check",
    "demo": "pipelines.runner:cli_demo",
    "generate": "generator:cli_generate",
    "report": "dashboards.reports:cli_report",
    "dashboard": "dashboards.launch:cli_dashboard",
    "themes": "pipelines.commands.themes:cli_themes",
    "users": "dashboards.auth:cli_users",
    "audit-log": "kernel.access_log:cli_audit_log",
    "release": "pipelines.commands.release:cli_release",
    "releases": "pipelines.commands.release:cli_releases",
    "verify": "pipelines.commands.release:cli_verify",
    "deliveries": "pipelines.commands.deliveries:cli_deliveries",
}


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"'{value}' ist kein Datum im Format JJJJ-MM-TT (z. B. 2026-09-30)"
        ) from exc


def quarter(value: str) -> str:
    if not re.fullmatch(r"\d{4}-Q[1-4]", value):
        raise argparse.ArgumentTypeError(
            f"'{value}' ist kein Quartal im Format JJJJ-Qn (z. B. 2026-Q3)"
        )
    return value


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{value}' ist keine ganze Zahl") from exc
    if n < 1:
        raise argparse.ArgumentTypeError("muss mindestens 1 sein")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lagebild",
        description="Lagebild: Versorgungslücken, generative Themen, Fallzahlen je VZÄ und"
        " Wiederaufnahmen aus den anonymisierten Fallexporten eines Case-Management-Netzwerks.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="BEFEHL")

    run = sub.add_parser(
        "run", help="alle Lieferungen eines Posteingangs einlesen und die Marts neu bauen"
    )
    run.add_argument("--inbox", type=Path, required=True, help="Ordner mit den Lieferungen")
    run.add_argument(
        "--workspace",
        type=Path,
        required=True,
        help="Arbeitsbereich (Warehouse, Landezone, Berichte)",
    )
    run.add_argument(
        "--as-of", type=iso_date, help="Datenstand JJJJ-MM-TT (Standard: aus den Lieferungen)"
    )
    run.add_argument(
        "--pdf",
        action="store_true",
        help="die Berichte auch als PDF drucken (Standard: nur HTML und XLSX;"
        " dauerhaft mit report_pdf: true in lagebild.yaml)",
    )

    check = sub.add_parser("check", help="eine Lieferung prüfen, ohne sie zu laden")
    check.add_argument("path", type=Path, help="Ordner, .zip, .xlsx oder .csv einer Lieferung")

    demo = sub.add_parser("demo", help="Demo-Exporte erzeugen, alles ausführen, Berichte schreiben")
    demo.add_argument(
        "--workspace", type=Path, default=Path("demo-workspace"), help="Standard: ./demo-workspace"
    )
    demo.add_argument(
        "--cases", type=positive_int, default=6000, help="Anzahl Fälle (Standard 6000)"
    )
    demo.add_argument(
        "--providers", type=positive_int, default=8, help="Anzahl Träger (Standard 8)"
    )
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--serve", action="store_true", help="danach die Dashboards öffnen (Demo-Nutzer)"
    )
    demo.add_argument("--port", type=int, default=8501)

    gen = sub.add_parser("generate", help="synthetische Exporte beliebiger Größe erzeugen")
    gen.add_argument("--cases", type=positive_int, required=True)
    gen.add_argument("--providers", type=positive_int, required=True)
    gen.add_argument("--out", type=Path, required=True, help="Zielordner (Posteingang)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument(
        "--exported-on",
        type=iso_date,
        default=date(2026, 10, 15),
        help="Exportdatum der Lieferungen (Standard 2026-10-15)",
    )
    gen.add_argument("--years", type=float, default=4.0, help="Jahre Fallgeschichte (Standard 4)")
    gen.add_argument(
        "--with-faults",
        action="store_true",
        help="zusätzlich je eine Lieferung mit fehlerhaften Zeilen und mit einem Identifikator",
    )
    gen.add_argument(
        "--plain",
        action="store_true",
        help="alle Lieferungen als UTF-8-CSV-Ordner (für Benchmarks); sonst gemischte Formate",
    )

    rep = sub.add_parser("report", help="Bericht als HTML, PDF oder XLSX schreiben")
    rep.add_argument("--workspace", type=Path, required=True)
    rep.add_argument("--kind", choices=["lenkungsgruppe", "evaluation", "foerderer"], required=True)
    rep.add_argument("--period", type=quarter, required=True, help="Quartal JJJJ-Qn")
    rep.add_argument("--out", type=Path, required=True, help="Zieldatei .html, .pdf oder .xlsx")
    rep.add_argument("--provider", help="nur diesen Träger berichten (Träger-Sicht)")

    dash = sub.add_parser("dashboard", help="Dashboards starten")
    dash.add_argument("--workspace", type=Path, required=True)
    dash.add_argument("--port", type=int, default=8501)
    dash.add_argument(
        "--demo", action="store_true", help="Demo-Modus mit vorbereiteten Demo-Nutzern"
    )

    themes = sub.add_parser("themes", help="generative Themen und Themenspeicher")
    tsub = themes.add_subparsers(dest="themes_command", required=True, metavar="AKTION")
    tl = tsub.add_parser("list", help="Themen mit Status auflisten")
    tl.add_argument("--workspace", type=Path, required=True)
    tl.add_argument("--all", action="store_true", help="auch inaktive Themen zeigen")
    ts = tsub.add_parser("set", help="Status, Gremium oder Beschlussnotiz eines Themas setzen")
    ts.add_argument("theme_id")
    ts.add_argument(
        "--status",
        required=True,
        choices=[
            "neu",
            "priorisiert",
            "themenspeicher",
            "projektgruppe",
            "lenkungsgruppe",
            "erledigt",
        ],
    )
    ts.add_argument("--owner", help="zuständiges Gremium, z. B. 'AG Gesundheit'")
    ts.add_argument("--note", help="Beschlussnotiz (wird mit Datum gespeichert)")
    ts.add_argument("--workspace", type=Path, required=True)

    users = sub.add_parser("users", help="Dashboard-Nutzer verwalten")
    usub = users.add_subparsers(dest="users_command", required=True, metavar="AKTION")
    ua = usub.add_parser(
        "add", help="Nutzer anlegen oder Passwort ändern (Passwort wird abgefragt)"
    )
    ua.add_argument("name")
    ua.add_argument(
        "--role", required=True, choices=["koordination", "traeger", "evaluation", "foerderer"]
    )
    ua.add_argument("--provider", help="Träger-ID (nur für Rolle traeger, dann Pflicht)")
    ua.add_argument(
        "--password-stdin", action="store_true", help="Passwort von der Standardeingabe lesen"
    )
    ua.add_argument("--workspace", type=Path, required=True)
    ur = usub.add_parser("remove", help="Nutzer entfernen")
    ur.add_argument("name")
    ur.add_argument("--workspace", type=Path, required=True)
    ul = usub.add_parser("list", help="Nutzer auflisten")
    ul.add_argument("--workspace", type=Path, required=True)
    uu = usub.add_parser(
        "unlock", help="Anmeldesperre und Wartezeit eines Nutzers nach Fehlversuchen aufheben"
    )
    uu.add_argument("name", nargs="?")
    uu.add_argument("--all", action="store_true", help="alle Sperren (Namen und Clients)")
    uu.add_argument("--workspace", type=Path, required=True)

    audit = sub.add_parser(
        "audit-log", help="Zugriffsprotokoll zeigen (Anmeldungen, Ansichten, Downloads, Berichte)"
    )
    audit.add_argument("--workspace", type=Path, required=True)
    audit.add_argument("--since", type=iso_date, help="nur Einträge ab JJJJ-MM-TT")
    audit.add_argument(
        "--prune",
        action="store_true",
        help="Einträge älter als access_log_retention_days entfernen",
    )
    _release_parsers(sub)
    _deliveries_parsers(sub)
    return p


def _deliveries_parsers(sub) -> None:
    dl = sub.add_parser(
        "deliveries", help="zurückgehaltene Lieferungen prüfen, freigeben oder verwerfen"
    )
    dsub = dl.add_subparsers(dest="deliveries_command", required=True, metavar="AKTION")
    ls = dsub.add_parser("list", help="Lieferungen mit Status, Gründen und Entscheidung")
    ls.add_argument("--workspace", type=Path, required=True)
    ls.add_argument(
        "--status",
        choices=[
            "held",
            "rejected",
            "accepted",
            "partial",
            "quarantined",
            "duplicate",
            "superseded",
        ],
    )
    for action, text in (("release", "freigeben"), ("reject", "verwerfen")):
        a = dsub.add_parser(
            action, help=f"zurückgehaltene Lieferung {text} (wirkt im nächsten Lauf)"
        )
        a.add_argument("delivery_id")
        a.add_argument("--reason", required=True, help="Begründung (wird protokolliert)")
        a.add_argument("--workspace", type=Path, required=True)


def _release_parsers(sub) -> None:
    rel = sub.add_parser("release", help="Bericht unveränderlich veröffentlichen (prüfbar)")
    rel.add_argument("--workspace", type=Path, required=True)
    rel.add_argument("--kind", choices=["lenkungsgruppe", "evaluation", "foerderer"], required=True)
    rel.add_argument("--period", type=quarter, required=True, help="Quartal JJJJ-Qn")
    rel.add_argument("--note", help="Anmerkung, z. B. Sitzung der Lenkungsgruppe am …")
    rels = sub.add_parser("releases", help="Veröffentlichungen auflisten")
    rsub = rels.add_subparsers(dest="releases_command", required=True, metavar="AKTION")
    rsub.add_parser("list", help="alle Veröffentlichungen").add_argument(
        "--workspace", type=Path, required=True
    )
    ver = sub.add_parser(
        "verify", help="Veröffentlichung aus ihren Lieferungen nachbauen und prüfen"
    )
    ver.add_argument("release_id")
    ver.add_argument("--workspace", type=Path, required=True)
    ver.add_argument(
        "--keep",
        action="store_true",
        help="den nachgebauten Stand behalten: „Wie entsteht diese Zahl?“ im Berichtsarchiv"
        " zeigt dann die Fälle hinter den Zellen dieser Veröffentlichung",
    )


def _workspace_and_inbox(args) -> tuple[Path, Path | None]:
    workspace = Path(args.workspace).resolve()
    inbox = getattr(args, "inbox", None)
    return workspace, Path(inbox).resolve() if inbox else workspace / "inbox"


def _before_run(args) -> None:
    """Looser modes in the workspace: one warning line, then owner-only; access-log retention."""
    from kernel import access_log
    from kernel.private import secure_workspace
    from kernel.settings import SettingsError, load_settings

    workspace, inbox = _workspace_and_inbox(args)
    if not workspace.is_dir():  # not a workspace (yet): nothing to tighten; the run reports it
        return
    message = secure_workspace(workspace, skip=(inbox,))
    if message:
        print(message, file=sys.stderr)
    with contextlib.suppress(ValueError, SettingsError):  # a broken lagebild.yaml: the run says it
        access_log.prune(workspace, load_settings(workspace).access_log_retention_days)


def _after_run(args) -> None:
    from kernel.private import tighten

    workspace, inbox = _workspace_and_inbox(args)
    if workspace.is_dir():  # never raises out of `finally`: a read-only workspace was reported
        with contextlib.suppress(OSError):
            tighten(workspace, skip=(inbox,))


def main(argv: list[str] | None = None) -> int:
    from kernel.private import WRITING_COMMANDS, private_umask

    args = build_parser().parse_args(argv)
    module_name, func_name = HANDLERS[args.command].split(":")
    previous = private_umask() if args.command in WRITING_COMMANDS else None
    runs = args.command in ("run", "demo")
    try:
        if runs:
            _before_run(args)
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args) or 0)
    except UserError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Abgebrochen.", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback on the console: it goes to a log file
        from pipelines.runner import cannot_run

        workspace = getattr(args, "workspace", None)
        err = cannot_run(exc, Path(workspace).resolve() if workspace else None, args.command)
        print(f"Fehler: {err}", file=sys.stderr)
        return 2
    finally:
        if runs:
            _after_run(args)
        if previous is not None:
            os.umask(previous)  # for callers in the same process (tests)


def command_line() -> int:
    """The `lagebild` program (the console script); `main` is what tests call in-process.

    It owns its process, so once the command is done it ends the way a normal exit would, less
    the interpreter's teardown: atexit handlers (logging flushes and closes its files), output
    flushed, then `os._exit`. The teardown's full collections over the heap of imported modules
    (Dagster, Great Expectations, pandas) took 1.4-1.8 s of every `lagebild run`, now 0.1 s
    (docs/performance-notes.md). Freezing that heap instead (`gc.freeze`) made DuckDB's bindings
    print leak warnings. Nothing waits for the teardown: every command closes its own files
    and databases (tests/integration/test_private_run.py: a run leaves no DuckDB write-ahead
    log). A thread still at work (not a daemon) gets the normal exit, which waits for it."""
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        return code
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to tell
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(command_line())
