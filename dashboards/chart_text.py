"""Short German text alternatives for the figures (BITV 2.0 / WCAG 1.1.1).

`describe(fig)` reads a plotly figure built by `dashboards.figures` and says in one or two
sentences what it shows: the kind of chart, what is measured, the series and categories, the
highest and lowest value. Withheld values (``x``) are gaps in a figure and are counted
as such, never guessed. The dashboards show the text next to each chart and the reports use it
as the figure's alternative text (the tagged PDF's /Alt). The numbers themselves are in the
table that goes with each chart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

from dashboards.disclosure import format_number, format_percent

KINDS = {"bar": "Balkendiagramm", "scatter": "Liniendiagramm", "heatmap": "Heatmap"}


def _numbers(values: Iterable) -> list[float | None]:
    out: list[float | None] = []
    for v in values if values is not None else ():
        try:
            f = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(None if math.isnan(f) else f)
    return out


def _axis_title(axis) -> str:
    title = getattr(axis, "title", None)
    text = getattr(title, "text", None) if title is not None else None
    return str(text) if text else ""


def _fmt(value: float, percent: bool) -> str:
    return format_percent(value, 0) if percent else format_number(value, 1 if value % 1 else 0)


def _withheld(mark) -> bool:
    """A marker text (``<3``, ``x``, ``–``) in place of a number."""
    text = html.unescape(str(mark)).strip() if mark is not None else ""
    return text.startswith("<") or text in ("x", "–")


def _name(trace) -> str:
    return html.unescape(str(trace.name))


def _data_traces(fig) -> list:
    """Traces that carry values: no legend-only keys, confidence bands or text rows."""
    out = []
    for t in fig.data:
        if t.type == "heatmap":
            out.append(t)
        elif t.type in ("bar", "scatter"):
            mode = getattr(t, "mode", None) or ""
            if t.type == "scatter" and (getattr(t, "fill", None) or mode == "text"):
                continue
            values = t.x if getattr(t, "orientation", None) == "h" else t.y
            if values is None or all(v is None for v in _numbers(values)):
                continue
            out.append(t)
    return out


def describe(fig, what: str | None = None) -> str:
    """One or two German sentences about the figure (its alternative text)."""
    traces = _data_traces(fig)
    if not traces:
        return f"Grafik{f' „{what}“' if what else ''}: keine darstellbaren Werte."
    kind = KINDS.get(traces[0].type, "Grafik")
    if traces[0].type == "bar" and getattr(traces[0], "orientation", None) == "h":
        kind = "Balkendiagramm (waagerecht)"
    layout = fig.layout
    horizontal = getattr(traces[0], "orientation", None) == "h"
    value_axis = layout.xaxis if horizontal else layout.yaxis
    measure = what or _axis_title(value_axis) or "Werte"
    percent = (getattr(value_axis, "tickformat", None) or "").endswith("%")
    if traces[0].type == "heatmap":
        return _describe_heatmap(traces[0], measure)
    best: tuple[float, str] | None = None
    worst: tuple[float, str] | None = None
    categories: list[str] = []
    gaps = 0
    for t in traces:
        cats = list(t.y if horizontal else t.x)
        values = _numbers(t.x if horizontal else t.y)
        marks = list(t.text) if isinstance(t.text, (list, tuple)) else [None] * len(values)
        for cat, v, mark in zip(cats, values, marks, strict=False):
            if _withheld(mark):  # drawn as an empty bar, its marker as text
                v = None
            cat = html.unescape(str(cat))  # labels are escaped for plotly
            label = f"{_name(t)} · {cat}" if len(traces) > 1 and t.name else cat
            if cat not in categories:
                categories.append(cat)
            if v is None:
                gaps += 1
                continue
            if best is None or v > best[0]:
                best = (v, label)
            if worst is None or v < worst[0]:
                worst = (v, label)
    names = [_name(t) for t in traces if t.name]
    parts = [f"{kind}: {measure}"]
    if len(traces) > 1:
        shown = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
        parts.append(f" für {len(traces)} Reihen ({shown})")
    if categories:
        span = categories[0] if len(categories) == 1 else f"{categories[0]} bis {categories[-1]}"
        parts.append(f", {len(categories)} Kategorien ({span})")
    text = "".join(parts) + "."
    if best is not None and worst is not None:
        text += f" Höchster Wert {_fmt(best[0], percent)} ({best[1]})"
        text += f", niedrigster {_fmt(worst[0], percent)} ({worst[1]})."
    if gaps:
        values = "1 Wert" if gaps == 1 else f"{gaps} Werte"
        text += f" {values} nicht ausgewiesen (geheim gehalten oder ohne Daten)."
    return text


def _describe_heatmap(t, measure: str) -> str:
    rows = [html.unescape(str(r)) for r in t.y]
    cols = [html.unescape(str(c)) for c in t.x]
    best: tuple[float, str] | None = None
    gaps = 0
    for r, row in enumerate(t.z):
        for c, v in enumerate(_numbers(row)):
            if v is None:
                gaps += 1
            elif best is None or v > best[0]:
                best = (v, f"{rows[r]} · {cols[c]}")
    n_rows = "1 Zeile" if len(rows) == 1 else f"{len(rows)} Zeilen"
    n_cols = "1 Spalte" if len(cols) == 1 else f"{len(cols)} Spalten"
    size = f"{n_rows} × {n_cols}"
    text = f"Heatmap: {measure}, {size}."
    if best is not None:
        text += f" Höchster Wert {format_percent(best[0], 0)} ({best[1]})."
    if gaps:
        cells = "1 Feld" if gaps == 1 else f"{gaps} Felder"
        text += f" {cells} ohne Wert (geheim gehalten oder ohne Daten)."
    return text
