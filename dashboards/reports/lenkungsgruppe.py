"""The steering-group report (Lenkungsgruppe): decisions first, then the figures."""

from __future__ import annotations

from dashboards import figures, read
from dashboards.disclosure import format_number
from dashboards.reports.model import (
    TOP_THEMES,
    Bullets,
    Figure,
    Section,
    Table,
    Text,
    bullets_from,
    fmt,
    process_year_tables,
    trend_filters,
)


def build(src, v, s, base, period, periods):
    trend = trend_filters(period, periods, 4, base)
    dec = read.decisions(src, v, base)
    total = read.caseload(src, v, base, group_by=(), benchmarks=True)
    gaps_total = read.gaps(src, v, base, group_by=())
    closures_total = read.structural_closures(src, v, base, group_by=())

    lead = Section("Entscheidungsbedarf", css="lead")
    t = total.table.iloc[0] if len(total.table) else None
    g = gaps_total.table.iloc[0] if len(gaps_total.table) else None
    c = closures_total.table.iloc[0] if len(closures_total.table) else None
    if t is not None and g is not None and c is not None:
        lead.blocks.append(
            Text(
                f"Im Quartal {period} wurden {fmt(t['cases_in_period'])} Fälle begleitet, im "
                f"Durchschnitt {fmt(t['avg_caseload'], 1)} Fälle je Vollzeitstelle. Für "
                f"{fmt(g['gap_rate'], percent=True)} der neu vereinbarten Ziele gab es kein "
                "passendes Angebot; "
                + (
                    f"{fmt(c['structural_share'], percent=True)} der Abschlüsse erfolgten wegen"
                    " struktureller Hindernisse."
                    if "structural_share" in c  # the grid holds no share (structural only)
                    else f"{fmt(c['structural_closures'])} Fälle wurden wegen struktureller"
                    " Hindernisse abgeschlossen."
                ),
                "lead",
            )
        )
    gaps_items = bullets_from(
        dec["gaps"],
        lambda r: (
            f"{r.domain} in {r[1]}: {fmt(r.gap_rate, percent=True)} der "
            f"{fmt(r.goals_set)} vereinbarten Ziele ohne passendes Angebot"
        ),
    )
    top_themes = dec["themes"].rows([i < TOP_THEMES for i in range(len(dec["themes"].table))])
    theme_items = bullets_from(
        top_themes,
        lambda r: (
            f"{r.label}: {fmt(r.cases)} Fälle bei {fmt(r.providers)} Trägern, Trend "
            f"{r.trend}, Status „{r.status}“"
        ),
    )
    more = len(dec["themes"].table) - TOP_THEMES
    if more > 0:
        theme_items.append(f"… und {more} weitere neue oder steigende Themen (Abschnitt 3).")
    over_items = bullets_from(
        dec["overloaded"],
        lambda r: (
            f"Träger {r.provider_id}: "
            + (
                "Fälle, aber keine Stellen gemeldet (Datenlücke)"
                if bool(r.fte_missing)
                else f"{fmt(r.avg_caseload, 1)} Fälle je VZÄ im Durchschnitt des Quartals"
                + (f", {fmt(r.caseload_end, 1)} am Stichtag" if hasattr(r, "caseload_end") else "")
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
    matrix = read.gap_matrix(src, v, base)
    across, across_name = read.matrix_across(matrix)
    if len(matrix.table):
        gaps_sec.blocks.append(
            Figure(
                f"Lückenquote nach Lebensbereich und {across_name}",
                figures.gap_heatmap(matrix, col_col=across, title=None),
                height=380,
            )
        )
    gaps_sec.blocks.append(
        Table(
            "Lücken nach Lebensbereich",
            "Versorgungslücken nach Lebensbereich",
            read.gaps(src, v, base, group_by=("domain",)),
        )
    )
    waits = read.waits(src, v, base)
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
            read.structural_closures(src, v, trend),
        )
    )

    theme_sec = Section("Generative Themen")
    themes = read.themes(src, v)
    if len(themes.table):
        theme_sec.blocks.append(
            Table(
                "Themen",
                "Themen im Themenspeicher",
                themes,
                drop=("theme_id", "active", "terms", "cases_prev", "cases_recent"),
            )
        )
        tt = read.theme_trend(src, v)
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
    by_provider = read.caseload(src, v, base, benchmarks=True)
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
    pq_sec.blocks += process_year_tables(src, v, base, period)
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
