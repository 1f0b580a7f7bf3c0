"""Pure figure builders: DataFrame (or published table) in, plotly figure out.

Used by the dashboards and the reports alike. A suppressed cell never reaches a figure as a
number: `numeric()` turns every marker (``x``, ``–``) into a gap, and the marker is shown as
text where the value would be. German labels throughout; fixed sizes on request (reports).

Every text taken from the data (category labels, legend names, marker and hover text) passes
`markup.plot_text`: plotly renders `<a href>`, `<b>`, `<br>` in text, so a key like
`<a href="…">` would otherwise become a live link.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.disclosure import Published, format_number, format_percent
from dashboards.markup import plot_text, plot_texts

FONT = "Source Sans Pro, Segoe UI, Arial, sans-serif"
COLORS = palette.SERIES
BAND_COLORS = palette.BANDS


def numeric(values) -> pd.Series:
    """Numbers stay, markers and text become NaN (a gap in the figure)."""
    return pd.to_numeric(pd.Series(list(values)), errors="coerce")


def _marker_text(values, fmt) -> list[str]:
    """Formatted numbers, markers (``x``) as they are; escaped for plotly."""
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("–")
        else:
            out.append(fmt(v))
    return plot_texts(out)


def _layout(fig: go.Figure, title: str | None, width: int | None, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": plot_text(title), "x": 0, "xanchor": "left", "font": {"size": 15}}
        if title
        else None,
        font={"family": FONT, "size": 12},
        height=height,
        width=width,
        margin={"l": 10, "r": 10, "t": 48 if title else 16, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        separators=",.",  # German decimal comma, thousands point
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
    )
    fig.update_xaxes(gridcolor="#e5e5e5", zerolinecolor="#cccccc", automargin=True)
    fig.update_yaxes(gridcolor="#e5e5e5", zerolinecolor="#cccccc", automargin=True)
    return fig


def _series_style(i: int) -> dict:
    """Line and marker of the i-th series: colour, dash and symbol differ (not colour alone)."""
    s = palette.series(i)
    return {"line": {"color": s["color"], "dash": s["dash"]}, "marker": {"symbol": s["symbol"]}}


def upright(kind: str, **shape) -> dict:
    """A line or band over the whole height of the first plot at x: the shape plotly's
    `add_vline` / `add_vrect` make there, as a plain dict. Those helpers copy and check the
    whole layout on every call: twelve lines one by one about 150 ms, as one list 7 ms (the
    caseload chart of every report and view; tests/unit/test_figures_shapes.py)."""
    return {"type": kind, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain", **shape}


def _table(data: Published | pd.DataFrame) -> pd.DataFrame:
    return data.table if isinstance(data, Published) else data


# ---------------------------------------------------------------------------------------------
# caseload per FTE against the benchmark bands


def caseload_benchmarks(
    data: Published | pd.DataFrame,
    benchmarks: Sequence,
    *,
    label_col: str = "provider_id",
    value_col: str = "avg_caseload",
    title: str | None = "Fälle je Vollzeitstelle im Vergleich zu den Richtwerten",
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars per group with the benchmark bands (ranges shaded, single values as
    lines). Suppressed values get no bar, only their marker."""
    df = _table(data)
    labels = plot_texts(df[label_col])
    values = numeric(df[value_col])
    text = _marker_text(df[value_col], lambda v: format_number(v, 1))
    xmax = float(np.nanmax([*values.to_numpy(dtype=float), 0.0])) if len(values) else 0.0
    xmax = max(xmax * 1.15, 90.0)
    height = height or max(260, 60 + 34 * len(labels))
    fig = go.Figure()
    shapes = []
    for i, b in enumerate(sorted(benchmarks, key=lambda b: b.low)):
        if b.high > b.low:
            shapes.append(
                upright(
                    "rect",
                    x0=b.low,
                    x1=b.high,
                    fillcolor=BAND_COLORS[i % len(BAND_COLORS)],
                    opacity=0.9,
                    layer="below",
                    line={"width": 0},
                )
            )
        if b.low <= xmax:  # the band's edges: the bands do not depend on their fill
            for pos in {b.low, b.high} if b.high > b.low else {b.low}:
                if 0 < pos <= xmax:
                    line = {"color": palette.BAND_EDGE, "width": 1, "dash": "dot"}
                    shapes.append(upright("line", x0=pos, x1=pos, line=line))
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=plot_text(b.label),
                marker={
                    "symbol": "square",
                    "size": 12,
                    "color": BAND_COLORS[i % len(BAND_COLORS)] if b.high > b.low else palette.MUTED,
                    "line": {"color": palette.BAND_EDGE, "width": 1},
                },
            )
        )
    colors = []
    for v in values:
        if np.isnan(v):
            colors.append(palette.MISSING)
        elif v > 150:
            colors.append(palette.VERY_HIGH)
        elif v > 60:
            colors.append(palette.HIGH)
        else:
            colors.append(palette.PRIMARY)
    fig.add_trace(
        go.Bar(
            y=labels,
            x=values.fillna(0),
            orientation="h",
            marker={"color": colors},
            text=text,
            textposition="outside",
            cliponaxis=False,
            name="Fälle je VZÄ",
            showlegend=False,
            hovertemplate="%{y}: %{text} Fälle je VZÄ<extra></extra>",
        )
    )
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(title_text="Fälle je Vollzeitstelle (VZÄ)", range=[0, xmax])
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, title, width, height)


