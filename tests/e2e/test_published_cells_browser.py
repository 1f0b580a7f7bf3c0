"""A funder and a provider click through every view in headless Chromium (issue 11): the funder
sees the grid's filters only, and every table they download and every number the page's charts
carry is what the read side gives that reader — whose figures are the publication grid's
cells with the grid's pattern (tests/dashboards/test_grid_attacks.py, the audit). Compared
cell by cell: a downloaded CSV equals the read side's table for that view (the columns the view
shows), a chart carries no number that is not in one of the view's published tables.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as NoDownload
from python_calamine import CalamineWorkbook

from dashboards import exports, read
from dashboards.disclosure import Published
from dashboards.views import all_views
from tests.e2e.pipeline_workspace import providers
from tests.e2e.test_dashboard_roles import ROLE_USERS, ROLE_VIEWS, VIEWS, _login, _open

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# audit lists and released reports: no figures of the grid
SKIP = ("lieferungen", "berichtsarchiv", "zugriffe")


def _csv_frame(data: bytes) -> pd.DataFrame:
    text = data.decode("utf-8-sig")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("# "))
    return pd.read_csv(io.StringIO(body), sep=";", dtype=str, keep_default_na=False)


def _published(result) -> list[Published]:
    if isinstance(result, Published):
        return [result]
    if isinstance(result, dict):
        return [v for v in result.values() if isinstance(v, Published)]
    return []


def _expected(ws, role: str, provider: str | None) -> dict[str, list[pd.DataFrame]]:
    """View key -> every table its declared queries give this reader with the view's opening
    filters, as the CSV download writes it (with the trust column the view adds)."""
    src = read.Source.of(ws)
    viewer = src.viewer(role, provider)
    options = read.filter_options(src, viewer, read.ALL)
    if viewer.suppress_k is not None:  # the grid's default: the latest complete quarter
        complete = [p for p in options["periods"] if p not in set(options["partial"])]
        quarter = complete[-1]
        filters = read.Filters(quarter, quarter)
    else:
        filters = replace(read.default_filters(options), providers=(provider,))
    basis = read.data_basis(src, viewer)
    out: dict[str, list[pd.DataFrame]] = {}
    for view in all_views():
        if role not in view.roles:
            continue
        frames = []
        for q in view.queries.values():
            if q.on_demand or role not in q.roles(view.roles):
                continue
            variants = [filters]
            if q.program and not filters.programs:
                variants.append(replace(filters, programs=(q.program,)))
            if viewer.suppress_k is not None and filters.period_from:  # process: the year
                year = filters.period_from[:4]
                variants.append(replace(filters, period_from=year, period_to=year))
            for f in variants:
                sample = q.sample(src, viewer) if q.sample else {}
                for group_by in (None, ("program",), ("provider_id",)):
                    extra = {"group_by": group_by} if group_by else {}
                    try:
                        result = q.func(src, viewer, f, **{**q.options, **sample, **extra})
                    except (read.NotInGrid, TypeError, ValueError, read.AccessDenied):
                        continue
                    for pub in _published(result):
                        frames.append(_csv_frame(exports.table_csv(read.with_trust(pub, basis))))
                    if isinstance(result, pd.DataFrame):  # a provider's own case rows
                        frames.append(_csv_frame(exports.frame_csv(result)))
                    if isinstance(result, dict):  # a curve: its protected points
                        for part in result.values():
                            if isinstance(part, pd.DataFrame) and len(part):
                                frames.append(_csv_frame(exports.frame_csv(part)))
        out[view.key] = frames
    return out


def _matches(got: pd.DataFrame, frames: list[pd.DataFrame]) -> bool:
    """`got` is one of the tables, cell by cell, in the columns the view shows — whole, or
    the rows the view picks (e.g. one event of the re-entry table)."""
    for want in frames:
        if not set(got.columns) <= set(want.columns) or len(got) > len(want):
            continue
        rows = Counter(want[list(got.columns)].itertuples(index=False, name=None))
        shown = Counter(got.itertuples(index=False, name=None))
        if len(got) and not shown - rows:
            return True
    return False


def _numbers(frames: list[pd.DataFrame]) -> list[float]:
    values = []
    for df in frames:
        for col in df.columns:
            parsed = pd.to_numeric(
                df[col].str.replace(".", "", regex=False).str.replace(",", ".", regex=False),
                errors="coerce",
            )
            values += parsed.dropna().tolist()
    return values


def _known(value: float, numbers: list[float]) -> bool:
    """A chart value is one of the tables' numbers (a share may be drawn in per cent)."""
    for n in numbers:
        for scale in (1, 100, 0.01):
            if math.isclose(value, n * scale, rel_tol=1e-9, abs_tol=1e-9):
                return True
    return False


