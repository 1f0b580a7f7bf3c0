"""Hostile keys on every surface (issue 12): a warehouse written directly, bypassing the
ingest, holds formulas, HTML and Markdown images as provider, case and caseworker ids, region
codes and theme labels. Every role opens every view (AppTest): no Markdown source carries
them unescaped, no plotly text carries markup, every download is made on click and is
formula-free, and the access log has one entry per view, download and drill-down — without a
data value. The HTML and XLSX reports are checked too; the browser check is in
tests/e2e/test_security_browser.py.
"""

from __future__ import annotations

import json
from collections import Counter
from html.parser import HTMLParser

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from dashboards.read import ROLES
from dashboards.views import titles, views_for
from kernel import access_log
from tests.dashboards.apptest import logged_in, texts
from tests.dashboards.fixture_warehouse import HOSTILE, HOSTILE_PROVIDERS, SECRET_CASE, build
from tests.dashboards.safe_files import (
    csv_problems,
    markdown_problems,
    xlsx_problems,
    xlsx_strings,
)

PROVIDER = {"traeger": HOSTILE_PROVIDERS["p04"]}  # the provider user is bound to a hostile id
RAW = "evil.example"  # escaped it reads evil\\.example: no autolink can form
CASE_ONLY = ("-1+1", "+cmd", "@SUM", SECRET_CASE)  # case and caseworker ids, never in the log
TEXT_KINDS = ("markdown", "caption", "title", "subheader", "info", "warning", "error", "success")
TOGGLES = {"ueberblick": "load_cases", "wiederaufnahme": "load_reentry_cases"}


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory):
    from kernel.workspace import Workspace

    root = tmp_path_factory.mktemp("hostile")
    build(Workspace(root).published_db_path, hostile=True)
    return root


@pytest.fixture
def made(monkeypatch):
    """file id -> (file name, callable) of every download button the app registers."""
    found: dict[str, tuple[str, object]] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        file_id = original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)
        found[file_id] = (file_name, data_callable)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return found


VIEWS = titles()


def _markdown_sources(at) -> list[str]:
    out = [str(e.value) for kind in TEXT_KINDS for e in getattr(at, kind)]
    out += [m.label for m in at.metric] + [e.label for e in at.expander]
    return out


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _check_page(at, where: str) -> None:
    assert not at.exception, (where, at.exception)
    for source in _markdown_sources(at):
        assert RAW not in source, (where, source)
        assert not markdown_problems(source), (where, source, markdown_problems(source))
    for chart in at.get("plotly_chart"):
        for text in _strings(json.loads(chart.proto.spec)):
            assert "<a" not in text and "<img" not in text, (where, text)


def _download_all(at, made, where: str) -> list[tuple[str, bytes]]:
    files = []
    for button in at.get("download_button"):
        assert button.proto.deferred_file_id and not button.proto.url, (where, "made on render")
        name, produce = made[button.proto.deferred_file_id]
        files.append((name, produce()))
    return files


