"""What a report is made of: sections of text, bullets, tables and figures, and the helpers
the report kinds share. Every report is meant to leave the coordinating office, so every table
in it is suppressed (k from the settings) whatever the role that asks for it; a provider's
report is additionally limited to that provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from dashboards import read
from dashboards.disclosure import Published, format_number, format_percent
from dashboards.read import Filters, Viewer

KINDS = {
    "lenkungsgruppe": "Bericht für die Lenkungsgruppe",
    "evaluation": "Evaluationsbericht: Wirkungskennzahlen",
    "foerderer": "Fallzahlenstatistik für Fördergeber",
}

TOP_THEMES = 6  # themes listed under "Entscheidungsbedarf"

# which roles may produce which report
ALLOWED = {
    "koordination": set(KINDS),
    "evaluation": {"evaluation", "foerderer"},
    "traeger": set(KINDS),
    "foerderer": {"foerderer"},
}


@dataclass
class Text:
    text: str
    kind: str = "p"  # p | lead | note


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    sheet: str  # XLSX sheet name (also the table's id)
    title: str
    pub: Published
    drop: tuple[str, ...] = ()
    caption: str = ""


@dataclass
class Figure:
    title: str
    fig: object
    caption: str = ""
    height: int = 360


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    css: str = ""


@dataclass
class Report:
    kind: str
    title: str
    period: str
    scope: str
    viewer: Viewer
    basis: read.DataBasis
    sections: list[Section]
    definitions: list[tuple[str, str]]
    generated_at: datetime
    release_id: str | None = None  # set when the report is part of a release (every page names it)

    @property
    def k(self) -> int | None:
        return self.viewer.network_k

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]


class ReportError(ValueError):
    """The report cannot be made (German message)."""


def trend_filters(period: str, periods: list[str], n: int, base: Filters) -> Filters:
    first = read.quarter_shift(period, -(n - 1))
    first = max(first, periods[0])
    return Filters(first, period, base.programs, base.regions, base.providers)


CYCLE_COLUMNS = ("open_cases", "review_due", "close_overdue", "followup_base", "followup_missing")
DOC_COLUMNS = (
    "cm_cases",
    "with_assessment",
    "with_plan",
    "with_review",
    "closed_cm",
    "with_evaluation",
    "with_close_reason",
    "assessment_rate",
    "plan_rate",
    "review_rate",
    "evaluation_rate",
)


def process_year_tables(src, v, base: Filters, period: str) -> list[Table]:
    """Process quality in a report: per programme for the calendar year of the period (the
    publication grid holds it per programme and year, docs/decisions.md)."""
    year = period[:4]
    flt = replace(base, period_from=f"{year}-Q1", period_to=f"{year}-Q4")
    pub = read.process_quality(src, v, flt, group_by=("program",))
    return process_tables(pub, f"Programm, Jahr {year}")


def process_tables(pub: Published, by: str) -> list[Table]:
    """Process quality as two tables that fit an A4 page: documented steps of the cycle
    (case management cases) and review / closure / follow-up conversation due."""
    return [
        Table(
            "Regelkreis", f"Dokumentierte Schritte im Regelkreis nach {by}", pub, drop=CYCLE_COLUMNS
        ),
        Table(
            "Wiedervorlage",
            f"Wiedervorlage, Abschluss und Nachgespräch nach {by}",
            pub,
            drop=DOC_COLUMNS,
        ),
    ]


def bullets_from(pub: Published, fmt) -> list[str]:
    return [fmt(rec) for rec in pub.table.itertuples(index=False)]


def fmt(value, digits: int = 0, percent: bool = False) -> str:
    if isinstance(value, str):
        return value
    return format_percent(value) if percent else format_number(value, digits)
