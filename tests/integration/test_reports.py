"""Reports: offline HTML, PDF printed by Chromium (page count, no blank page), XLSX with
definitions and data basis, suppression, provider scope, the CLI and the Dagster asset."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dashboards.reports import write_report
from dashboards.reports.model import ReportError
from pipelines.cli import main
from tests.dashboards.fixture_warehouse import build

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HAS_CHROMIUM = Path("/usr/bin/chromium").exists() or shutil.which("chromium") is not None
KINDS = ["lenkungsgruppe", "evaluation", "foerderer"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from kernel.workspace import Workspace

    root = tmp_path_factory.mktemp("report-ws")
    build(Workspace(root).published_db_path)
    return root


def _visible_text(html: str) -> str:
    """The document without scripts and styles (what a reader sees)."""
    html = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<style\b.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def pdf_pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))


def blank_pages(pdf: Path, tmp: Path) -> list[int]:
    """Pages whose rendering is (almost) all white, by pdftoppm at low resolution."""
    from PIL import Image

    prefix = tmp / "page"
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(prefix)], check=True)
    blank = []
    for i, png in enumerate(sorted(tmp.glob("page-*.png")), start=1):
        img = Image.open(png).convert("L")
        dark = sum(1 for px in img.getdata() if px < 200)
        # the page footer alone (Datenstand, page number) is ~0.1 % of the pixels
        if dark / (img.width * img.height) < 0.004:
            blank.append(i)
    return blank


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def htmls(ws, tmp_path_factory):
    """The three HTML reports, written once for the tests below."""
    folder = tmp_path_factory.mktemp("html")
    return {k: write_report(ws, k, "2026-Q3", folder / f"{k}.html") for k in KINDS}


def test_html_is_one_offline_file(htmls):
    out = htmls["lenkungsgruppe"]
    html = out.read_text(encoding="utf-8")
    assert not re.findall(r"<script[^>]*\bsrc\s*=", html), "no external scripts"
    assert not re.findall(r"<link[^>]*href\s*=\s*[\"']?https?:", html), "no external styles"
    outside_scripts = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    assert "http" not in outside_scripts.replace("http-equiv", ""), "no remote references"
    assert "@import" not in html
    assert "Plotly.newPlot" in html
    text = _visible_text(html)
    # data basis and definitions
    assert "Datenstand" in text and "30.09.2026" in text
    assert "k = 3" in text
    for d in ("d000000000000001", "d000000000000004"):
        assert d in text
    assert "Definitionen" in text and "Lückenquote" in text
    # leads with what needs a decision, then the figures
    assert text.index("Entscheidungsbedarf") < text.index("Versorgungslücken nach Lebensbereich")
    assert "Größte Versorgungslücken" in text and "Neue und steigende Themen" in text
    assert "Überlastete Träger" in text


def test_printing_leaves_the_reports_figures_as_built(ws):
    """A release prints its PDF in a thread while it writes the HTML from the same report: the
    print layout (fixed width, static plot) must never reach the report's own figures."""
    from dashboards import read
    from dashboards.reports import build_report
    from dashboards.reports.model import Figure
    from dashboards.reports.render import render_html

    src = read.Source.of(ws)
    report = build_report(src, "lenkungsgruppe", "2026-Q3", src.viewer("koordination"))
    figures = [b for s in report.sections for b in s.blocks if isinstance(b, Figure)]
    before = [f.fig.to_json() for f in figures]
    render_html(report, for_print=True)
    render_html(report)
    assert figures and [f.fig.to_json() for f in figures] == before
    assert all(f.fig.layout.width is None for f in figures)


def test_funder_report_is_suppressed(htmls):
    out = htmls["foerderer"]
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert "Statistische Geheimhaltung angewendet (k = 3)" in text
    # provider p04 has two cases: hidden as "x", as every hidden count, its ratio as well
    row = re.search(r"p04\s+(\S+)\s+(\S+)\s+(\S+)", text)
    assert row, "p04 row present"
    assert "x" in row.groups()
    assert "&lt;3" not in text and "<3" not in text