# plotly sends a NumPy array as {dtype, bdata}, decoded into `_inputArray` (a typed array, no
# JS Array): read those as well as plain arrays, nested ones too. Before, only plain lists were
# read, so a funder's charts (all NumPy) were checked through the Kaplan–Meier band alone.
CHART_NUMBERS = """() => {
    const flat = v => Array.isArray(v) ? v.flatMap(flat)
        : ArrayBuffer.isView(v) ? Array.from(v)
        : (v && typeof v === 'object' && v._inputArray) ? Array.from(v._inputArray)
        : (v == null ? [] : [v]);
    return [...document.querySelectorAll('.js-plotly-plot')].map(p =>
    (p.data || []).map(t => {
        const out = [];
        for (const key of ['y', 'z', 'customdata', 'text', 'hovertext']) {
            for (const x of flat(t[key])) if (typeof x === 'number' && isFinite(x)) out.push(x);
        }
        if (t.orientation === 'h') out.push(...flat(t.x).filter(
            x => typeof x === 'number' && isFinite(x)));
        return {name: t.name || '', type: t.type, numbers: out};
    }));
}"""


def _download(page, button, lost: list[str]):
    """The download a click on `button` starts. A click that brought none within 30 s is made
    once more and noted in `lost`: CI lost one once on a loaded machine, with the dashboard's
    log clean. A download that never comes still fails, and the test allows one lost click."""
    try:
        with page.expect_download(timeout=30_000) as info:
            button.click()
    except NoDownload:
        lost.append(button.inner_text().strip())
        with page.expect_download(timeout=30_000) as info:
            button.click()
    return info.value


def _download_all(
    page, folder, lost: list[str]
) -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    """Every CSV (parsed) and XLSX (opened) download of the view, with every expander open."""
    folder.mkdir(parents=True, exist_ok=True)
    for summary in page.locator("[data-testid='stMain'] [data-testid='stExpander'] summary").all():
        if summary.is_visible() and summary.get_attribute("aria-expanded") != "true":
            summary.click()
    page.wait_for_timeout(300)
    csvs, workbooks = [], []
    buttons = page.locator("[data-testid='stMain'] [data-testid='stDownloadButton'] button")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        label = button.inner_text().strip()
        download = _download(page, button, lost)
        assert download.failure() is None, (label, download.suggested_filename)
        data = download.path().read_bytes()
        if label.endswith("CSV"):
            csvs.append((download.suggested_filename, _csv_frame(data)))
        elif label.endswith("XLSX"):
            # a real workbook with the table's sheet, not an error page
            assert CalamineWorkbook.from_filelike(io.BytesIO(data)).sheet_names, label
            workbooks.append(download.suggested_filename)
    return csvs, workbooks


@pytest.mark.parametrize("role", ["foerderer", "traeger"])
def test_what_a_suppressed_reader_gets_is_the_published_cells(
    role, browser, dashboard_url, e2e_workspace, tmp_path
):
    own = providers(e2e_workspace)[0] if role == "traeger" else None
    expected = _expected(e2e_workspace, role, own)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="de-DE")
    unmatched, foreign, downloads, charted, withheld = [], [], 0, 0, 0
    lost: list[str] = []  # download buttons clicked twice (`_download`)
    try:
        _login(page, dashboard_url, ROLE_USERS[role])
        sidebar = page.locator("[data-testid='stSidebar']")
        if role == "foerderer":  # grid filters: single choices, no free unions of cells
            assert sidebar.locator("[data-testid='stMultiSelect']").count() == 0
            assert sidebar.locator("[data-testid='stSlider']").count() == 0
            assert sidebar.get_by_text("Veröffentlichungsrasters").count() == 1
        for view in ROLE_VIEWS[role]:
            if view in SKIP:
                continue
            if view != "ueberblick":
                _open(page, view)
            frames = expected[view]
            csvs, workbooks = _download_all(page, tmp_path / view, lost)
            assert len(workbooks) == len(csvs), view  # every table in both formats
            for name, got in csvs:
                downloads += 1
                if not _matches(got, frames):
                    unmatched.append(f"{VIEWS[view]}: {name}")
            if view == "wiederaufnahme":
                withheld += page.get_by_text("Kurve nicht ausgewiesen").count()
            numbers = _numbers(frames)
            for chart in page.evaluate(CHART_NUMBERS):
                for trace in chart:
                    charted += len(trace["numbers"])
                    extra = [v for v in trace["numbers"] if not _known(v, numbers)]
                    if extra:
                        foreign.append(f"{VIEWS[view]} / {trace['name']}: {extra[:5]}")
    finally:
        page.close()
    # charts were checked, or (the small provider of the demo) its curves are withheld because
    # the grid hides their numbers at risk, and the view says so
    assert downloads >= 5 and (charted > 0 or (role == "traeger" and withheld > 0))
    assert len(lost) <= 1, f"Downloads erst beim zweiten Klick: {lost}"
    assert not unmatched, "Downloads ohne gleiche Tabelle der Leseseite:\n" + "\n".join(unmatched)
    assert not foreign, "Diagrammdaten mit Zahlen außerhalb der Tabellen:\n" + "\n".join(foreign)
