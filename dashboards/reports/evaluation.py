"""The evaluation report: outcome figures with exact definitions and intervals."""

from __future__ import annotations

from dashboards import figures, read
from dashboards.read import Filters
from dashboards.reports.model import (
    Bullets,
    Figure,
    Section,
    Table,
    Text,
    fmt,
    process_year_tables,
)


def build(src, v, s, base, period, periods):
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
        if not read.event_published(v, f, event):
            sec.blocks.append(Text(read.NOT_PUBLISHED_NOTE, "note"))
            sections.append(sec)
            continue
        rates = read.reentry(src, v, f)
        sub = rates.rows(rates.table["event"] == event)
        closed = sub.table["closed_cases"].iloc[0] if len(sub.table) else 0
        if not len(sub.table) or (not isinstance(closed, str) and closed == 0):
            sec.blocks.append(Text("Keine abgeschlossenen Fälle in dieser Grundgesamtheit."))
            sections.append(sec)
            continue
        share = sub.table["person_key_share"].iloc[0]
        sec.blocks.append(
            Text(
                f"Anteil der abgeschlossenen Fälle mit Personen-Pseudonym: "
                f"{fmt(share, percent=True)} – ohne Pseudonym sind nur Wiedereröffnungen über "
                "„vorheriger Fall“ beim selben Träger sichtbar.",
                "note",
            )
        )
        km = read.km_curve(src, v, f, event=event)
        if not km["withheld"]:
            sec.blocks.append(
                Figure(
                    f"{title}: kumulierte Inzidenz (Kaplan–Meier) mit 95 %-Band",
                    figures.km_curves([km], title=None),
                    height=420,
                )
            )
        sec.blocks.append(
            Table(
                f"{title[:20]} Quoten",
                f"{title}: beobachtete Quoten und Kaplan–Meier",
                sub,
                drop=(
                    "event",
                    "definition",
                    "person_key_share",
                    "with_person_key",
                    "closed_cases",
                    "km_events",
                ),
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
            read.gaps(src, v, base, group_by=("domain",), interval=True),
        )
    )
    sections.append(gaps)
    pq = Section("Prozessqualität")
    pq.blocks += process_year_tables(src, v, base, period)
    sections.append(pq)
    cl = Section("Fallzahlen je Vollzeitstelle")
    cl.blocks.append(
        Table(
            "Fallzahl je VZÄ Programm",
            f"Fälle je VZÄ nach Programm, Quartal {period}",
            read.caseload(src, v, base, group_by=("program",), benchmarks=True),
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