def test_provider_report_shows_only_that_provider(ws, tmp_path):
    out = write_report(ws, "lenkungsgruppe", "2026-Q3", tmp_path / "p.html", provider="p04")
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert "Träger p04" in text
    for other in ("p01", "p02", "p03"):
        assert not re.search(rf"\b{other}\b", text), other


@pytest.fixture(scope="module")
def pdfs(ws, tmp_path_factory):
    """The three PDF reports, printed once for the tests below."""
    folder = tmp_path_factory.mktemp("pdfs")
    return {k: write_report(ws, k, "2026-Q3", folder / f"{k}.pdf") for k in KINDS}


@pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian-Paket chromium fehlt")
@pytest.mark.parametrize("kind", KINDS)
def test_pdf_page_count_and_no_blank_page(pdfs, tmp_path, kind):
    from pypdf import PdfReader

    out = pdfs[kind]
    pages = pdf_pages(out)
    assert 4 <= pages <= 20, pages
    assert blank_pages(out, tmp_path) == []
    first = PdfReader(str(out)).pages[0].extract_text()
    assert "Datenstand" in first and "Geheimhaltung" in first
    assert "Seite 1 von" in first


def _structure(node, path=()):
    """(tag, its ancestors' tags, the element) for every element of a PDF structure tree."""
    import pikepdf

    if isinstance(node, pikepdf.Dictionary) and "/S" in node:
        yield str(node.S), path, node
        path = (*path, str(node.S))
    kids = node.get("/K") if isinstance(node, pikepdf.Dictionary) else None
    for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
        if isinstance(kid, pikepdf.Dictionary):
            yield from _structure(kid, path)


@pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian-Paket chromium fehlt")
@pytest.mark.parametrize("kind", KINDS)
def test_pdf_is_tagged_with_headings_table_headers_and_figure_texts(pdfs, kind):
    """The PDF/UA-style structure a screen reader needs: marked, German, titled; one H1 and
    section headings; every table with header cells; every chart one /Figure with its text."""
    import pikepdf

    from dashboards.reports.model import KINDS as TITLES

    with pikepdf.open(pdfs[kind]) as pdf:
        root = pdf.Root
        assert "/StructTreeRoot" in root
        assert bool(root.MarkInfo.Marked)
        assert str(root.Lang) == "de"
        assert str(pdf.docinfo["/Title"]).startswith(TITLES[kind])
        assert bool(root.ViewerPreferences.DisplayDocTitle)  # the title, not the file name
        elements = list(_structure(root.StructTreeRoot))
    tags = [t for t, _, _ in elements]
    assert tags.count("/H1") == 1 and tags.count("/H2") >= 4, tags.count("/H2")
    tables = [e for t, _, e in elements if t == "/Table"]
    assert tables
    for table in tables:
        inside = [t for t, _, _ in _structure(table)]
        assert "/TH" in inside and "/TD" in inside
    # charts: role="img" wrappers whose /Alt is the chart's German text; Chromium also tags
    # the SVG layers painted inside one as /Figure, covered by the enclosing /Alt
    charts = [e for t, path, e in elements if t == "/Figure" and "/Figure" not in path]
    assert charts
    for chart in charts:
        alt = str(chart.get("/Alt", ""))
        assert re.match(r"(Balkendiagramm|Liniendiagramm|Heatmap)", alt), alt
        assert "Höchster Wert" in alt or "nicht ausgewiesen" in alt or "ohne Wert" in alt, alt


@pytest.fixture(scope="module")
def report_page():
    """A page of Debian's Chromium (Playwright) for the HTML reports."""
    if not HAS_CHROMIUM:
        pytest.skip("Debian-Paket chromium fehlt")
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="de-DE")
        yield page
        browser.close()