def caseload_trend(
    data: Published | pd.DataFrame,
    benchmarks: Sequence = (),
    *,
    group_col: str = "provider_id",
    value_col: str = "avg_caseload",
    title: str | None = "Fälle je Vollzeitstelle nach Quartal",
    width: int | None = None,
    height: int = 340,
) -> go.Figure:
    df = _table(data)
    fig = go.Figure()
    values = numeric(df[value_col]) if len(df) else pd.Series(dtype=float)
    top = max(float(np.nanmax(values)) * 1.2 if values.notna().any() else 0.0, 65.0)
    for b in benchmarks:
        if b.low >= top:
            continue
        if b.high > b.low and b.low > 0:
            fig.add_hrect(
                y0=b.low,
                y1=min(b.high, top),
                fillcolor=BAND_COLORS[1],
                opacity=0.9,
                line_width=0,
                layer="below",
            )
        elif b.high == b.low:
            fig.add_hline(
                y=b.low,
                line={"color": palette.BAND_EDGE, "width": 1, "dash": "dot"},
                annotation_text=str(int(b.low)),
                annotation_position="top left",
            )
    for i, (name, g) in enumerate(df.groupby(group_col, sort=True)):
        fig.add_trace(
            go.Scatter(
                x=plot_texts(g["period"]),
                y=numeric(g[value_col]),
                mode="lines+markers",
                name=plot_text(name),
                **_series_style(i),
                connectgaps=False,
                text=_marker_text(g[value_col], lambda v: format_number(v, 1)),
                hovertemplate="%{x}: %{text}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_yaxes(title_text="Fälle je VZÄ", range=[0, top])
    fig.update_xaxes(type="category", title_text=None)
    return _layout(fig, title, width, height)


# ---------------------------------------------------------------------------------------------
# supply gaps


def gap_heatmap(
    data: Published | pd.DataFrame,
    *,
    row_col: str = "domain",
    col_col: str = "region_code",
    value_col: str = "gap_rate",
    count_col: str = "goals_set",
    title: str | None = "Lückenquote nach Lebensbereich und Region",
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Domain × region; cell = share of goals without a suitable offer. Suppressed cells are
    blank with their marker as text."""
    df = _table(data)
    rows = sorted(df[row_col].astype(str).unique())
    cols = sorted(df[col_col].astype(str).unique())
    z = np.full((len(rows), len(cols)), np.nan)
    text = [["" for _ in cols] for _ in rows]
    hover = [["" for _ in cols] for _ in rows]
    for rec in df.itertuples(index=False):
        r = rows.index(str(getattr(rec, row_col)))
        c = cols.index(str(getattr(rec, col_col)))
        v = getattr(rec, value_col)
        n = getattr(rec, count_col)
        if isinstance(v, str):
            text[r][c] = plot_text(v)
        elif v is not None and not (isinstance(v, float) and np.isnan(v)):
            z[r][c] = float(v)
            text[r][c] = format_percent(v, 0)
        n_text = plot_text(n if isinstance(n, str) else format_number(n))
        hover[r][c] = (
            f"{plot_text(rows[r])} · {plot_text(cols[c])}<br>Lückenquote {text[r][c] or '–'}"
            f"<br>Ziele {n_text}"
        )
    height = height or max(300, 90 + 34 * len(rows))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=plot_texts(cols),
            y=plot_texts(rows),
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=[list(stop) for stop in palette.HEAT_SCALE],
            textfont={"color": palette.HEAT_TEXT},
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "Lücken"}, "tickformat": ".0%"},
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-30)
    return _layout(fig, title, width, height)


def waits_by_service(
    data: Published | pd.DataFrame,
    *,
    title: str | None = "Wartezeit bis zum Beginn nach Angebotsart",
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Median and 90th percentile of the wait per service type (days)."""
    df = _table(data)
    df = df.assign(_m=numeric(df["wait_days_median"]).to_numpy())
    df = df.sort_values("_m", ascending=True, na_position="first")
    labels = plot_texts(df["service_type"])
    height = height or max(280, 80 + 30 * len(labels))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=labels,
            x=numeric(df["wait_days_p90"]),
            orientation="h",
            name="90. Perzentil",
            marker={"color": palette.WAIT_P90},
            text=_marker_text(df["wait_days_p90"], lambda v: format_number(v)),
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: 90 % beginnen innerhalb von %{text} Tagen<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            y=labels,
            x=numeric(df["wait_days_median"]),
            orientation="h",
            name="Median",
            marker={"color": palette.WAIT_MEDIAN},
            text=_marker_text(df["wait_days_median"], lambda v: format_number(v)),
            textposition="inside",
            insidetextfont={"color": palette.text_on(palette.WAIT_MEDIAN)},
            hovertemplate="%{y}: Median %{text} Tage<extra></extra>",
        )
    )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="Tage von der Anfrage bis zum Beginn")
    fig.update_yaxes(type="category")
    return _layout(fig, title, width, height)


