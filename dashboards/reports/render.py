"""Report rendering: one offline HTML file, a PDF printed by headless Chromium, an XLSX.

* HTML: the plotly.js bundle is inlined once (no CDN, no network); figures are interactive.
* PDF: the same template in print mode (A4 pages, fixed figure sizes, static plots, page
  numbers), printed by Debian's Chromium with ``--print-to-pdf --no-pdf-header-footer``, tagged
  (``--export-tagged-pdf``: headings, tables with header cells, figures with their text
  alternative, /Lang de and the title; checked in tests/integration/test_reports.py);
  ``--virtual-time-budget`` lets plotly finish drawing before the page is printed. Chromium
  runs with a throw-away profile and without network features; nothing is downloaded.
* XLSX: one sheet per table, a definitions sheet and a data-basis sheet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import jinja2
import pandas as pd

from dashboards import catalog, chart_text, exports
from dashboards.disclosure import Published
from dashboards.reports.definitions import VERSION
from dashboards.reports.files import beside
from dashboards.reports.model import Bullets, Figure, Report, ReportError, Table, Text

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRINT_WIDTH_PX = 680  # A4 (210 mm) minus 2 × 15 mm margins at 96 dpi
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--run-all-compositor-stages-before-draw",
]


# plotly.js' "cartesian" bundle (npm plotly.js-cartesian-dist-min, MIT, vendored: nothing is
# downloaded at run time), the same version as plotly.py's full bundle: 1.5 instead of 4.8 MB
# in every HTML report, and Chromium parses a third of it before each PDF (0.35 s less per
# print, docs/performance.md). It holds every trace type `dashboards.figures` draws (bar,
# heatmap, scatter); tests/integration/test_reports.py checks the version and that every
# figure of every report draws its traces.
PLOTLY_BUNDLE = Path(__file__).resolve().parent / "vendor" / "plotly-cartesian.min.js"


@cache
def _plotly_js() -> str:
    return PLOTLY_BUNDLE.read_text(encoding="utf-8")


@cache
def _env() -> jinja2.Environment:
    """Every value is HTML-escaped (keys, labels, texts); only the static CSS, the plotly.js
    bundle and plotly's own figure markup (its data JSON-escaped, its texts escaped by
    `dashboards.figures`) are inserted as they are. One per process: it compiles the template
    once (30–40 ms a report otherwise)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _is_numeric_col(pub: Published, col: str) -> bool:
    s = pub.table[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return False
    if pd.api.types.is_numeric_dtype(s.dtype):
        return True
    return (
        any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in s)
        or (pub.flags[col] != "").any()
    )


def _table_block(t: Table) -> dict:
    pub = t.pub
    if t.drop:
        keep = [c for c in pub.table.columns if c not in t.drop]
        pub = Published(pub.table[keep], pub.flags[keep], pub.k)
    shown = catalog.show(pub)
    aligns = ["num" if _is_numeric_col(pub, c) else "" for c in pub.table.columns]
    rows = []
    first = pub.table.columns[0] if len(pub.table.columns) else None
    for i in range(len(shown)):
        cells = []
        for j in range(len(pub.table.columns)):
            cls = aligns[j]
            if pub.flags.iat[i, j]:
                cls += " sup"
            cells.append({"text": str(shown.iat[i, j]), "cls": cls.strip()})
        total = first is not None and str(pub.table[first].iat[i]) == "Gesamt"
        rows.append({"cells": cells, "total": total})
    return {
        "type": "table",
        "sheet": t.sheet,
        "title": t.title,
        "headers": list(shown.columns),
        "aligns": aligns,
        "rows": rows,
        "caption": t.caption,
        "note": pub.note(),
    }