@pytest.mark.parametrize("kind", KINDS)
def test_html_report_passes_axe(htmls, report_page, kind):
    """No serious or critical WCAG 2.1 A/AA finding of axe-core in the HTML report, except
    those docs/barrierefreiheit.md allows with their reason."""
    from tests.e2e.a11y import findings

    report_page.goto(htmls[kind].resolve().as_uri())
    report_page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".every(p => p.querySelector('.main-svg'))"
    )
    assert report_page.evaluate("document.documentElement.lang") == "de"
    barriers = findings(report_page, f"Bericht {kind}")
    assert not barriers, "axe-core (WCAG 2.1 AA):\n" + "\n".join(barriers)


def test_vendored_plotly_bundle_is_plotly_pys_version():
    """The reports inline plotly.js' cartesian bundle (dashboards/reports/vendor): it must be
    the plotly.js that plotly.py writes its figures for, or a plotly upgrade breaks them."""
    from plotly.offline import get_plotlyjs_version

    from dashboards.reports.render import PLOTLY_BUNDLE

    banner = PLOTLY_BUNDLE.read_text(encoding="utf-8")[:200]
    assert f"plotly.js (cartesian - minified) v{get_plotlyjs_version()}" in banner


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_figure_is_drawn_by_the_inlined_bundle(htmls, report_page, kind):
    """Each figure's trace types are registered in the inlined plotly.js (a type missing from
    the cartesian bundle would be left out of the chart without an error) and every figure
    draws its traces; the page raises no script error."""
    errors: list[str] = []
    report_page.on("pageerror", lambda exc: errors.append(str(exc)))
    report_page.goto(htmls[kind].resolve().as_uri())
    report_page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".every(p => p.querySelector('.main-svg'))"
    )
    found = report_page.evaluate(
        """() => {
            const known = new Set(Object.keys(Plotly.PlotSchema.get().traces));
            return [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
                types: gd.data.map(t => t.type || 'scatter'),
                unknown: gd.data.map(t => t.type || 'scatter').filter(t => !known.has(t)),
                // a trace with some value to show (a heatmap whose cells are all hidden
                // draws nothing, with any bundle)
                shown: gd._fullData.filter(t => [t.z, t.y].some(a => a && Array.from(a)
                    .flatMap(v => (v && typeof v === 'object') ? Array.from(v) : [v])
                    .some(v => typeof v === 'number' && isFinite(v)))).length,
                drawn: gd.querySelectorAll('.trace, .hm image').length,
            }));
        }"""
    )
    assert found, "the report has figures"
    assert not errors, errors
    for fig in found:
        assert not fig["unknown"], f"trace types not in the bundle: {fig['unknown']}"
        if fig["shown"]:
            assert fig["drawn"] >= 1, f"figure with {fig['types']} drew nothing"
    assert any(fig["drawn"] for fig in found), "at least one figure drew its data"


def test_xlsx_sheets_definitions_and_basis(ws, tmp_path):
    from python_calamine import CalamineWorkbook

    out = write_report(ws, "foerderer", "2026-Q3", tmp_path / "f.xlsx")
    wb = CalamineWorkbook.from_path(str(out))
    names = wb.sheet_names
    assert names[-2:] == ["Definitionen", "Datenbasis"]
    assert "Träger" in names
    rows = wb.get_sheet_by_name("Träger").to_python()
    assert "k = 3" in rows[1][0]
    header_idx = next(i for i, r in enumerate(rows) if "Träger" in r)
    header = rows[header_idx]
    body = rows[header_idx + 1 :]
    col = header.index("Fälle im Zeitraum")
    p04 = next(r for r in body if r[header.index("Träger")] == "p04")
    assert p04[col] == "x"
    trend = wb.get_sheet_by_name("Fälle je Quartal").to_python()
    assert all(isinstance(r[1], float) for r in trend[5:] if r[0])  # numbers stay numbers
    basis = wb.get_sheet_by_name("Datenbasis").to_python()
    flat = " ".join(str(c) for r in basis for c in r)
    assert "Datenstand" in flat and "d000000000000002" in flat and "k = 3" in flat
    defs = wb.get_sheet_by_name("Definitionen").to_python()
    assert any("Fälle je Vollzeitstelle" in str(r[0]) for r in defs)


