"""Our own colours meet WCAG 2.1 AA (text 4.5:1, graphics 3:1), stay apart with a red-green
colour vision deficiency, and every chart gets a German text alternative; the served page is
German and carries the accessibility style sheet."""

from __future__ import annotations

import asyncio
import gzip
import itertools
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from dashboards import chart_text, figures, palette
from dashboards.page_shell import GermanPage, rewrite


def test_series_and_reference_colours_contrast_with_white():
    for color in (*palette.SERIES, palette.MUTED, palette.BAND_EDGE, palette.WAIT_P90):
        assert palette.contrast(color, palette.WHITE) >= 3.0, color
    assert palette.contrast(palette.WAIT_MEDIAN, palette.WAIT_P90) >= 3.0  # drawn on top
    for color in (palette.HIGH, palette.VERY_HIGH, palette.PRIMARY):
        assert palette.contrast(color, palette.WHITE) >= 3.0, color


def test_text_colours_reach_4_5_to_1():
    assert palette.contrast(palette.MUTED, palette.WHITE) >= 4.5  # captions, notes
    assert palette.contrast(palette.MUTED, "#f3f6f9") >= 4.5  # report's data-basis box
    for color in (*palette.SERIES, palette.WAIT_MEDIAN):  # values written on bars
        assert palette.contrast(palette.text_on(color), color) >= 4.5, color
    for _, color in palette.HEAT_SCALE:  # heatmap values in black on every cell
        assert palette.contrast(palette.HEAT_TEXT, color) >= 4.5, color


def _deutan(color: str) -> tuple[float, float, float]:
    """Simulated deuteranopia (Viénot, Brettel & Mollon 1999), linear RGB."""
    h = color.lstrip("#")
    rgb = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return (0.29275 * r + 0.70725 * g, 0.29275 * r + 0.70725 * g, -0.02234 * r + 0.02234 * g + b)


def test_series_colours_stay_apart_for_red_green_blindness():
    first = palette.SERIES[:6]  # a figure rarely shows more; the rest differ by symbol and dash
    for a, b in itertools.combinations(first, 2):
        da, db = _deutan(a), _deutan(b)
        distance = sum((x - y) ** 2 for x, y in zip(da, db, strict=True)) ** 0.5
        assert distance > 0.05, (a, b, distance)


def test_lines_differ_by_symbol_and_dash_not_colour_alone():
    styles = [palette.series(i) for i in range(len(palette.SERIES))]
    assert len({s["symbol"] for s in styles}) == len(styles)
    assert len({(s["dash"], s["symbol"]) for s in styles}) == len(styles)


def test_benchmark_bands_darken_in_one_hue():
    lum = [palette.contrast(c, palette.WHITE) for c in palette.BANDS]
    assert lum == sorted(lum)


def test_chart_text_names_kind_extremes_and_withheld_values():
    df = pd.DataFrame(
        {
            "provider_id": ["a", "b", "c"],
            "avg_caseload": [40.0, 72.5, "<3"],
        }
    )
    fig = figures.caseload_benchmarks(df, [], title=None)
    text = chart_text.describe(fig, "Fälle je VZÄ")
    assert text.startswith("Balkendiagramm (waagerecht): Fälle je VZÄ")
    assert "Höchster Wert 72,5 (b)" in text and "niedrigster 40 (a)" in text
    assert "1 Wert nicht ausgewiesen" in text


def test_chart_text_of_a_heatmap_and_escaped_labels():
    df = pd.DataFrame(
        {
            "domain": ["Wohnen", "<b>Arbeit</b>"],
            "region_code": ["R1", "R1"],
            "gap_rate": [0.25, "x"],
            "goals_set": [20, 4],
        }
    )
    text = chart_text.describe(figures.gap_heatmap(df, title=None), "Lückenquote")
    assert text.startswith("Heatmap: Lückenquote, 2 Zeilen × 1 Spalte.")
    assert "Höchster Wert 25 % (Wohnen · R1)" in text and "1 Feld ohne Wert" in text
    assert "&lt;" not in text


def test_rewrite_makes_the_page_german_with_style():
    page = '<html lang="en"><head><title>Streamlit</title></head><body></body></html>'
    out = rewrite(page)
    assert '<html lang="de">' in out and "<title>Lagebild</title>" in out
    assert 'id="lagebild-a11y"' in out and palette.MUTED in out and ":focus-visible" in out


@pytest.mark.parametrize("compressed", [False, True])
def test_middleware_rewrites_html_only(compressed):
    page = b'<html lang="en"><head><title>Streamlit</title></head></html>'

    def app_for(content_type: bytes, body: bytes):
        async def app(scope, receive, send):
            headers = [(b"content-type", content_type), (b"content-length", b"1")]
            if compressed and content_type.startswith(b"text/html"):
                body_out = gzip.compress(body)
                headers.append((b"content-encoding", b"gzip"))
            else:
                body_out = body
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body_out})

        return app

    def run(app) -> tuple[dict, bytes]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/"}
        # in a thread of its own: Playwright's sync API (the browser tests, when they ran in
        # this worker before) leaves an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, GermanPage(app)(scope, None, send)).result()
        return sent[0], b"".join(m.get("body", b"") for m in sent[1:])

    start, body = run(app_for(b"text/html; charset=utf-8", page))
    assert b'lang="de"' in body
    headers = dict(start["headers"])
    assert headers[b"content-length"] == str(len(body)).encode()
    assert b"content-encoding" not in headers
    _, other = run(app_for(b"application/json", b'{"lang": "<html lang=\\"en\\">"}'))
    assert other == b'{"lang": "<html lang=\\"en\\">"}'
