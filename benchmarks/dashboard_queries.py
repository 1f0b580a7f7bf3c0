"""The data queries behind each dashboard view, read from the views' own declarations
(`dashboards.views`), without Streamlit and without cache.

`make bench` times them at 1,000,000 cases (p50 / p95 per query and per view, cold: no
Streamlit cache; the published copy open as in the server), with each view's default filters
(the last four complete quarters), for the coordinating office (`koordination`) and the
funder (`foerderer`, suppressed). The pseudonymous case tables load only when a user switches
them on ("Falltabelle laden"); they are timed apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dashboards import read
from dashboards.read.scope import keep_copies_open
from dashboards.views import all_views

Query = tuple[str, Callable[[], object]]
ROLES = (("koordination", "Koordination"), ("foerderer", "Förderer"))


def _context(ws: Path, role: str):
    """The view's default filters: for a suppressed reader the grid's default, the latest
    complete quarter (dashboards/filters.grid_filters)."""
    src = read.Source.of(ws)
    viewer = src.viewer(role)
    options = read.filter_options(src, viewer, read.ALL)
    if viewer.suppress_k is None:
        return src, viewer, read.default_filters(options)
    complete = [p for p in options["periods"] if p not in set(options["partial"])]
    quarter = (complete or options["periods"])[-1]
    return src, viewer, read.Filters(quarter, quarter)


def _call(q, src, viewer, filters) -> Callable[[], object]:
    f = replace(filters, programs=(q.program,)) if q.program and not filters.programs else filters
    sample = q.sample(src, viewer) if q.sample else {}

    def call():
        try:
            return q.func(src, viewer, f, **{**q.options, **sample})
        except read.NotInGrid:  # the view shows a note for this selection: that is its cost
            return None

    return call


def view_queries(ws: Path, role: str) -> dict[str, list[Query]]:
    """View title -> [(query label, call)] for what the view runs on opening; the published
    copy stays open between calls, as in the dashboard server (read/scope.py)."""
    keep_copies_open()
    src, viewer, filters = _context(ws, role)
    out: dict[str, list[Query]] = {}
    for view in all_views():
        if role not in view.roles:
            continue
        calls = [
            (q.label, _call(q, src, viewer, filters))
            for q in view.queries.values()
            if not q.on_demand and role in q.roles(view.roles)
        ]
        if calls:
            out[view.title] = calls
    return out


def on_demand_queries(ws: Path) -> list[Query]:
    """Case tables a koordination user switches on explicitly (whole network, 4 quarters)."""
    src, viewer, filters = _context(ws, "koordination")
    return [
        (f"{q.label} ({view.title})", _call(q, src, viewer, filters))
        for view in all_views()
        for q in view.queries.values()
        if q.on_demand
    ]
