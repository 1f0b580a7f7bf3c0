"""The data queries behind each dashboard view, without Streamlit and without cache.

`make bench` times them at 1,000,000 cases (p50 / p95 per query and per view, cold cache).
Each view lists the access-layer calls it makes with its default filters (the last four
complete quarters), for the coordinating office (`koordination`) and, where the path differs,
the funder (`foerderer`, suppressed). The pseudonymous case tables load only when a user
switches them on ("Falltabelle laden"); they are listed apart as on-demand loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dashboards import access
from kernel.settings import load_settings

Query = tuple[str, Callable[[], object]]


def _context(ws: Path, role: str):
    db = access.published_path(ws)
    viewer = access.Viewer(role=role, k=load_settings(ws).suppression_k)
    filters = access.default_filters(access.filter_options(db, viewer))
    return db, viewer, filters, load_settings(ws)


def view_queries(ws: Path, role: str) -> dict[str, list[Query]]:
    db, v, f, s = _context(ws, role)
    pcve = replace(f, programs=("pcve",))
    first_theme = access.themes(ws, v).table["theme_id"].head(1).tolist()
    views: dict[str, list[Query]] = {
        "Überblick": [
            (
                "Fälle je VZÄ gesamt",
                lambda: access.caseload(db, v, f, group_by=(), benchmarks=s.benchmarks),
            ),
            ("Versorgungslücken gesamt", lambda: access.gaps(db, v, f, group_by=())),
            ("strukturelle Abschlüsse", lambda: access.structural_closures(db, v, f, group_by=())),
            ("Themen", lambda: access.themes(ws, v)),
            ("Fälle je Quartal", lambda: access.case_counts(db, v, f)),
        ],
        "Versorgungslücken": [
            ("Heatmap Lebensbereich × Region", lambda: access.gap_matrix(db, v, f)),
            ("Lücken je Lebensbereich", lambda: access.gaps(db, v, f, group_by=("domain",))),
            ("Wartezeiten je Angebotsart", lambda: access.waits(db, v, f)),
            (
                "strukturelle Abschlüsse je Quartal",
                lambda: access.structural_closures(db, v, f, group_by=("period",)),
            ),
        ],
        "Generative Themen": [
            ("Themen", lambda: access.themes(ws, v)),
            ("Themenverlauf", lambda: access.theme_trend(db, v)),
        ],
        "Fallzahlen & Personal": [
            (
                "Fälle je VZÄ je Träger",
                lambda: access.caseload(db, v, f, group_by=("provider_id",), scope="alle"),
            ),
            (
                "Verlauf je Quartal",
                lambda: access.caseload(
                    db, v, f, group_by=("provider_id",), scope="alle", by_period=True
                ),
            ),
        ],
        "Wiederaufnahme & Rückfall": [
            (
                "Quoten Wiederaufnahme",
                lambda: access.reentry(
                    db, v, f, windows=tuple(s.windows), transfer_max_days=s.transfer_max_days
                ),
            ),
            (
                "Quoten Rückfall (pcve)",
                lambda: access.reentry(
                    db, v, pcve, windows=tuple(s.windows), transfer_max_days=s.transfer_max_days
                ),
            ),
            (
                "Kaplan–Meier Wiederaufnahme",
                lambda: access.km_curve(db, v, f, event="reentry", horizon=max(s.windows)),
            ),
            (
                "Kaplan–Meier Rückfall",
                lambda: access.km_curve(db, v, pcve, event="relapse", horizon=max(s.windows)),
            ),
        ],
        "Prozessqualität": [("Regelkreis-Treue", lambda: access.process_quality(db, v, f))],
    }
    if role != "foerderer":
        views["Fallzahlen & Personal"].append(
            ("je Fachkraft", lambda: access.caseload_by_caseworker(db, v, f, scope="alle"))
        )
        views["Datenlieferungen"] = [
            ("Lieferungen", lambda: access.deliveries(db, v)),
            ("Ablehnungen", lambda: access.rejections(db, v)),
            ("Zeilen je Tabelle", lambda: access.delivery_tables(db, v)),
        ]
        if first_theme:
            views["Generative Themen"].append(
                ("exemplarische Fälle", lambda: access.theme_cases_for(ws, v, first_theme[0]))
            )
    return views


def on_demand_queries(ws: Path) -> list[Query]:
    """Case tables a koordination user switches on explicitly (whole network, 4 quarters)."""
    db, v, f, _ = _context(ws, "koordination")
    return [
        ("Falltabelle (Überblick)", lambda: access.cases(db, v, f)),
        ("abgeschlossene Fälle (Wiederaufnahme)", lambda: access.reentry_cases(db, v, f)),
    ]


ROLES = (("koordination", "Koordination"), ("foerderer", "Förderer"))
