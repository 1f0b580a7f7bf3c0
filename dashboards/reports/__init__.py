"""Reports: steering group, evaluation and funder statistics (HTML, PDF, XLSX).

    lagebild report --workspace DIR --kind lenkungsgruppe|evaluation|foerderer \
                    --period YYYY-Qn --out FILE.html|.pdf|.xlsx [--provider P]

    from dashboards.reports import write_report
    write_report(workspace, "lenkungsgruppe", "2026-Q3", Path("lg.pdf"))

One module per report kind (`lenkungsgruppe`, `evaluation`, `foerderer`) says what it shows,
built from the read side (`dashboards.read`) — the same queries the dashboards run. Every
report is suppressed (k from the settings) because it is meant to leave the coordinating
office, names its data basis (as_of, deliveries, k) and the definitions it uses.
`--provider` makes a provider's own report. Every report written (command line or the
pipeline's `reports` asset) is owner-only and goes to the access log (kernel/access_log.py).
"""

from __future__ import annotations

import getpass
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from dashboards import read
from dashboards.read.scope import one_connection
from dashboards.reports import evaluation, foerderer, lenkungsgruppe
from dashboards.reports.definitions import pick
from dashboards.reports.files import beside
from dashboards.reports.model import ALLOWED, KINDS, Report, ReportError, Table
from kernel.errors import UserError

FORMATS = (".html", ".pdf", ".xlsx")
BUILDERS = {
    "lenkungsgruppe": lenkungsgruppe.build,
    "evaluation": evaluation.build,
    "foerderer": foerderer.build,
}


def _periods(src: read.Source, period: str) -> list[str]:
    """The quarters with data; `period` must be one of them and complete: a report leaves the
    office, and counts that add up over quarters are published for complete periods only
    (docs/decisions.md, „Laufende Zeiträume“)."""
    with src.read() as con:
        rows = con.execute("SELECT period, partial FROM mart.periods ORDER BY period").fetchall()
    periods = [p for p, _ in rows]
    if period not in periods:
        span = f"{periods[0]} bis {periods[-1]}" if periods else "keine"
        raise ReportError(
            f"Für das Quartal {period} gibt es keine Daten (vorhandene Quartale: {span})."
        )
    if dict(rows)[period]:
        complete = [p for p, partial in rows if not partial]
        last = f" Das letzte abgeschlossene ist {complete[-1]}." if complete else ""
        raise ReportError(
            f"Das Quartal {period} ist beim Datenstand noch nicht abgeschlossen; Berichte"
            f" gibt es für abgeschlossene Quartale.{last}"
        )
    return periods


def build_report(src: read.Source, kind: str, period: str, viewer: read.Viewer) -> Report:
    """The report's content, ready to be written in any format."""
    if kind not in KINDS:
        raise ReportError(f"Unbekannte Berichtsart '{kind}'.")
    if kind not in ALLOWED[viewer.role]:
        raise ReportError(f"Die Rolle {viewer.role_label} darf den {KINDS[kind]} nicht erstellen.")
    viewer = viewer.published()  # everything in a report leaves the office
    if not src.has_data():
        raise ReportError(read.NO_DATA_MESSAGE)
    periods = _periods(src, period)
    basis = read.data_basis(src, viewer)
    # a report leaves the office: deliveries by id, provider and date, never by file name (an
    # export tool may write anything into it; read/deliveries.py)
    basis = replace(
        basis,
        delivery_list=basis.delivery_list.drop(columns=["source_name"], errors="ignore"),
        held=basis.held.drop(columns=["source_name"], errors="ignore"),
    )
    base = read.Filters(period, period)
    scope = f"Träger {viewer.provider}" if viewer.role == "traeger" else "alle Träger des Netzwerks"
    sections, used = BUILDERS[kind](src, viewer, src.settings, base, period, periods)
    for section in sections:  # provider rows carry the status of their delivery
        section.blocks = [
            replace(b, pub=read.with_trust(b.pub, basis)) if isinstance(b, Table) else b
            for b in section.blocks
        ]
    used = ["as_of", *used, "suppression"]
    return Report(
        kind=kind,
        title=KINDS[kind],
        period=period,
        scope=scope,
        viewer=viewer,
        basis=basis,
        sections=sections,
        definitions=pick(src.settings, used),
        generated_at=datetime.now().replace(microsecond=0),
    )


def build(
    workspace: str | Path,
    kind: str,
    period: str,
    provider: str | None = None,
    role: str = "koordination",
) -> Report:
    """The report for a role (a provider's own report with `provider`)."""
    src = read.Source.of(workspace)
    if provider:
        role = "traeger"
    try:
        viewer = src.viewer(role, provider, publication=True)
    except read.AccessDenied as exc:
        raise ReportError(str(exc)) from exc
    if viewer.role == "traeger":
        _check_provider(src, provider)
    return build_report(src, kind, period, viewer)