# ---------------------------------------------------------------------------------------------
# Kaplan–Meier


def km_curves(
    curves: Sequence[dict],
    *,
    title: str | None = "Kumulierte Inzidenz nach Kaplan–Meier",
    width: int | None = None,
    height: int = 440,
) -> go.Figure:
    """Cumulative incidence 1 − S(t) with its 95 % band, and the numbers at risk underneath.

    Each dict is `dashboards.read.km_curve()` output: label, curve (horizon,
    cumulative_incidence, ci_low, ci_high), at_risk (horizon, at_risk), withheld, windows
    (the reference lines).
    """
    fig = make_subplots(
        rows=2, cols=1, row_heights=[0.78, 0.22], shared_xaxes=True, vertical_spacing=0.06
    )
    at_risk_rows = []
    for i, c in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        curve = c["curve"]
        if c.get("withheld") or curve is None or len(curve) == 0:
            at_risk_rows.append((c["label"], c["at_risk"]))
            continue
        x = list(curve["horizon"])
        if curve["ci_high"].notna().any():  # a suppressed reader gets no interval
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1],
                    y=list(curve["ci_high"]) + list(curve["ci_low"])[::-1],
                    fill="toself",
                    fillcolor=_rgba(color, 0.15),
                    line={"width": 0},
                    line_shape="hv",
                    hoverinfo="skip",
                    showlegend=False,
                    name=plot_text(f"{c['label']} 95 %-KI"),
                ),
                row=1,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=curve["cumulative_incidence"],
                mode="lines",
                line_shape="hv",
                line={"color": color, "width": 2},
                name=plot_text(c["label"]),
                hovertemplate="Tag %{x}: %{y:.1%}<extra>%{fullData.name}</extra>",
            ),
            row=1,
            col=1,
        )
        at_risk_rows.append((c["label"], c["at_risk"]))
    line = {"color": palette.MUTED, "width": 1, "dash": "dot"}
    windows = sorted({w for c in curves for w in c.get("windows", ())})
    if windows and fig.data:  # as `add_vline(row=1)` did: no lines over an empty plot
        fig.update_layout(shapes=[upright("line", x0=w, x1=w, line=line) for w in windows])
    # numbers at risk as text rows
    for label, risk in at_risk_rows:
        y = [plot_text(label)] * len(risk)
        fig.add_trace(
            go.Scatter(
                x=list(risk["horizon"]),
                y=y,
                mode="text",
                text=plot_texts(
                    v if isinstance(v, str) else format_number(v) for v in risk["at_risk"]
                ),
                textfont={"size": 11},
                showlegend=False,
                hoverinfo="skip",
            ),
            row=2,
            col=1,
        )
    top = max(
        (
            float(np.nanmax(c["curve"][["ci_high", "cumulative_incidence"]].to_numpy(float)))
            for c in curves
            if c.get("curve") is not None and len(c["curve"]) and not c.get("withheld")
        ),
        default=0.0,
    )
    fig.update_yaxes(
        title_text="kumulierte Inzidenz",
        tickformat=".1%" if top < 0.05 else ".0%",
        rangemode="tozero",
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text="unter Risiko",
        type="category",
        showgrid=False,
        row=2,
        col=1,
        autorange="reversed",
    )
    fig.update_xaxes(
        title_text="Tage seit Fallabschluss", row=2, col=1, showgrid=False, showticklabels=False
    )
    fig.update_xaxes(showticklabels=True, row=1, col=1)
    return _layout(fig, title, width, height)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ---------------------------------------------------------------------------------------------
