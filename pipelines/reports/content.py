"""What each report says: sections of tables, figures and text, built from the role-scoped,
suppressed access layer (`dashboards.access`) — the same functions the dashboards call.

Every report is meant to leave the coordinating office, so every table in it is suppressed
(k from the settings) whatever the role that asks for it; a provider's report is additionally
limited to that provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from dashboards import access, figures
from dashboards.access import Filters, Viewer
from kernel.settings import Settings
from pipelines.disclosure import Published, format_number, format_percent
from pipelines.reports.definitions import VERSION, pick

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
    period_label: str
    partial: bool
    scope: str
    viewer: Viewer
    basis: access.DataBasis
    sections: list[Section]
    definitions: list[tuple[str, str]]
    generated_at: datetime

    @property
    def k(self) -> int | None:
        return self.viewer.suppress_k

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]


class ReportError(ValueError):
    """The report cannot be made (German message)."""


def _period_info(db: Path, period: str) -> tuple[bool, list[str]]:
    from kernel.warehouse import reader

    with reader(db) as con:
        rows = con.execute("SELECT period, partial FROM mart.periods ORDER BY period").fetchall()
    periods = [p for p, _ in rows]
    if period not in periods:
        span = f"{periods[0]} bis {periods[-1]}" if periods else "keine"
        raise ReportError(
            f"Für das Quartal {period} gibt es keine Daten (vorhandene Quartale: {span})."
        )
    return dict(rows)[period], periods


def _trend_filters(period: str, periods: list[str], n: int, base: Filters) -> Filters:
    first = access.quarter_shift(period, -(n - 1))
    first = max(first, periods[0])
    return Filters(first, period, base.programs, base.regions, base.providers)


def _gap_ci(pub: Published) -> Published:
    """Adds the Wilson 95 % interval of the gap rate (transforms.survival.wilson_interval);
    hidden wherever the rate is hidden."""
    from transforms.survival import wilson_interval

    t = pub.table.copy()
    f = pub.flags.copy()
    num = pd.to_numeric(t["goals_without_offer"], errors="coerce").fillna(0)
    den = pd.to_numeric(t["goals_set"], errors="coerce").fillna(0)
    low, high = wilson_interval(num, den)
    hidden = [isinstance(x, str) for x in t["gap_rate"]]
    t["gap_rate_ci_low"] = ["x" if h else lo for h, lo in zip(hidden, low, strict=True)]
    t["gap_rate_ci_high"] = ["x" if h else hi for h, hi in zip(hidden, high, strict=True)]
    f["gap_rate_ci_low"] = ["rate" if h else "" for h in hidden]
    f["gap_rate_ci_high"] = ["rate" if h else "" for h in hidden]
    return Published(t, f, pub.k)


access.COLUMN_LABELS.setdefault("gap_rate_ci_low", "95 %-KI unten")
access.COLUMN_LABELS.setdefault("gap_rate_ci_high", "95 %-KI oben")


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


def _process_tables(pub: Published, by: str) -> list[Table]:
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


def _bullets_from(pub: Published, fmt) -> list[str]:
    return [fmt(rec) for rec in pub.table.itertuples(index=False)]


def _v(value, digits: int = 0, percent: bool = False) -> str:
    if isinstance(value, str):
        return value
    return format_percent(value) if percent else format_number(value, digits)


# ---------------------------------------------------------------------------------------------


def build_report(
    workspace: Path, kind: str, period: str, viewer: Viewer, settings: Settings
) -> Report:
    if kind not in KINDS:
        raise ReportError(f"Unbekannte Berichtsart '{kind}'.")
    if kind not in ALLOWED[viewer.role]:
        raise ReportError(f"Die Rolle {viewer.role_label} darf den {KINDS[kind]} nicht erstellen.")
    viewer = viewer.published()  # everything in a report leaves the office
    db = access.published_path(workspace)
    if not access.has_data(db):
        raise ReportError(access.NO_DATA_MESSAGE)
    partial, periods = _period_info(db, period)
    basis = access.data_basis(db, viewer)
    base = Filters(period, period)
    scope = f"Träger {viewer.provider}" if viewer.role == "traeger" else "alle Träger des Netzwerks"
    builder = {"lenkungsgruppe": _steering, "evaluation": _evaluation, "foerderer": _funder}[kind]
    sections, used = builder(workspace, db, viewer, settings, base, period, periods)
    used = ["as_of", *used, "suppression"]
    period_label = (
        f"{period} (unvollständig, Datenstand {basis.as_of:%d.%m.%Y})" if partial else period
    )
    return Report(
        kind=kind,
        title=KINDS[kind],
        period=period,
        period_label=period_label,
        partial=partial,
        scope=scope,
        viewer=viewer,
        basis=basis,
        sections=sections,
        definitions=pick(settings, used),
        generated_at=datetime.now().replace(microsecond=0),
    )


# ---------------------------------------------------------------------------------------------
# Lenkungsgruppe: decisions first, then the figures


def _steering(workspace, db, v, s, base, period, periods):
    trend = _trend_filters(period, periods, 4, base)
    dec = access.decisions(
        workspace, v, base, overload_threshold=s.overload_threshold, benchmarks=s.benchmarks
    )
    total = access.caseload(db, v, base, group_by=(), benchmarks=s.benchmarks)
    gaps_total = access.gaps(db, v, base, group_by=())
    closures_total = access.structural_closures(db, v, base, group_by=())

    lead = Section("Entscheidungsbedarf", css="lead")
    t = total.table.iloc[0] if len(total.table) else None
    g = gaps_total.table.iloc[0] if len(gaps_total.table) else None
    c = closures_total.table.iloc[0] if len(closures_total.table) else None
    if t is not None and g is not None and c is not None:
        lead.blocks.append(
            Text(
                f"Im Quartal {period} wurden {_v(t['cases_in_period'])} Fälle begleitet, im "
                f"Durchschnitt {_v(t['avg_caseload'], 1)} Fälle je Vollzeitstelle. Für "
                f"{_v(g['gap_rate'], percent=True)} der neu vereinbarten Ziele gab es kein "
                f"passendes Angebot; {_v(c['structural_share'], percent=True)} der Abschlüsse "
                "erfolgten wegen struktureller Hindernisse.",
                "lead",
            )
        )
    gaps_items = _bullets_from(
        dec["gaps"],
        lambda r: (
            f"{r.domain} in {r.region_code}: {_v(r.gap_rate, percent=True)} der "
            f"{_v(r.goals_set)} vereinbarten Ziele ohne passendes Angebot"
        ),
    )
    top_themes = access.subset(
        dec["themes"], [i < TOP_THEMES for i in range(len(dec["themes"].table))]
    )
    theme_items = _bullets_from(
        top_themes,
        lambda r: (
            f"{r.label}: {_v(r.cases)} Fälle bei {_v(r.providers)} Trägern, Trend "
            f"{r.trend}, Status „{r.status}“"
        ),
    )
    more = len(dec["themes"].table) - TOP_THEMES
    if more > 0:
        theme_items.append(f"… und {more} weitere neue oder steigende Themen (Abschnitt 3).")
    over_items = _bullets_from(
        dec["overloaded"],
        lambda r: (
            f"Träger {r.provider_id}: "
            + (
                "Fälle, aber keine Stellen gemeldet (Datenlücke)"
                if bool(r.fte_missing)
                else f"{_v(r.avg_caseload, 1)} Fälle je VZÄ im Durchschnitt des Quartals, "
                f"{_v(r.caseload_end, 1)} am Stichtag"
            )
        ),
    )
    lead.blocks += [
        Text("Größte Versorgungslücken (Lebensbereich × Region, mindestens 10 Ziele)", "h3"),
        Bullets(gaps_items or ["Keine ausweisbare Lücke."]),
        Text("Neue und steigende Themen", "h3"),
        Bullets(theme_items or ["Keine neuen oder steigenden Themen."]),
        Text(
            f"Überlastete Träger (über {format_number(s.overload_threshold)} Fälle je VZÄ im"
            " Durchschnitt oder am Stichtag) und Datenlücken",
            "h3",
        ),
        Bullets(over_items or ["Kein Träger über der Schwelle."]),
    ]

    gaps_sec = Section("Versorgungslücken")
    matrix = access.gap_matrix(db, v, base)
    if len(matrix.table):
        gaps_sec.blocks.append(
            Figure(
                "Lückenquote nach Lebensbereich und Region",
                figures.gap_heatmap(matrix, title=None),
                height=380,
            )
        )
    gaps_sec.blocks.append(
        Table(
            "Lücken nach Lebensbereich",
            "Versorgungslücken nach Lebensbereich",
            access.gaps(db, v, base, group_by=("domain",)),
        )
    )
    waits = access.waits(db, v, base)
    if len(waits.table):
        gaps_sec.blocks.append(
            Figure(
                "Wartezeit bis zum Beginn nach Angebotsart",
                figures.waits_by_service(waits, title=None),
            )
        )
    gaps_sec.blocks.append(
        Table("Wartezeiten", "Vermittlungen und Wartezeiten nach Angebotsart", waits)
    )
    gaps_sec.blocks.append(
        Table(
            "Strukturelle Abschlüsse",
            "Abschlüsse wegen struktureller Hindernisse je Quartal",
            access.structural_closures(db, v, trend),
        )
    )

    theme_sec = Section("Generative Themen")
    themes = access.themes(workspace, v)
    if len(themes.table):
        theme_sec.blocks.append(
            Table(
                "Themen",
                "Themen im Themenspeicher",
                themes,
                drop=("theme_id", "active", "terms", "cases_prev", "cases_recent"),
            )
        )
        tt = access.theme_trend(db, v)
        if len(tt.table):
            theme_sec.blocks.append(
                Figure(
                    "Fälle je Thema nach Quartal der ersten Nennung",
                    figures.theme_trends(tt, title=None),
                )
            )
    else:
        theme_sec.blocks.append(Text("Noch keine Themen erkannt."))

    cl_sec = Section("Fallzahlen je Vollzeitstelle")
    by_provider = access.caseload(db, v, base, benchmarks=s.benchmarks)
    cl_sec.blocks += [
        Figure(
            "Fälle je VZÄ nach Träger im Vergleich zu den Richtwerten",
            figures.caseload_benchmarks(by_provider, s.benchmarks, title=None),
        ),
        Table(
            "Fallzahl je VZÄ",
            "Fälle je VZÄ nach Träger",
            by_provider,
            drop=("period", "case_days", "fte_days", "days", "benchmark"),
        ),
    ]
    pq_sec = Section("Prozessqualität")
    pq_sec.blocks += _process_tables(access.process_quality(db, v, base), "Träger")
    used = [
        "period",
        "cases_in_period",
        "avg_caseload",
        "caseload_end",
        "benchmarks",
        "gap_rate",
        "referrals",
        "structural_closures",
        "themes",
        "process_quality",
    ]
    return [lead, gaps_sec, theme_sec, cl_sec, pq_sec], used


# ---------------------------------------------------------------------------------------------
# Evaluation: outcome figures with exact definitions and intervals


def _evaluation(workspace, db, v, s, base, period, periods):
    sections = []
    intro = Section("Zu diesem Bericht", css="lead")
    intro.blocks.append(
        Text(
            "Wirkungskennzahlen mit ihren vollständigen Definitionen und 95 %-Intervallen. "
            "Wiederaufnahme und Rückfall werden über alle bis zum Datenstand abgeschlossenen "
            "Fälle berechnet (das Fenster beginnt mit dem Fallabschluss); Quoten mit "
            "unterschiedlicher Definition stehen nie nebeneinander. Lücken- und "
            f"Prozesskennzahlen beziehen sich auf das Quartal {period}.",
            "lead",
        )
    )
    sections.append(intro)
    populations = [
        (
            "reentry",
            "Wiederaufnahme",
            Filters(programs=base.programs, regions=base.regions, providers=base.providers),
        ),
        (
            "relapse",
            "Rückfall (Ausstiegs- und Distanzierungsarbeit)",
            Filters(programs=("pcve",), regions=base.regions, providers=base.providers),
        ),
    ]
    for event, title, f in populations:
        sec = Section(title)
        rates = access.reentry(
            db, v, f, windows=tuple(s.windows), transfer_max_days=s.transfer_max_days
        )
        sub = access.subset(rates, rates.table["event"] == event)
        closed = sub.table["closed_cases"].iloc[0] if len(sub.table) else 0
        if not len(sub.table) or (not isinstance(closed, str) and closed == 0):
            sec.blocks.append(Text("Keine abgeschlossenen Fälle in dieser Grundgesamtheit."))
            sections.append(sec)
            continue
        share = sub.table["person_key_share"].iloc[0]
        sec.blocks.append(
            Text(
                f"Anteil der abgeschlossenen Fälle mit Personen-Pseudonym: "
                f"{_v(share, percent=True)} – ohne Pseudonym sind nur Wiedereröffnungen über "
                "„vorheriger Fall“ beim selben Träger sichtbar.",
                "note",
            )
        )
        km = access.km_curve(db, v, f, event=event, horizon=max(s.windows))
        if not km["withheld"]:
            sec.blocks.append(
                Figure(
                    f"{title}: kumulierte Inzidenz (Kaplan–Meier) mit 95 %-Band",
                    figures.km_curves([km], title=None, windows=tuple(s.windows)),
                    height=420,
                )
            )
        sec.blocks.append(
            Table(
                f"{title[:20]} Quoten",
                f"{title}: beobachtete Quoten und Kaplan–Meier",
                sub,
                drop=("event", "definition", "person_key_share", "closed_cases", "km_events"),
            )
        )
        sec.blocks.append(Text("Definitionen der Zahlen dieses Abschnitts", "h3"))
        sec.blocks.append(
            Bullets([f"{r.window_days} Tage: {r.definition}" for r in sub.table.itertuples()])
        )
        sections.append(sec)

    gaps = Section("Versorgungslücken mit Konfidenzintervall")
    gaps.blocks.append(
        Table(
            "Lücken mit KI",
            f"Lückenquote nach Lebensbereich, Quartal {period}",
            _gap_ci(access.gaps(db, v, base, group_by=("domain",))),
        )
    )
    sections.append(gaps)
    pq = Section("Prozessqualität")
    pq.blocks += _process_tables(
        access.process_quality(db, v, base, group_by=("program",)), f"Programm, Quartal {period}"
    )
    sections.append(pq)
    cl = Section("Fallzahlen je Vollzeitstelle")
    cl.blocks.append(
        Table(
            "Fallzahl je VZÄ Programm",
            f"Fälle je VZÄ nach Programm, Quartal {period}",
            access.caseload(db, v, base, group_by=("program",), benchmarks=s.benchmarks),
            drop=("period", "days", "benchmark"),
        )
    )
    sections.append(cl)
    used = [
        "kaplan_meier",
        "wilson",
        "gap_rate",
        "process_quality",
        "avg_caseload",
        "caseload_end",
        "cases_in_period",
    ]
    return sections, used


# ---------------------------------------------------------------------------------------------
# Förderer: caseload statistics


def _funder(workspace, db, v, s, base, period, periods):
    trend = _trend_filters(period, periods, 8, base)
    total = access.caseload(db, v, base, group_by=(), benchmarks=s.benchmarks)
    t = total.table.iloc[0] if len(total.table) else None
    lead = Section("Auf einen Blick", css="lead")
    if t is not None:
        lead.blocks.append(
            Text(
                f"Im Quartal {period}: {_v(t['cases_in_period'])} Fälle, "
                f"{_v(t['active_cases_end'])} aktive Fälle am Stichtag, "
                f"{_v(t['fte_end'], 2)} Vollzeitstellen am Stichtag, durchschnittlich "
                f"{_v(t['avg_caseload'], 1)} Fälle je Vollzeitstelle "
                f"({_v(t['caseload_end'], 1)} am Stichtag).",
                "lead",
            )
        )
    by_provider = access.caseload(db, v, base, benchmarks=s.benchmarks)
    prov = Section("Fallzahlen je Träger")
    prov.blocks += [
        Figure(
            "Fälle je VZÄ nach Träger im Vergleich zu den Richtwerten",
            figures.caseload_benchmarks(by_provider, s.benchmarks, title=None),
        ),
        Table(
            "Träger",
            f"Fallzahlen und Stellen nach Träger, Quartal {period}",
            by_provider,
            drop=("period", "case_days", "fte_days", "benchmark"),
        ),
    ]
    cm = access.caseload(db, v, base, scope="case_management", benchmarks=s.benchmarks)
    prov.blocks.append(
        Table(
            "Träger CM",
            f"Nur Case Management: Fälle je VZÄ nach Träger, Quartal {period}",
            cm,
            drop=("period", "case_days", "fte_days", "days", "benchmark"),
        )
    )
    prog = Section("Fallzahlen je Programm und Region")
    prog.blocks.append(
        Table(
            "Programm Region",
            f"Fallzahlen nach Programm und Region, Quartal {period}",
            access.caseload(
                db, v, base, group_by=("program", "region_code"), benchmarks=s.benchmarks
            ),
            drop=("period", "case_days", "fte_days", "days", "benchmark"),
        )
    )
    tr = Section("Entwicklung")
    counts = access.case_counts(db, v, trend)
    network = access.caseload(db, v, trend, group_by=(), by_period=True)
    tr.blocks += [
        Figure("Fälle je Quartal", figures.cases_per_quarter(counts, title=None), height=300),
        Table("Fälle je Quartal", "Fälle je Quartal (Netzwerk)", counts, drop=("partial",)),
        Table(
            "VZÄ je Quartal",
            "Fälle je VZÄ je Quartal (Netzwerk)",
            network,
            drop=("case_days", "fte_days", "benchmark", "fte_missing"),
        ),
    ]
    used = [
        "period",
        "active",
        "cases_in_period",
        "avg_caseload",
        "caseload_end",
        "throughput_per_fte",
        "benchmarks",
    ]
    return [lead, prov, prog, tr], used


def report_date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else "—"


__all__ = [
    "KINDS",
    "VERSION",
    "Bullets",
    "Figure",
    "Report",
    "ReportError",
    "Section",
    "Table",
    "Text",
    "build_report",
]
