"""Reports: steering group, evaluation and funder statistics (HTML, PDF, XLSX).

    lagebild report --workspace DIR --kind lenkungsgruppe|evaluation|foerderer \
                    --period YYYY-Qn --out FILE.html|.pdf|.xlsx [--provider P]

    from pipelines.reports import write_report
    write_report(workspace, "lenkungsgruppe", "2026-Q3", Path("lg.pdf"))

Every report reads the published copy of the warehouse, is suppressed (k from the settings)
because it is meant to leave the coordinating office, names its data basis (as_of,
deliveries, k) and the definitions it uses. `--provider` makes a provider's own report.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

FORMATS = (".html", ".pdf", ".xlsx")


def build(
    workspace: str | Path,
    kind: str,
    period: str,
    provider: str | None = None,
    role: str = "koordination",
):
    """The report's content (a `content.Report`), ready to be written in any format."""
    from dashboards.access import AccessDenied, Viewer
    from kernel.settings import load_settings
    from pipelines.reports.content import ReportError, build_report

    workspace = Path(workspace).resolve()
    if provider:
        role = "traeger"
    settings = load_settings(workspace)
    try:
        viewer = Viewer(role, provider, k=settings.suppression_k, publication=True)
    except AccessDenied as exc:
        raise ReportError(str(exc)) from exc
    if viewer.role == "traeger":
        _check_provider(workspace, provider)
    return build_report(workspace, kind, period, viewer, settings)


def write(report, out: str | Path) -> Path:
    """Write a built report; the format follows the suffix (.html, .pdf, .xlsx)."""
    from pipelines.reports.content import ReportError
    from pipelines.reports.render import write_html, write_pdf, write_xlsx

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(
            f"Unbekanntes Ausgabeformat '{out.suffix or out.name}': erlaubt sind .html, .pdf,"
            " .xlsx."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = {".html": write_html, ".pdf": write_pdf, ".xlsx": write_xlsx}[suffix]
    return writer(report, out)


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
    from pipelines.reports.content import ReportError

    if Path(out).suffix.lower() not in FORMATS:
        raise ReportError(
            f"Unbekanntes Ausgabeformat '{Path(out).suffix or Path(out).name}': erlaubt sind"
            " .html, .pdf, .xlsx."
        )
    return write(build(workspace, kind, period, provider, role), out)


def _check_provider(workspace: Path, provider: str) -> None:
    from dashboards.access import Viewer, filter_options, has_data, published_path
    from pipelines.reports.content import ReportError

    db = published_path(workspace)
    if not has_data(db):
        return  # build_report says that there is no data
    opts = filter_options(db, Viewer("koordination"))
    if provider not in opts["providers"]:
        raise ReportError(
            f"Träger '{provider}' kommt in den Daten nicht vor"
            f" (vorhanden: {', '.join(opts['providers']) or 'keine'})."
        )


def last_complete_quarter(as_of: date) -> str:
    from dashboards.access import last_complete_quarter as lcq

    return lcq(as_of)


def write_all(
    workspace: str | Path,
    period: str | None = None,
    out_dir: str | Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    on_pdf_error=None,
) -> list[Path]:
    """All three reports for `period` (default: the last complete quarter up to as_of) in
    every format, into WORKSPACE/reports/ unless `out_dir` is given; each report's content is
    built once. Used by the Dagster asset `reports` (and so by `lagebild demo`).
    `on_pdf_error(path, error)`: called instead of raising when a PDF cannot be printed."""
    from dashboards.access import Viewer, data_basis, published_path
    from kernel.workspace import Workspace
    from pipelines.reports.content import ReportError

    ws = Workspace(Path(workspace).resolve())
    if period is None:
        basis = data_basis(published_path(ws.root), Viewer("koordination"))
        if basis.as_of is None:
            raise ReportError("Kein Datenstand: bitte zuerst `lagebild run` ausführen.")
        period = last_complete_quarter(basis.as_of)
    target = Path(out_dir) if out_dir else ws.reports_dir
    target.mkdir(parents=True, exist_ok=True)
    written = []
    prints = []  # (future, out): Chromium prints the PDFs side by side, each its own process
    with ThreadPoolExecutor(max_workers=3) as pool:
        for kind in ("lenkungsgruppe", "evaluation", "foerderer"):
            report = build(ws.root, kind, period)
            for suffix in formats:
                out = target / f"{kind}_{period}{suffix}"
                if suffix == ".pdf":
                    prints.append((pool.submit(write, report, out), out))
                else:
                    written.append(write(report, out))
        for future, out in prints:
            try:
                written.append(future.result())
            except ReportError as exc:
                if on_pdf_error is None:
                    raise
                on_pdf_error(out, exc)
    return written


def cli_report(args) -> int:
    from kernel.errors import UserError
    from pipelines.reports.content import ReportError

    try:
        path = write_report(
            args.workspace, args.kind, args.period, args.out, provider=args.provider
        )
    except ReportError as exc:
        raise UserError(str(exc)) from exc
    print(f"Bericht geschrieben: {path.resolve()}")
    return 0