def test_every_surface_of_every_role_stays_text(hostile_ws, monkeypatch, made):
    files: list[tuple[str, str, bytes]] = []
    for role in ROLES:
        at = logged_in(hostile_ws, monkeypatch, role, PROVIDER.get(role))
        at.run()
        for i, view in enumerate(v.key for v in views_for(role)):
            if i:
                at.switch_page(f"views/{view}.py")
                at.run()
            toggle = TOGGLES.get(view)
            if toggle and at.get("toggle") and any(t.key == toggle for t in at.toggle):
                at.toggle(key=toggle).set_value(True).run()
            where = f"{role}/{view}"
            _check_page(at, where)
            # every view renders for every role with its title, data basis and, where
            # suppressed, the k (this loop is the per-view render test as well)
            body = texts(at)
            assert VIEWS[view] in [t.value for t in at.title], where
            assert "Datenbasis:" in body and "Datenstand 30.09.2026" in body, where
            if role in ("foerderer", "traeger"):
                assert "k = 3" in body, where
            files += [(where, name, data) for name, data in _download_all(at, made, where)]

    # every file a view offers: formula-free, hostile keys present as plain strings
    assert len(files) > 40
    for where, name, data in files:
        if name.endswith(".xlsx"):
            assert not xlsx_problems(data), (where, name, xlsx_problems(data))
        else:
            assert not csv_problems(data), (where, name, csv_problems(data))
    csvs = b"".join(d for _, n, d in files if n.endswith(".csv")).decode("utf-8-sig")
    assert '"' + ("'" + HOSTILE[0]).replace('"', '""') + '"' in csvs  # quoted, neutralised
    assert "'+cmd" in csvs and "'@SUM(A1)" in csvs and "'-1+1" in csvs
    assert any(HOSTILE[4] in xlsx_strings(d) for _, n, d in files if n.endswith(".xlsx"))

    # the access log: one entry per view and role, one per download, no data value
    entries = access_log.read(hostile_ws)
    views = Counter((e["role"], e["view"]) for e in entries if e["event"] == "view")
    assert views == Counter({(r, v.key): 1 for r in ROLES for v in views_for(r)})
    downloads = [e for e in entries if e["event"] == "download"]
    assert len(downloads) == len(files)
    assert Counter(e["format"] for e in downloads) == Counter(
        n.rsplit(".")[-1] for _, n, _ in files
    )
    drilldowns = {(e["role"], e["object"]) for e in entries if e["event"] == "drilldown"}
    assert ("koordination", "Fälle im Zeitraum") in drilldowns
    assert ("evaluation", "Abgeschlossene Fälle") in drilldowns
    assert not any(e["role"] == "foerderer" for e in entries if e["event"] == "drilldown")
    for e in entries:
        assert e.get("suppression") in (None, "keine", "k=3"), e
        values = list(_strings(e))
        assert not any(isinstance(v, (int, float)) for v in _all_values(e)), e
        assert not [v for v in values for secret in CASE_ONLY if secret in v], e
    traeger = [e for e in entries if e.get("role") == "traeger"]
    assert traeger and all(e["suppression"] == "k=3" for e in traeger if e["event"] == "view")
    assert all(e["filters"]["providers"] == [PROVIDER["traeger"]] for e in traeger)


def _all_values(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _all_values(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_values(v)
    else:
        yield obj


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "img", "link", "iframe") or (tag == "script" and dict(attrs).get("src")):
            self.found.append((tag, attrs))


def test_reports_keep_hostile_keys_as_text(hostile_ws, tmp_path):
    from dashboards.reports import write_report

    for kind in ("lenkungsgruppe", "evaluation", "foerderer"):
        html = write_report(hostile_ws, kind, "2026-Q3", tmp_path / f"{kind}.html")
        text = html.read_text(encoding="utf-8")
        tags = _Tags()
        tags.feed(text)
        assert not tags.found, (kind, tags.found[:3])
        assert "&lt;a href=" in text or kind == "evaluation"  # escaped by the autoescape
        # plotly's JSON: markup in the data would be \\u003ca / \\u003cimg (live in plotly.js)
        assert "\\u003ca" not in text and "\\u003cimg" not in text, kind
        xlsx = write_report(hostile_ws, kind, "2026-Q3", tmp_path / f"{kind}.xlsx")
        data = xlsx.read_bytes()
        assert not xlsx_problems(data), (kind, xlsx_problems(data))
    datenbasis = xlsx_strings((tmp_path / "lenkungsgruppe.xlsx").read_bytes())
    assert '=HYPERLINK("http://evil.example/x"' in datenbasis  # as a string cell
    logged = [e for e in access_log.read(hostile_ws) if e["event"] == "report"]
    assert Counter(e["format"] for e in logged) == Counter({"html": 3, "xlsx": 3})
    assert {e["source"] for e in logged} == {"kommandozeile"}
    assert all(e["suppression"] == "k=3" and e["period"] == "2026-Q3" for e in logged)
