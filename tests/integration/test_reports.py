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


def test_html_is_one_offline_file(ws, tmp_path):
    out = write_report(ws, "lenkungsgruppe", "2026-Q3", tmp_path / "lg.html")
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


def test_funder_report_is_suppressed(ws, tmp_path):
    out = write_report(ws, "foerderer", "2026-Q3", tmp_path / "f.html")
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert "Statistische Geheimhaltung angewendet (k = 3)" in text
    # provider p04 has two cases: shown as <3 with its ratio hidden, and a second cell hidden
    row = re.search(r"p04\s+(\S+)\s+(\S+)\s+(\S+)", text)
    assert row, "p04 row present"
    assert "&lt;3" in row.group(0) or "<3" in row.group(0)


def test_provider_report_shows_only_that_provider(ws, tmp_path):
    out = write_report(ws, "lenkungsgruppe", "2026-Q3", tmp_path / "p.html", provider="p04")
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert "Träger p04" in text
    for other in ("p01", "p02", "p03"):
        assert not re.search(rf"\b{other}\b", text), other


@pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian-Paket chromium fehlt")
@pytest.mark.parametrize("kind", ["lenkungsgruppe", "evaluation", "foerderer"])
def test_pdf_page_count_and_no_blank_page(ws, tmp_path, kind):
    from pypdf import PdfReader

    out = write_report(ws, kind, "2026-Q3", tmp_path / f"{kind}.pdf")
    pages = pdf_pages(out)
    assert 4 <= pages <= 20, pages
    assert blank_pages(out, tmp_path) == []
    first = PdfReader(str(out)).pages[0].extract_text()
    assert "Datenstand" in first and "Geheimhaltung" in first
    assert "Seite 1 von" in first


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
    assert p04[col] == "<3"
    trend = wb.get_sheet_by_name("Fälle je Quartal").to_python()
    assert all(isinstance(r[1], float) for r in trend[5:] if r[0])  # numbers stay numbers
    basis = wb.get_sheet_by_name("Datenbasis").to_python()
    flat = " ".join(str(c) for r in basis for c in r)
    assert "Datenstand" in flat and "d000000000000002" in flat and "k = 3" in flat
    defs = wb.get_sheet_by_name("Definitionen").to_python()
    assert any("Fälle je Vollzeitstelle" in str(r[0]) for r in defs)


def test_evaluation_report_names_definitions_and_intervals(ws, tmp_path):
    out = write_report(ws, "evaluation", "2026-Q3", tmp_path / "e.html")
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


@pytest.mark.slow
def test_reports_asset_writes_all_three(tmp_path):
    import dagster as dg

    from kernel.workspace import Workspace
    from pipelines.defs.reports import reports
    from pipelines.resources import LagebildResource

    root = tmp_path / "ws"
    build(Workspace(root).published_db_path)
    result = dg.materialize(
        [reports], resources={"lagebild": LagebildResource(workspace=str(root))}
    )
    assert result.success
    files = sorted(p.name for p in (root / "reports").iterdir())
    expected = sorted(
        f"{k}_2026-Q3{s}"
        for k in ("lenkungsgruppe", "evaluation", "foerderer")
        for s in ((".html", ".xlsx", ".pdf") if HAS_CHROMIUM else (".html", ".xlsx"))
    )
    assert files == expected


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