# themes, cases, process quality


def theme_trends(
    data: Published | pd.DataFrame,
    *,
    title: str | None = "Fälle je Thema nach Quartal der ersten Nennung",
    width: int | None = None,
    height: int = 360,
    max_themes: int = 8,
) -> go.Figure:
    df = _table(data)
    fig = go.Figure()
    if len(df):
        df = df.assign(_n=numeric(df["cases"]).fillna(0).to_numpy())
        top = df.groupby("label")["_n"].sum().sort_values(ascending=False).head(max_themes).index
        periods = sorted(df["period"].unique())
        for i, label in enumerate(top):
            g = df[df["label"] == label].set_index("period").reindex(periods)
            fig.add_trace(
                go.Scatter(
                    x=plot_texts(periods),
                    y=numeric(g["cases"]),
                    mode="lines+markers",
                    name=plot_text(label),
                    **_series_style(i),
                    text=_marker_text(g["cases"].fillna(0), lambda v: format_number(v)),
                    hovertemplate="%{x}: %{text} Fälle<extra>%{fullData.name}</extra>",
                )
            )
    fig.update_yaxes(title_text="Fälle", rangemode="tozero")
    fig.update_xaxes(type="category")
    fig.update_layout(legend={"orientation": "v", "y": 1, "x": 1.02, "xanchor": "left"})
    return _layout(fig, title, width, height)


def cases_per_quarter(
    data: Published | pd.DataFrame,
    *,
    title: str | None = "Fälle im Quartal",
    width: int | None = None,
    height: int = 300,
) -> go.Figure:
    df = _table(data)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=plot_texts(df["period"]),
            y=numeric(df["cases_in_period"]),
            name="Fälle im Quartal",
            marker={"color": palette.PRIMARY},
            text=_marker_text(df["cases_in_period"], format_number),
            textposition="outside",
            cliponaxis=False,
        )
    )
    if "cases_opened" in df.columns:
        fig.add_trace(
            go.Scatter(
                x=plot_texts(df["period"]),
                y=numeric(df["cases_opened"]),
                name="neue Fälle",
                mode="lines+markers",
                **_series_style(1),
            )
        )
    fig.update_xaxes(type="category")
    fig.update_yaxes(rangemode="tozero", title_text="Fälle")
    return _layout(fig, title, width, height)


def process_shares(
    data: Published | pd.DataFrame,
    *,
    group_col: str = "provider_id",
    title: str | None = "Dokumentierte Schritte im Regelkreis (Case-Management-Fälle)",
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    df = _table(data)
    metrics = [
        ("assessment_rate", "Assessment"),
        ("plan_rate", "Hilfeplan"),
        ("review_rate", "Überprüfung"),
        ("evaluation_rate", "Evaluation (abgeschl.)"),
    ]
    labels = plot_texts(df[group_col])
    height = height or max(300, 90 + 40 * len(labels))
    fig = go.Figure()
    for i, (col, name) in enumerate(metrics):
        if col not in df.columns:
            continue
        fig.add_trace(
            go.Bar(
                y=labels,
                x=numeric(df[col]),
                orientation="h",
                name=name,
                marker={"color": COLORS[i]},
                text=_marker_text(df[col], lambda v: format_percent(v, 0)),
                textposition="auto",
                insidetextfont={"color": palette.text_on(COLORS[i])},
                hovertemplate="%{y}: %{text}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title_text="Anteil der Fälle")
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, title, width, height)


def delivery_status(df: pd.DataFrame, *, width: int | None = None, height: int = 260) -> go.Figure:
    counts = df.groupby("status").size().reset_index(name="n")
    fig = go.Figure(
        go.Bar(
            x=plot_texts(counts["status"]),
            y=counts["n"],
            marker={"color": palette.PRIMARY},
            text=counts["n"],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_yaxes(title_text="Lieferungen", rangemode="tozero")
    return _layout(fig, "Lieferungen nach Status", width, height)
