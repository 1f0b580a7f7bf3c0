"""Attack review of the lineage (issue 14): no case list in the published view, and no
delivery file names for evaluators and funders in any download's data basis."""

from __future__ import annotations

import io
import zipfile

import pytest

from dashboards import exports, read
from dashboards.ui import PUBLICATION_KEY
from tests.dashboards.apptest import logged_in

LINEAGE = ["gap_lineage", "referral_lineage", "closure_lineage", "caseload_lineage"]
LINEAGE += ["reentry_lineage", "cases", "reentry_cases"]  # and the case tables


def _filters(src):
    return read.default_filters(read.filter_options(src, src.viewer("koordination")))


def test_no_gap_lineage_with_publication_on(workspace, monkeypatch):
    at = logged_in(workspace, monkeypatch, "koordination")
    at.session_state[PUBLICATION_KEY] = True
    at.run()
    at.switch_page("views/versorgungsluecken.py")
    at.run()
    assert not at.exception, at.exception
    assert not [e for e in at.expander if e.label.startswith("Wie entsteht diese Zahl?")]
    assert not [t for t in at.toggle if t.key == "lineage_gaps"]


@pytest.mark.parametrize("role", ["koordination", "evaluation"])
@pytest.mark.parametrize("func", LINEAGE)
def test_no_lineage_query_for_a_published_viewer(workspace, role, func):
    src = read.Source.of(workspace)
    viewer = src.viewer(role, publication=True)
    with pytest.raises(read.AccessDenied):
        getattr(read, func)(src, viewer, _filters(src))
    with pytest.raises(read.AccessDenied):
        read.theme_lineage(src, viewer, _filters(src), theme_id="x")


@pytest.mark.parametrize("role", ["evaluation", "foerderer"])
def test_no_file_names_in_a_downloads_data_basis(workspace, role):
    src = read.Source.of(workspace)
    with src.read() as con:
        names = {r[0] for r in con.execute("SELECT source_name FROM audit.deliveries").fetchall()}
    basis = read.data_basis(src, src.viewer(role))
    assert "source_name" not in basis.delivery_list.columns
    assert "source_name" not in basis.held.columns
    book = exports.workbook_bytes(
        [exports.Sheet("t", basis.delivery_list, title="t")], basis=basis, suppressed_k=None
    )
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        text = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    assert not [n for n in names if n in text]
    mine = read.data_basis(src, src.viewer("koordination"))
    assert set(mine.delivery_list["source_name"]) <= names  # the office still sees them


@pytest.mark.parametrize(
    ("page", "expander"),
    [
        ("views/ueberblick.py", "Falldaten (pseudonym)"),
        ("views/wiederaufnahme.py", "Abgeschlossene Fälle (pseudonym"),
    ],
)
def test_no_case_table_with_publication_on(workspace, monkeypatch, page, expander):
    """Everything on a page "für Veröffentlichung" may leave the office: no case table."""
    at = logged_in(workspace, monkeypatch, "koordination")
    at.session_state[PUBLICATION_KEY] = True
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert not [e for e in at.expander if e.label.startswith(expander)]
    src = read.Source.of(workspace)
    with pytest.raises(read.AccessDenied):
        read.theme_cases(src, src.viewer("koordination", publication=True), theme_id="x")


@pytest.mark.parametrize("kind", ["lenkungsgruppe", "evaluation", "foerderer"])
def test_no_file_names_in_a_report(workspace, tmp_path, kind):
    """A report leaves the office: its data basis names deliveries by id, provider and date,
    in HTML and XLSX alike (attack review: the funder's report listed every file name)."""
    from dashboards.reports import build_report
    from dashboards.reports.render import render_html, write_xlsx

    src = read.Source.of(workspace)
    with src.read() as con:
        names = {r[0] for r in con.execute("SELECT source_name FROM audit.deliveries").fetchall()}
        ids = {r[0] for r in con.execute("SELECT delivery_id FROM audit.deliveries").fetchall()}
    period = read.data_basis(src, src.viewer("koordination")).as_of
    quarter = f"{period.year}-Q{(period.month - 1) // 3 + 1}"
    report = build_report(src, kind, quarter, src.viewer("koordination"))
    html = render_html(report)
    book = write_xlsx(report, tmp_path / "r.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        text = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    assert not [n for n in names if n in html or n in text]
    assert any(i in html for i in ids)  # the deliveries are still named, by id