def _figure_block(f: Figure, for_print: bool) -> dict:
    import plotly.io as pio

    # the figure's dict is a copy: the report's own figure stays as built, whatever is
    # rendered (a release prints its PDF in a thread while this one writes the HTML from the
    # same report). It is what plotly serialises from a Figure anyway; a Figure copied to set
    # the size validated every property again (0.2 s of each three reports, issue 15)
    fig = f.fig.to_dict()
    layout = fig.setdefault("layout", {})
    config = {"displaylogo": False, "responsive": not for_print}
    if for_print:
        h = layout.get("height") or f.height
        layout["width"] = PRINT_WIDTH_PX
        layout["height"] = min(int(h), 900)
        config["staticPlot"] = True
    elif not layout.get("height"):
        layout["height"] = f.height
    html = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        config=config,
        default_width=f"{PRINT_WIDTH_PX}px" if for_print else "100%",
        default_height=f"{layout.get('height') or f.height}px",
        validate=False,  # built and validated as a Figure by dashboards.figures
    )
    # the text alternative: the tagged PDF's /Alt (role="img" on the static plot), on screen
    # a visible sentence under the interactive chart (whose buttons must stay reachable)
    alt = chart_text.describe(f.fig, f.title)
    return {"type": "figure", "title": f.title, "caption": f.caption, "html": html, "alt": alt}


def _blocks(section, for_print: bool) -> list[dict]:
    out = []
    for b in section.blocks:
        if isinstance(b, Text):
            out.append({"type": "text", "text": b.text, "kind": b.kind})
        elif isinstance(b, Bullets):
            out.append({"type": "bullets", "entries": b.items})
        elif isinstance(b, Table):
            out.append(_table_block(b))
        elif isinstance(b, Figure):
            out.append(_figure_block(b, for_print))
    return out


def render_html(report: Report, *, for_print: bool = False) -> str:
    """The report as one self-contained HTML document (plotly.js inlined)."""
    as_of = report.basis.as_of.strftime("%d.%m.%Y") if report.basis.as_of else "—"
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    release = f" · Veröffentlichung {report.release_id}" if report.release_id else ""
    css = css.replace("{{AS_OF}}", as_of).replace("{{K}}", str(report.k))
    css = css.replace("{{RELEASE}}", release)
    built = (
        pd.Timestamp(report.basis.built_at).strftime("%d.%m.%Y %H:%M")
        if report.basis.built_at is not None
        else "—"
    )
    deliveries = [
        {
            "delivery_id": d.delivery_id,
            "provider_id": d.provider_id,
            "snapshot_on": pd.Timestamp(d.snapshot_on).strftime("%d.%m.%Y")
            if d.snapshot_on is not None
            else "—",
            "status": catalog.DELIVERY_STATUS_LABELS.get(d.status, d.status),
            "trust": getattr(d, "trust", ""),
        }
        for d in report.basis.delivery_list.itertuples(index=False)
    ]
    held = [
        {**d._asdict(), "snapshot_on": pd.Timestamp(d.snapshot_on).strftime("%d.%m.%Y")}
        for d in report.basis.held.itertuples(index=False)
    ]
    stale = [
        {
            "provider_id": d.provider_id,
            "current_snapshot_on": pd.Timestamp(d.current_snapshot_on).strftime("%d.%m.%Y"),
            "last_due_period": d.last_due_period,
        }
        for d in report.basis.stale.itertuples(index=False)
    ]
    sections = [
        {"title": s.title, "css": s.css, "blocks": _blocks(s, for_print)} for s in report.sections
    ]
    template = _env().get_template("report.html.j2")
    return template.render(
        r=report,
        sections=sections,
        css=_markup(css),
        plotly_js=_plotly_js(),
        for_print=for_print,
        as_of=as_of,
        built=built,
        generated=report.generated_at.strftime("%d.%m.%Y %H:%M"),
        version=VERSION,
        deliveries=deliveries,
        held=held,
        stale=stale,
        print_width=PRINT_WIDTH_PX,
    )


def _markup(text: str):
    from markupsafe import Markup

    return Markup(text)


