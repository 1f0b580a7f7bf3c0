"""Synthetic case exports for demos and benchmarks (`lagebild generate`).

Realistic deliveries of a case management network: several programs (KIM, JMD, MBE,
exit/distancing work) in real NRW Kreise, three to four years of history, staffing with part
time and turnover, waiting lists as the field knows them, barriers that recur across providers
and ones that stay local, varied anonymised German notes, re-openings, transfers and person
keys shared across providers, rare relapses in exit work - written the way real exports vary
(Windows-1252 with semicolons and German headers, UTF-8 with BOM, XLSX, ZIP). Deterministic by
seed and vectorised throughout (a million cases in minutes).

Public surface:

- ``generate_inbox(out, cases, providers, seed=1, exported_on=date(2026, 10, 15), years=4.0,
  with_faults=False, plain=False) -> GenerationSummary``
- ``cli_generate(args) -> int`` (``lagebild generate``)
- ``build_dataset(...)`` the in-memory network (tests, calibration)
- ``PLANTED_CODED_THEMES``, ``LOCAL_CODED_THEMES``, ``PLANTED_TEXT_TOPICS``, ``LOCAL_TEXT_TOPICS``
"""

from __future__ import annotations

from generator.dataset import Dataset, build_dataset
from generator.inbox import (
    DeliverySummary,
    GenerationSummary,
    PlantedFault,
    generate_inbox,
)
from generator.notes import LOCAL_TEXT_TOPICS, PLANTED_TEXT_TOPICS

# (barrier_code, domain) pairs that recur across providers: each occurs in at least 8 distinct
# cases from at least 3 providers within the four quarters up to the export date (default
# demo sizes and up; see tests/unit/test_generate.py).
PLANTED_CODED_THEMES: tuple[tuple[str, str], ...] = (
    ("wartezeit", "gesundheit_psychisch"),
    ("kein_angebot", "familie_kinderbetreuung"),
    ("aufenthaltsrechtlich_ausgeschlossen", "sprache"),
    ("rechtskreiswechsel", "lebensunterhalt"),
    ("digitale_zugangshuerde", "aufenthalt"),
    ("kein_angebot", "wohnen"),
)
# Pairs that stay local: only one provider (kosten, bildung_schule: the rural Kreis, school bus
# and vocational college tickets) or fewer than 5 cases (diskriminierung, gesundheit_psychisch).
LOCAL_CODED_THEMES: tuple[tuple[str, str], ...] = (
    ("kosten", "bildung_schule"),
    ("diskriminierung", "gesundheit_psychisch"),
)

__all__ = [
    "LOCAL_CODED_THEMES",
    "LOCAL_TEXT_TOPICS",
    "PLANTED_CODED_THEMES",
    "PLANTED_TEXT_TOPICS",
    "Dataset",
    "DeliverySummary",
    "GenerationSummary",
    "PlantedFault",
    "build_dataset",
    "cli_generate",
    "generate_inbox",
]


def cli_generate(args) -> int:
    """`lagebild generate`: write the deliveries and print a short German summary."""
    if args.years <= 0:
        from kernel.errors import UserError

        raise UserError("--years muss größer als 0 sein")
    print(
        f"Erzeuge {args.cases:,} Fälle bei {args.providers} Trägern nach {args.out} …".replace(
            ",", "."
        ),
        flush=True,
    )
    summary = generate_inbox(
        out=args.out,
        cases=args.cases,
        providers=args.providers,
        seed=args.seed,
        exported_on=args.exported_on,
        years=args.years,
        with_faults=args.with_faults,
        plain=args.plain,
    )
    print(summary.text())
    return 0