def test_xlsx_header_rows_are_marked(ws, tmp_path):
    """Every table sheet: bold header row, frozen below it, an autofilter on it and repeated
    on printed pages; the workbook has a title."""
    import zipfile

    out = write_report(ws, "foerderer", "2026-Q3", tmp_path / "f.xlsx")
    with zipfile.ZipFile(out) as z:
        core = z.read("docProps/core.xml").decode()
        assert "<dc:title>" in core and "Fallzahlenstatistik" in core
        workbook = z.read("xl/workbook.xml").decode()
        sheets = sorted(n for n in z.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml", n))
        for name in sheets[:-2]:  # the table sheets (then Definitionen, Datenbasis)
            xml = z.read(name).decode()
            assert "<autoFilter" in xml, name
            assert 'state="frozen"' in xml, name
        assert "_xlnm.Print_Titles" in workbook


def test_evaluation_report_names_definitions_and_intervals(htmls):
    out = htmls["evaluation"]
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert "Ereignis: Wiederaufnahme" in text and "Wilson" in text
    assert "Kaplan–Meier" in text and "95 %-KI" in text
    assert "Grundgesamtheit" in text and "Fensterlänge: 365 Tage" in text


def test_errors_are_german_and_exit_2(ws, tmp_path, capsys):
    rc = main(
        [
            "report",
            "--workspace",
            str(ws),
            "--kind",
            "foerderer",
            "--period",
            "2031-Q1",
            "--out",
            str(tmp_path / "x.html"),
        ]
    )
    assert rc == 2
    assert "keine Daten" in capsys.readouterr().err
    rc = main(
        [
            "report",
            "--workspace",
            str(ws),
            "--kind",
            "foerderer",
            "--period",
            "2026-Q3",
            "--out",
            str(tmp_path / "x.docx"),
        ]
    )
    assert rc == 2
    assert "Ausgabeformat" in capsys.readouterr().err
    rc = main(
        [
            "report",
            "--workspace",
            str(ws),
            "--kind",
            "foerderer",
            "--period",
            "2026-Q3",
            "--out",
            str(tmp_path / "x.html"),
            "--provider",
            "p99",
        ]
    )
    assert rc == 2
    with pytest.raises(ReportError):
        write_report(ws, "lenkungsgruppe", "2026-Q3", tmp_path / "y.html", role="foerderer")
    empty = tmp_path / "empty-ws"
    empty.mkdir()
    with pytest.raises(ReportError, match="lagebild run"):
        write_report(empty, "foerderer", "2026-Q3", tmp_path / "z.html")


def test_cli_writes_report(ws, tmp_path, capsys):
    out = tmp_path / "lg.xlsx"
    rc = main(
        [
            "report",
            "--workspace",
            str(ws),
            "--kind",
            "lenkungsgruppe",
            "--period",
            "2026-Q3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.exists()
    assert str(out) in capsys.readouterr().out


def _materialize_reports(root, **resource) -> list[str]:
    return _reports_metadata(root, **resource)[0]


def _reports_metadata(root, **resource) -> tuple[list[str], dict]:
    """The files in WORKSPACE/reports after the asset ran, and its metadata (plain values)."""
    import dagster as dg

    from pipelines.defs.reports import reports
    from pipelines.resources import LagebildResource

    result = dg.materialize(
        [reports], resources={"lagebild": LagebildResource(workspace=str(root), **resource)}
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    return sorted(p.name for p in (root / "reports").iterdir()), meta


def _report_files(suffixes):
    return sorted(f"{k}_2026-Q3{s}" for k in KINDS for s in suffixes)


@pytest.mark.slow
def test_reports_asset_writes_all_three_with_pdf_when_asked(tmp_path):
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    files = _materialize_reports(root, report_pdf=True)
    expected = (".html", ".xlsx", ".pdf") if HAS_CHROMIUM else (".html", ".xlsx")
    assert files == _report_files(expected)


def test_reports_asset_prints_no_pdf_unless_asked_and_removes_an_outdated_one(tmp_path):
    """A run prints PDFs only when asked (issue 15): without it, a PDF of the same quarter
    left by an earlier run would show older figures than the HTML beside it; it goes."""
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    (root / "reports").mkdir()
    outdated = root / "reports" / "lenkungsgruppe_2026-Q3.pdf"
    outdated.write_bytes(b"%PDF-1.7 alter Stand")
    other_quarter = root / "reports" / "lenkungsgruppe_2026-Q2.pdf"
    other_quarter.write_bytes(b"%PDF-1.7 anderes Quartal")
    (root / "reports" / "foerderer_2026-Q3.pdf").symlink_to(tmp_path / "fehlt.pdf")  # dangling
    files, meta = _reports_metadata(root)
    assert files == sorted([*_report_files((".html", ".xlsx")), other_quarter.name])
    assert meta["pdf"] == "nicht angefordert" and "pdf_skipped" not in meta


@pytest.mark.parametrize("chromium", ["fails", "cannot start"])
def test_a_failed_print_leaves_no_older_pdf_of_the_quarter(tmp_path, monkeypatch, chromium):
    """Asked for PDFs, but Chromium fails (exits with an error, or cannot be started at all):
    the run completes with HTML and XLSX, says which PDFs it skipped, and leaves no PDF of the
    quarter (the earlier run's would show older figures)."""
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    (root / "reports").mkdir()
    (root / "reports" / "foerderer_2026-Q3.pdf").write_bytes(b"%PDF-1.7 alter Stand")
    not_a_program = tmp_path / "chromium.txt"
    not_a_program.write_text("kein Programm", encoding="utf-8")
    not_a_program.chmod(0o755)
    monkeypatch.setenv(
        "LAGEBILD_CHROMIUM", "/bin/false" if chromium == "fails" else str(not_a_program)
    )
    files, meta = _reports_metadata(root, report_pdf=True)
    assert files == _report_files((".html", ".xlsx"))
    assert meta["pdf"] == "gedruckt"  # asked for: the asset tried to print them
    assert sorted(meta["pdf_skipped"].split(", ")) == _report_files((".pdf",))


def test_report_pdf_setting_in_lagebild_yaml(tmp_path):
    from kernel.settings import SettingsError, load_settings

    assert load_settings(tmp_path).report_pdf is False
    assert load_settings(tmp_path, report_pdf=True).report_pdf is True  # lagebild run --pdf
    (tmp_path / "lagebild.yaml").write_text("report_pdf: true\n", encoding="utf-8")
    assert load_settings(tmp_path).report_pdf is True
    (tmp_path / "lagebild.yaml").write_text("report_pdf: vielleicht\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"„report_pdf“.*\(erlaubt: true oder false\)"):
        load_settings(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian-Paket chromium fehlt")
def test_reports_on_pipeline_built_demo_data(tmp_path_factory, tmp_path):
    """The three reports a `lagebild generate` + `lagebild run` at demo size wrote (the run's
    reports step); sizes and page counts go to test-artifacts/reports.json, the files to
    test-artifacts/reports/."""
    from tests.e2e.pipeline_workspace import pipeline_workspace

    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    target = ARTIFACTS / "reports"
    target.mkdir(parents=True, exist_ok=True)
    facts = {}
    for kind in ("lenkungsgruppe", "evaluation", "foerderer"):
        for suffix in (".html", ".pdf", ".xlsx"):
            written = root / "reports" / f"{kind}_2026-Q3{suffix}"
            assert written.is_file(), f"the run wrote no {written.name}"
            out = Path(shutil.copy2(written, target / written.name))
            facts[out.name] = {"bytes": out.stat().st_size}
            if suffix == ".pdf":
                pages = pdf_pages(out)
                facts[out.name]["pages"] = pages
                assert 4 <= pages <= 25
                sub = tmp_path / kind
                sub.mkdir()
                assert blank_pages(out, sub) == []
    (ARTIFACTS / "reports.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")


@pytest.mark.slow
def test_run_summary_names_the_reports_and_how_to_get_pdfs(tmp_path_factory, capsys):
    from kernel.settings import load_settings
    from pipelines.runner import RunOutcome, _print_run_summary
    from tests.e2e.pipeline_workspace import pipeline_workspace

    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    reports = root / "reports"
    assert f"Berichte: {reports}\n" in (root / "run.log").read_text(encoding="utf-8")  # --pdf
    _print_run_summary(load_settings(root), RunOutcome(True, "lauf", 1.0))
    assert (
        f"Berichte: {reports} (HTML und XLSX; PDF mit `lagebild run --pdf`)"
        in capsys.readouterr().out
    )


def test_report_pdf_is_no_figure_setting_of_a_release(tmp_path):
    """Whether a run prints PDFs changes no figure: not in a release's manifest, and two
    releases around switching it on show no changed setting (also against a manifest that
    carries it, as written before this was decided)."""
    import json
    import time

    from dashboards.reports.release import compare_releases, load_manifest, make_release
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    first = make_release(root, "foerderer", "2026-Q3", pdf=False).name
    assert "report_pdf" not in load_manifest(root, first)["settings"]
    time.sleep(1.1)  # release ids carry the second
    (root / "lagebild.yaml").write_text("report_pdf: true\n", encoding="utf-8")
    second = make_release(root, "foerderer", "2026-Q3", pdf=False).name
    change = compare_releases(root, first, second)
    assert change.settings_changed == [] and len(change.cells) == 0

    manifest = root / "releases" / first / "manifest.json"
    old = json.loads(manifest.read_text(encoding="utf-8"))
    old["settings"]["report_pdf"] = False
    manifest.chmod(0o600)
    manifest.write_text(json.dumps(old), encoding="utf-8")
    assert compare_releases(root, first, second).settings_changed == []


@pytest.mark.parametrize("failing", ["pdf", "xlsx"])
def test_a_failed_release_leaves_no_folder_no_entry_and_no_half_made_files(
    tmp_path, monkeypatch, failing
):
    """The PDF prints in a thread while the other files are written: whichever fails, the
    release raises, and neither its folder nor its hidden working folder (with the report,
    the cells and a copy of the theme register) stays behind."""
    from dashboards.reports import render
    from dashboards.reports.release import make_release
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    if failing == "pdf":
        monkeypatch.setenv("LAGEBILD_CHROMIUM", "/bin/false")
    else:
        monkeypatch.setattr(render, "chromium_path", lambda: "/bin/true")  # prints nothing

        def broken(report, out):
            raise ReportError("XLSX kaputt")

        monkeypatch.setattr(render, "write_xlsx", broken)
    with pytest.raises(ReportError):
        make_release(root, "lenkungsgruppe", "2026-Q3")
    assert list((root / "releases").iterdir()) == []


def figure_threads(monkeypatch) -> set[int]:
    """The threads that read a plotly figure (each figure's text alternative is rendered from
    it); Chromium replaced by a one-line PDF."""
    import threading

    from dashboards import chart_text
    from dashboards.reports import render

    threads: set[int] = set()
    describe = chart_text.describe

    def recorded(fig, title):
        threads.add(threading.get_ident())
        return describe(fig, title)

    monkeypatch.setattr(chart_text, "describe", recorded)
    monkeypatch.setattr(render, "print_pdf", lambda page, out: out.write_bytes(b"%PDF-1.4\n"))
    return threads


def test_a_release_reads_its_figures_in_one_thread_only(tmp_path, monkeypatch):
    """The PDF prints in a thread while the HTML is written: plotly's figures are not safe to
    read from two threads at once (a release failed with a KeyError inside plotly), so every
    figure is rendered, text alternative included, in the release's own thread."""
    import threading

    from dashboards.reports.release import make_release
    from kernel.workspace import Workspace

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    threads = figure_threads(monkeypatch)
    folder = make_release(root, "lenkungsgruppe", "2026-Q3")
    assert threads == {threading.get_ident()}
    assert (folder / "bericht.pdf").read_bytes() == b"%PDF-1.4\n"


def test_the_pipelines_reports_read_their_figures_in_one_thread_only(ws, tmp_path, monkeypatch):
    """`write_all` (the `reports` asset) prints the three PDFs side by side while the next
    report is built: the print pages are rendered in the calling thread, the pool only runs
    Chromium, so no plotly figure is read from two threads (see the release above)."""
    import threading

    from dashboards.reports import write_all

    threads = figure_threads(monkeypatch)
    written = write_all(ws, "2026-Q3", out_dir=tmp_path)
    assert threads == {threading.get_ident()}
    pdfs = sorted(p.name for p in written if p.suffix == ".pdf")
    assert pdfs == [f"{k}_2026-Q3.pdf" for k in sorted(KINDS)]
    assert all((tmp_path / name).read_bytes() == b"%PDF-1.4\n" for name in pdfs)


def test_a_print_page_that_cannot_be_rendered_skips_only_its_pdf(ws, tmp_path, monkeypatch):
    """A report whose print page fails (ReportError) loses its PDF alone, as a failed print
    does: the asset warns (`on_pdf_error`) and every other file is written."""
    from dashboards.reports import render, write_all

    render_html = render.render_html

    def failing(report, *, for_print=False):
        if for_print and report.kind == "evaluation":
            raise ReportError("Druckseite nicht darstellbar")
        return render_html(report, for_print=for_print)

    monkeypatch.setattr(render, "render_html", failing)
    monkeypatch.setattr(render, "print_pdf", lambda page, out: out.write_bytes(b"%PDF-1.4\n"))
    skipped = []
    written = write_all(
        ws, "2026-Q3", out_dir=tmp_path, on_pdf_error=lambda p, e: skipped.append(p)
    )
    assert [p.name for p in skipped] == ["evaluation_2026-Q3.pdf"]
    assert sorted(p.name for p in written) == sorted(
        f"{k}_2026-Q3{s}"
        for k in KINDS
        for s in (".html", ".pdf", ".xlsx")
        if (k, s) != ("evaluation", ".pdf")
    )


def test_pdfs_printed_before_a_failure_are_on_record(ws, tmp_path, monkeypatch):
    """Every report written goes to the access log, also the PDFs Chromium printed before a
    later report failed; the failure is what the caller gets."""
    from dashboards import reports
    from dashboards.reports import render, write_all
    from kernel import access_log

    build_report = reports.build_report

    def third_fails(src, kind, *args, **kwargs):
        if kind == "foerderer":
            raise RuntimeError("kaputt")
        return build_report(src, kind, *args, **kwargs)

    monkeypatch.setattr(reports, "build_report", third_fails)
    monkeypatch.setattr(render, "print_pdf", lambda page, out: out.write_bytes(b"%PDF-1.4\n"))
    before = len(access_log.read(ws))
    with pytest.raises(RuntimeError, match="kaputt"):
        write_all(ws, "2026-Q3", out_dir=tmp_path)
    logged = {(e["object"], e["format"]) for e in access_log.read(ws)[before:]}
    assert logged == {
        (k, f) for k in ("lenkungsgruppe", "evaluation") for f in ("html", "pdf", "xlsx")
    }
    assert sorted(p.name for p in tmp_path.glob("*.pdf")) == [
        "evaluation_2026-Q3.pdf",
        "lenkungsgruppe_2026-Q3.pdf",
    ]