def write_html(report: Report, out: Path) -> Path:
    out.write_text(render_html(report), encoding="utf-8")
    return out


def chromium_path() -> str:
    for candidate in (
        os.environ.get("LAGEBILD_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise ReportError(
        "Für PDF-Berichte wird Chromium benötigt (Debian: `apt-get install chromium`);"
        " HTML und XLSX gehen ohne."
    )


def print_pdf(html_file: Path, pdf_file: Path, *, timeout: int = 180) -> Path:
    """Print an HTML file to PDF with headless Chromium (no header/footer lines)."""
    browser = chromium_path()
    with tempfile.TemporaryDirectory(prefix="lagebild-chromium-") as profile:
        cmd = [
            browser,
            *CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            # a tagged PDF (structure tree, /Lang, /MarkInfo) with bookmarks from the headings
            "--export-tagged-pdf",
            "--generate-pdf-document-outline",
            "--virtual-time-budget=30000",
            f"--print-to-pdf={pdf_file}",
            html_file.resolve().as_uri(),
        ]
        env = {**os.environ, "HOME": profile}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except (OSError, subprocess.SubprocessError) as exc:  # not startable, or hung
            raise ReportError(
                f"Chromium konnte das PDF nicht schreiben ({type(exc).__name__})."
            ) from exc
    if proc.returncode != 0 or not pdf_file.exists() or pdf_file.stat().st_size == 0:
        raise ReportError(
            f"Chromium konnte das PDF nicht schreiben (Code {proc.returncode}):"
            f" {proc.stderr.strip()[-500:]}"
        )
    return pdf_file


def write_pdf(report: Report, out: Path) -> Path:
    return write_pdf_page(render_html(report, for_print=True), out)


def write_pdf_page(page_html: str, out: Path) -> Path:
    """Print a page rendered for print (`render_html(..., for_print=True)`) to `out`. Only
    this step may run in another thread while the report is used: plotly's figures are not
    safe to read from two threads at once."""
    with tempfile.TemporaryDirectory(prefix="lagebild-report-") as tmp:
        page = Path(tmp) / "bericht.html"
        page.write_text(page_html, encoding="utf-8")
        tmp_pdf = Path(tmp) / "bericht.pdf"
        print_pdf(page, tmp_pdf)
        # copied beside `out` first and swapped in whole (as dashboards.reports.write)
        tmp_out = beside(out)
        try:
            shutil.copyfile(tmp_pdf, tmp_out)  # into the new file, whatever file system
            tmp_out.chmod(0o600)
            os.replace(tmp_out, out)
        finally:
            tmp_out.unlink(missing_ok=True)
    return out


def write_xlsx(report: Report, out: Path) -> Path:

    sheets = []
    for t in report.tables():
        pub = t.pub
        if t.drop:
            keep = [c for c in pub.table.columns if c not in t.drop]
            pub = Published(pub.table[keep], pub.flags[keep], pub.k)
        sheets.append(
            exports.Sheet(
                t.sheet,
                pub,
                title=t.title,
                caption=f"{report.title} · Quartal {report.period} · {report.scope}"
                + (f" · Veröffentlichung {report.release_id}" if report.release_id else ""),
                percent=catalog.percent_columns(pub.table.columns),
            )
        )
    # every re-entry / relapse figure keeps its full definition next to it
    defs = list(report.definitions)
    for t in report.tables():
        if "definition" in t.pub.table.columns:
            for rec in t.pub.table.itertuples(index=False):
                defs.append((f"{rec.event_label}, {rec.window_days} Tage", rec.definition))
    exports.write_workbook(
        sheets,
        out,
        basis=report.basis,
        suppressed_k=report.k,
        role_label=f"{report.viewer.role_label} · {report.scope}",
        definitions=defs,
        title=f"{report.title} – Quartal {report.period}",
        release_id=report.release_id,
    )
    return out
