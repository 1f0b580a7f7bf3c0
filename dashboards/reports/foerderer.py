"""The funder statistics (Förderer): caseload per provider, programme and region."""

from __future__ import annotations

from dashboards import figures, read
from dashboards.reports.model import (
    Figure,
    Section,
    Table,
    Text,
    fmt,
    trend_filters,
)


def build(src, v, s, base, period, periods):
    trend = trend_filters(period, periods, 8, base)
    total = read.caseload(src, v, base, group_by=(), benchmarks=True)
    t = total.table.iloc[0] if len(total.table) else None
    lead = Section("Auf einen Blick", css="lead")
    if t is not None:
        lead.blocks.append(
            Text(
                f"Im Quartal {period}: {fmt(t['cases_in_period'])} Fälle, "
                # active cases stay internal (the grid's one caseload count is the cases)
                + (
                    f"{fmt(t['active_cases_end'])} aktive Fälle am Stichtag, "
                    if "active_cases_end" in t
                    else ""
                )
                + f"{fmt(t['fte_end'], 2)} Vollzeitstellen am Stichtag, durchschnittlich "
                f"{fmt(t['avg_caseload'], 1)} Fälle je Vollzeitstelle"
                + (f" ({fmt(t['caseload_end'], 1)} am Stichtag)" if "caseload_end" in t else "")
                + ".",
                "lead",
            )
        )
    by_provider = read.caseload(src, v, base, benchmarks=True)
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
    if v.suppress_k is None:  # only an internal report shows case management alone: the
        # publication grid has no scope breakdown (docs/decisions.md)
        cm = read.caseload(src, v, base, scope="case_management", benchmarks=True)
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
            read.caseload(src, v, base, group_by=("program", "region_code"), benchmarks=True),
            drop=("period", "case_days", "fte_days", "days", "benchmark"),
        )
    )
    tr = Section("Entwicklung")
    counts = read.case_counts(src, v, trend)
    network = read.caseload(src, v, trend, group_by=(), by_period=True)
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