def _check_format(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ReportError(
            f"Unbekanntes Ausgabeformat '{out.suffix or out.name}': erlaubt sind .html, .pdf,"
            " .xlsx."
        )
    return out


def write(report: Report, out: str | Path) -> Path:
    """Write a built report; the format follows the suffix (.html, .pdf, .xlsx). Owner-only.

    Written beside `out` and swapped in whole: a writer stopped halfway (a run killed, the
    reports' worker given up) leaves the file before it, never a truncated one; a link put in
    its place is replaced, not written through."""
    from dashboards.reports.render import write_html, write_pdf, write_xlsx

    out = _check_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = {".html": write_html, ".pdf": write_pdf, ".xlsx": write_xlsx}[out.suffix.lower()]
    tmp = beside(out)
    try:
        writer(report, tmp).chmod(0o600)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (container without passwd entry)
        return "unbekannt"


def _record(workspace: Path, report: Report, out: Path, source: str) -> None:
    """One access-log entry per report file: kind, period, format, scope, suppression."""
    _record_entry(workspace, report.viewer, report.kind, report.period, out, source)


def record_written(workspace: str | Path, kind: str, period: str, out: Path) -> None:
    """A report of the pipeline's written by its reports' worker (pipelines.report_worker),
    on record as `write_all` puts its own (the same viewer: the coordination's, published)."""
    src = read.Source.of(workspace)
    viewer = src.viewer("koordination").published()
    _record_entry(src.workspace, viewer, kind, period, out, "pipeline")


def _record_entry(
    workspace: Path, viewer: read.Viewer, kind: str, period: str, out: Path, source: str
) -> None:
    from kernel.access_log import record, suppression

    record(
        workspace,
        "report",
        user=_os_user(),
        role=viewer.role,
        provider=viewer.provider,
        object=kind,
        period=period,
        format=out.suffix.lower().lstrip("."),
        suppression=suppression(viewer.network_k),
        source=source,
    )


def write_report(
    workspace: str | Path,
    kind: str,
    period: str,
    out: str | Path,
    provider: str | None = None,
    role: str = "koordination",
) -> Path:
    """Write one report to `out` (format from the suffix) and return the path.

    role: the role the report is made for ("koordination", "evaluation", "traeger",
    "foerderer"); `provider` implies role "traeger". Raises ReportError (German message).
    """
    _check_format(out)
    report = build(workspace, kind, period, provider, role)
    path = write(report, out)
    _record(Path(workspace).resolve(), report, path, "kommandozeile")
    return path


def _check_provider(src: read.Source, provider: str) -> None:
    if not src.has_data():
        return  # build_report says that there is no data
    opts = read.filter_options(src, src.viewer("koordination"))
    if provider not in opts["providers"]:
        raise ReportError(
            f"Träger '{provider}' kommt in den Daten nicht vor"
            f" (vorhanden: {', '.join(opts['providers']) or 'keine'})."
        )


def default_period(workspace: str | Path) -> str | None:
    """The last complete quarter up to the data cut-off, or None without data."""
    src = read.Source.of(workspace)
    if not src.has_data():
        return None
    basis = read.data_basis(src, src.viewer("koordination"))
    return read.last_complete_quarter(basis.as_of) if basis.as_of else None


def report_file(directory: Path, kind: str, period: str, suffix: str) -> Path:
    """Where a run's report of `kind` and `period` goes (WORKSPACE/reports/<kind>_<period>.pdf)."""
    return directory / f"{kind}_{period}{suffix}"


def write_all(
    workspace: str | Path,
    period: str | None = None,
    out_dir: str | Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    on_pdf_error=None,
    kinds: tuple[str, ...] = tuple(KINDS),
    record: bool = True,
) -> list[Path]:
    """The reports of `kinds` (default: all three) for `period` (default: the last complete
    quarter up to as_of) in every format, into WORKSPACE/reports/ unless `out_dir` is given;
    each report's content is built once. Used by the Dagster asset `reports` (and so by
    `lagebild demo`), which writes two of them in a helper process (pipelines.report_worker).
    `on_pdf_error(path, error)`: called instead of raising when a PDF cannot be printed.
    `record=False`: the files are not put on the access log here (the reports' worker: the
    run puts them on record once it takes them, `record_written`)."""
    src = read.Source.of(workspace)
    period = period or default_period(src.workspace)
    if period is None:
        raise ReportError("Kein Datenstand: bitte zuerst `lagebild run` ausführen.")
    target = Path(out_dir) if out_dir else src.ws.reports_dir
    target.mkdir(parents=True, exist_ok=True)
    from dashboards.reports.render import render_html, write_pdf_page

    written = []
    prints = []  # (future, out): Chromium prints the PDFs side by side, each its own process

    def pdf_failed(out: Path, exc: ReportError) -> None:
        if on_pdf_error is None:
            raise exc
        on_pdf_error(out, exc)

    def collect(on_error, errors: type[BaseException] = ReportError) -> None:
        for future, out, report in prints:
            try:
                written.append(future.result())
                if record:
                    _record(src.workspace, report, out, "pipeline")
            except errors as exc:
                on_error(out, exc)

    # one_connection: the three reports read the published copy over one connection (opening
    # it for each of their ~130 queries took 1.3 s at 10,000 cases, docs/performance.md); a
    # figure two reports show is read once (remember: 0.2 s at 10,000 cases)
    with ThreadPoolExecutor(max_workers=3) as pool, one_connection(remember=True):
        try:
            for kind in kinds:
                report = build_report(src, kind, period, src.viewer("koordination"))
                for suffix in formats:
                    out = report_file(target, kind, period, suffix)
                    if suffix != ".pdf":
                        written.append(write(report, out))
                        if record:
                            _record(src.workspace, report, out, "pipeline")
                        continue
                    # the print page is rendered here: plotly's figures are read in this
                    # thread only (as in a release, docs/decisions.md); the pool runs Chromium
                    try:
                        page = render_html(report, for_print=True)
                    except ReportError as exc:
                        pdf_failed(out, exc)
                        continue
                    prints.append((pool.submit(write_pdf_page, page, out), out, report))
        except BaseException:
            # the PDFs printed before the failure are on record; the failure is what is raised
            collect(lambda out, exc: None, Exception)
            raise
        collect(pdf_failed)
    return written


def cli_report(args) -> int:
    try:
        path = write_report(
            args.workspace, args.kind, args.period, args.out, provider=args.provider
        )
    except ReportError as exc:
        raise UserError(str(exc)) from exc
    print(f"Bericht geschrieben: {path.resolve()}")
    return 0
