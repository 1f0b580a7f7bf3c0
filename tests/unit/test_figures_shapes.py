"""The reference lines and bands of the caseload and Kaplan–Meier charts are the shapes plotly's
own helpers (`add_vline`, `add_vrect`) draw there: written as one list instead
(`dashboards.figures.upright`), not one helper call each."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import figures, palette
from kernel.settings import DEFAULT_BENCHMARKS, Benchmark

EDGE = {"color": palette.BAND_EDGE, "width": 1, "dash": "dot"}


def _shapes(fig: go.Figure) -> list[dict]:
    return fig.to_dict()["layout"].get("shapes", [])


def test_the_caseload_bands_and_edges_are_plotlys_own_shapes():
    data = pd.DataFrame({"provider_id": ["a", "b"], "avg_caseload": [35.0, 170.0]})
    fig = figures.caseload_benchmarks(data, DEFAULT_BENCHMARKS)
    xmax = 170.0 * 1.15
    ref = go.Figure()
    for i, b in enumerate(sorted(DEFAULT_BENCHMARKS, key=lambda b: b.low)):
        if b.high > b.low:
            color = figures.BAND_COLORS[i % len(figures.BAND_COLORS)]
            ref.add_vrect(
                x0=b.low, x1=b.high, fillcolor=color, opacity=0.9, layer="below", line_width=0
            )
        for pos in {b.low, b.high} if b.high > b.low else {b.low}:
            if 0 < pos <= xmax:
                ref.add_vline(x=pos, line=EDGE)
    assert len(_shapes(fig)) == 10  # three bands, seven edges (0 is the axis)
    assert _shapes(fig) == _shapes(ref)


def test_a_band_beyond_the_axis_draws_no_edge():
    data = pd.DataFrame({"provider_id": ["a"], "avg_caseload": [10.0]})
    fig = figures.caseload_benchmarks(data, [Benchmark("weit", 200, 300)])
    assert [s["type"] for s in _shapes(fig)] == ["rect"]


def test_the_kaplan_meier_windows_are_plotlys_own_lines_in_the_upper_plot():
    curve = pd.DataFrame(
        {
            "horizon": [0, 180, 365],
            "cumulative_incidence": [0.0, 0.1, 0.2],
            "ci_low": [0.0, 0.05, 0.1],
            "ci_high": [0.0, 0.15, 0.3],
        }
    )
    at_risk = pd.DataFrame({"horizon": [0, 180, 365], "at_risk": [20, 15, 9]})
    km = {"label": "Netzwerk", "curve": curve, "at_risk": at_risk, "windows": (365, 180)}
    fig = figures.km_curves([km], title=None)
    ref = make_subplots(rows=2, cols=1)
    ref.add_trace(go.Scatter(x=[0], y=[0]), row=1, col=1)  # plotly draws none over an empty plot
    for w in (180, 365):
        ref.add_vline(x=w, line={"color": palette.MUTED, "width": 1, "dash": "dot"}, row=1, col=1)
    assert _shapes(fig) == _shapes(ref) and len(_shapes(fig)) == 2
    assert _shapes(figures.km_curves([{**km, "windows": ()}], title=None)) == []
    withheld = {**km, "withheld": True}  # no curve drawn: no lines, as before
    assert _shapes(figures.km_curves([withheld], title=None)) == []
