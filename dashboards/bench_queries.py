"""The data queries behind each dashboard view, without Streamlit and without cache.

`make bench` times them at 1,000,000 cases (p50 / p95 per view). Each entry makes the same
access-layer calls the view makes with its default filters (the last four complete quarters),
once for the coordinating office and once for the funder (the suppressed path).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dashboards import access
from pipelines.settings import load_settings


def _context(ws: Path, role: str):
    db = access.published_path(ws)
    viewer = access.Viewer(role=role, k=load_settings(ws).suppression_k)
    filters = access.default_filters(access.filter_options(db, viewer))
    return db, viewer, filters


def ueberblick(ws: Path, role: str) -> None:
    db, v, f = _context(ws, role)
    access.caseload(db, v, f, group_by=(), benchmarks=load_settings(ws).benchmarks)
    access.gaps(db, v, f, group_by=())
    access.structural_closures(db, v, f, group_by=())
    access.themes(ws, v)
    access.case_counts(db, v, f)
    if v.case_level:
        access.cases(db, v, f)


def versorgungsluecken(ws: Path, role: str) -> None:
    db, v, f = _context(ws, role)
    access.gap_matrix(db, v, f)
    access.gaps(db, v, f, group_by=("domain",))
    access.waits(db, v, f)
    access.structural_closures(db, v, f, group_by=("period",))


def themen(ws: Path, role: str) -> None:
    db, v, _ = _context(ws, role)
    themes = access.themes(ws, v)
    access.theme_trend(db, v)
    if len(themes.table) and v.case_level:
        access.theme_cases_for(ws, v, themes.table["theme_id"].iloc[0])


def fallzahlen(ws: Path, role: str) -> None:
    db, v, f = _context(ws, role)
    access.caseload(db, v, f, group_by=("provider_id",), scope="alle")
    access.caseload(db, v, f, group_by=("provider_id",), scope="alle", by_period=True)
    if role != "foerderer":
        access.caseload_by_caseworker(db, v, f, scope="alle")


def wiederaufnahme(ws: Path, role: str) -> None:
    db, v, f = _context(ws, role)
    s = load_settings(ws)
    relapse_f = replace(f, programs=("pcve",))
    for flt in (f, relapse_f):
        access.reentry(db, v, flt, windows=tuple(s.windows), transfer_max_days=s.transfer_max_days)
    access.km_curve(db, v, f, event="reentry", horizon=max(s.windows))
    access.km_curve(db, v, relapse_f, event="relapse", horizon=max(s.windows))
    if v.case_level:
        access.reentry_cases(db, v, f)


def prozessqualitaet(ws: Path, role: str) -> None:
    db, v, f = _context(ws, role)
    access.process_quality(db, v, f)


def datenlieferungen(ws: Path, role: str) -> None:
    db, v, _ = _context(ws, role)
    access.deliveries(db, v)
    access.rejections(db, v)
    access.delivery_tables(db, v)


VIEWS = {
    "Überblick": ueberblick,
    "Versorgungslücken": versorgungsluecken,
    "Generative Themen": themen,
    "Fallzahlen & Personal": fallzahlen,
    "Wiederaufnahme & Rückfall": wiederaufnahme,
    "Prozessqualität": prozessqualitaet,
    "Datenlieferungen": datenlieferungen,
}

VIEW_QUERIES = {
    f"{name} ({label})": (lambda ws, fn=fn, role=role: fn(ws, role))
    for name, fn in VIEWS.items()
    for role, label in (("koordination", "Koordination"), ("foerderer", "Förderer"))
    if not (fn is datenlieferungen and role == "foerderer")
}
