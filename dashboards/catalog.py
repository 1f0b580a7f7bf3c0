"""The catalogue of published figures: every column a view, a download or a report can show,
declared once with its German heading, its format and its disclosure class.

Disclosure classes (what small-number protection does with the column):

- COUNT      a count of cases, persons, goals or referrals: primary and secondary suppression;
- DERIVED    a rate, mean, median, caseload, curve value or interval bound: hidden whenever a
             count it rests on (`basis`) is below k or hidden;
- DIMENSION  what a row is about (period, programme, region, provider, domain, label …);
- FREE       a number without disclosure risk, with the reason (calendar days, staff FTE).

A numeric column without a class cannot be published: `dashboards.disclosure.publish` raises.
Headings of mart columns come from the mart dictionary (data_contracts/marts.yaml), so a
column is called the same in the data dictionary, the dashboards and the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import numpy as np
import pandas as pd

from data_contracts import load_contract, region_label
from transforms.dictionary import load_mart_dictionary

COUNT, DERIVED, DIMENSION, FREE = "count", "derived", "dimension", "free"


@dataclass(frozen=True)
class Figure:
    label: str | None = None  # None: the mart dictionary's label
    cls: str = DIMENSION
    basis: tuple[str, ...] = ()  # DERIVED: the counts it rests on
    fmt: str = "int"  # int | dec1 | dec2 | percent | text
    reason: str = ""  # FREE: why it carries no disclosure risk


def _count(label: str | None = None) -> Figure:
    return Figure(label, COUNT)


def _derived(*basis: str, label: str | None = None, fmt: str = "dec1") -> Figure:
    return Figure(label, DERIVED, tuple(basis), fmt)


def _free(reason: str, label: str | None = None, fmt: str = "int") -> Figure:
    return Figure(label, FREE, (), fmt, reason)


def _dim(label: str | None = None) -> Figure:
    return Figure(label, DIMENSION, (), "text")


STAFF = "Personalumfang der Träger, keine Zählung von Klientinnen und Klienten"
CALENDAR = "Kalendertage des Zeitraums"
_PCT = {"fmt": "percent"}

FIGURES = MappingProxyType(
    {
        # dimensions
        "period": _dim("Quartal"),
        "period_from": _dim("von"),
        "period_to": _dim("bis"),
        "partial": _free("Kennzeichen des unvollständigen Quartals", "unvollständig"),
        "provider_id": _dim("Träger"),
        "program": _dim(),
        "region_code": _dim("Region"),
        "region": _dim("Region"),
        "domain": _dim(),
        "service_type": _dim(),
        "scope": _dim(),
        "intensity": _dim(),
        "close_reason": _dim(),
        "caseworker_id": _dim("Fachkraft (Pseudonym)"),
        "benchmark": Figure("Einordnung", DERIVED, ("cases_in_period",), "text"),
        "event": _dim("Ereignis (Code)"),
        "event_label": _dim("Ereignis"),
        "window_days": _free("Länge des Beobachtungsfensters (Einstellung)", "Fenster (Tage)"),
        "definition": _dim("Definition"),
        # caseload per FTE
        "days": _free(CALENDAR),
        "case_days": _derived("cases_in_period", fmt="int"),
        "fte_days": _free(STAFF),
        "fte_end": _free(STAFF, fmt="dec2"),
        "fte_missing": _free("Kennzeichen einer Datenlücke beim Personal"),
        "cases_in_period": _count(),
        "cases_opened": _count(),
        "cases_closed": _count(),
        "active_cases_end": _count(),
        "avg_caseload": _derived("cases_in_period"),
        "caseload_end": _derived("active_cases_end"),
        "throughput_per_fte": _derived("cases_in_period", label="Fälle im Zeitraum je VZÄ"),
        # supply gaps, waits, closures
        "goals_set": _count(),
        "goals_without_offer": _count(),
        "cases_with_gap": _count(),
        "gap_rate": _derived("goals_without_offer", "goals_set", **_PCT),
        "gap_rate_ci_low": _derived(
            "goals_without_offer", "goals_set", label="95 %-KI unten", **_PCT
        ),
        "gap_rate_ci_high": _derived(
            "goals_without_offer", "goals_set", label="95 %-KI oben", **_PCT
        ),
        "referrals": _count(),
        "no_offer": _count(),
        "rejected": _count(),
        "started": _count(),
        "waiting_at_end": _count("wartend am Stichtag"),
        "wait_days_median": _derived("started", fmt="int"),
        "wait_days_p90": _derived("started", fmt="int"),
        "closures": _count(),
        "structural_closures": _count(),
        "structural_share": _derived("structural_closures", "closures", **_PCT),
        # re-entry and relapse
        "closed_cases": _count("abgeschlossene Fälle"),
        "eligible": _count("mit voller Nachbeobachtung"),
        "events_observed": _count("Ereignisse im Fenster"),
        "observed_rate": _derived("events_observed", "eligible", label="beobachtete Quote", **_PCT),
        "observed_ci_low": _derived("events_observed", "eligible", label="95 %-KI unten", **_PCT),
        "observed_ci_high": _derived("events_observed", "eligible", label="95 %-KI oben", **_PCT),
        "km_at_risk": _count("unter Risiko"),
        "km_events": _count("KM-Ereignisse"),
        # a curve value rests on the persons still at risk; for suppressed readers it is shown
        # only at days where every step rests on k events and k at risk (disclosure/curves.py)
        "km_cumulative_incidence": _derived(
            "km_at_risk", label="Kaplan–Meier kumulierte Inzidenz", **_PCT
        ),
        "km_ci_low": _derived("km_at_risk", label="KM 95 %-KI unten", **_PCT),
        "km_ci_high": _derived("km_at_risk", label="KM 95 %-KI oben", **_PCT),
        "with_person_key": _count("mit Personen-Pseudonym"),
        "person_key_share": _derived(
            "with_person_key", "closed_cases", label="Anteil mit Personen-Pseudonym", **_PCT
        ),
        # process quality
        "cm_cases": _count("Case-Management-Fälle"),
        "with_assessment": _count("mit Assessment"),
        "with_plan": _count("mit Hilfeplan"),
        "with_review": _count("mit Überprüfung"),
        "closed_cm": _count("abgeschlossene CM-Fälle"),
        "with_evaluation": _count("mit Evaluation"),
        "with_close_reason": _count("mit Abschlussgrund"),
        "open_cases": _count("offene Fälle"),
        "review_due": _count("Wiedervorlage fällig"),
        "close_overdue": _count("Abschluss überfällig"),
        "followup_base": _count("abgeschlossene CM-Fälle mit Nachgesprächsfrist"),
        "followup_missing": _count("ohne Nachgespräch"),
        "assessment_rate": _derived(
            "with_assessment", "cm_cases", label="Assessment-Quote", **_PCT
        ),
        "plan_rate": _derived("with_plan", "cm_cases", label="Hilfeplan-Quote", **_PCT),
        "review_rate": _derived("with_review", "cm_cases", label="Überprüfungs-Quote", **_PCT),
        "evaluation_rate": _derived(
            "with_evaluation", "closed_cm", label="Evaluations-Quote", **_PCT
        ),
        # themes
        "theme_id": _dim(),
        "kind": _dim(),
        "label": _dim(),
        "status": _dim(),
        "owner": _dim(),
        "terms": _dim(),
        "active": _free("Kennzeichen, ob das Thema die Schwellen erfüllt", "aktiv"),
        "first_seen": _dim(),
        "last_seen": _dim(),
        "trend": _dim(),
        "cases": _count(),
        # organisations and regions, not persons; a theme needs min_providers providers
        "providers": _free("Zahl der Träger mit dem Thema (keine Personenzählung)"),
        "regions": _free("Zahl der Regionen mit dem Thema (keine Personenzählung)"),
        "cases_prev": _count(),
        "cases_recent": _count(),
        "own_cases": _count("davon eigene Fälle"),
        # deliveries and rejections (internal; never suppressed, listed for their headings)
        "delivery_id": _dim("Lieferung"),
        "source_name": _dim("Datei/Ordner"),
        "received_at": _dim("eingegangen"),
        "snapshot_on": _dim("Stand der Lieferung"),
        "delivery": _dim("aus Lieferung"),  # lineage: the delivery a case-level row came from
        "delivery_snapshot_on": _dim("Stand der Lieferung"),
        "format": _dim("Format"),
        "rows_received": _free("Zeilen einer Lieferung", "Zeilen erhalten"),
        "rows_loaded": _free("Zeilen einer Lieferung", "Zeilen geladen"),
        "rows_rejected": _free("Zeilen einer Lieferung", "Zeilen abgewiesen"),
        "reconciled": _dim("Abgleich"),
        "message": _dim("Hinweis"),
        "table_name": _dim("Tabelle"),
        "file_name": _dim("Datei"),
        "line": _free("Zeilennummer in einer Datei", "Zeile"),
        "column_name": _dim("Spalte"),
        "reason": _dim("Grund"),
        "rejections": _free("Zahl abgewiesener Zeilen einer Lieferung", "Anzahl"),
        "current_tables": _dim("aktuelle Tabellen"),
        # held deliveries and the data-quality scorecard (issue 13)
        "reasons": _dim("Gründe"),
        "decision": _dim("Entscheidung"),
        "decision_reason": _dim("Begründung"),
        "decided_by": _dim("entschieden von"),
        "decided_at": _dim("entschieden am"),
        "rule": _dim("Regel (Code)"),
        # delivery calendar and trust status
        "due_on": _dim("fällig am"),
        "received_on": _dim("eingegangen am"),
        "received": _dim("eingegangen"),
        "on_time": _dim("pünktlich"),
        "days_late": _free("Kalendertage nach dem Fälligkeitstag", "Tage verspätet"),
        "expected": _free("Zahl erwarteter Lieferungen eines Trägers", "erwartet"),
        "on_time_rate": _free("Anteil pünktlicher Lieferungen", "pünktlich (Anteil)", "percent"),
        "max_days_late": _free("Kalendertage nach dem Fälligkeitstag", "höchstens Tage verspätet"),
        "current_snapshot_on": _dim("aktueller Stand vom"),
        "last_due_period": _dim("zuletzt fälliger Zeitraum"),
        "stale": _dim("veraltet"),
        "held_pending": _dim("Lieferung zurückgehalten"),
        "open_flags": _free("Zahl offener Hinweise eines Trägers", "offene Hinweise"),
        "trust": _dim("Status der Zahlen"),
        "rule_label": _dim("Regel"),
        "table_label": _dim("Tabelle (Bezeichnung)"),
        "state": _dim("Prüfstatus"),
        "reopened": _dim("wieder geöffnet"),
        "review_reason": _dim("Erklärung"),
        "reviewed_by": _dim("geprüft von"),
        "reviewed_at": _dim("geprüft am"),
        "reviewed_badness": _free("Schwere eines Befunds bei der Prüfung", "Schwere bei Prüfung"),
        # case level (pseudonymous; role-gated, never published to suppressed readers)
        "case_id": _dim(),
        "opened_on": _dim(),
        "closed_on": _dim(),
        "exemplary_rank": _free("Rang innerhalb der exemplarischen Fälle", "Rang"),
        "barrier_codes": _dim(),
        "referrals_failed": _count(),
        "max_wait_days": _free("Wartezeit eines einzelnen Falls (Falldaten)"),
        "goals": _count(),
    }
)


@cache
def _mart_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for table in load_mart_dictionary()["tables"].values():
        for column, spec in table["columns"].items():
            labels.setdefault(column, spec["label"])
    return labels


def figure(column: str) -> Figure | None:
    return FIGURES.get(column)


def label(column: str) -> str:
    """The German heading of a column: the catalogue's, else the mart dictionary's."""
    f = FIGURES.get(column)
    if f is not None and f.label:
        return f.label
    return _mart_labels().get(column, column)


def headings(columns: Sequence[str]) -> dict[str, str]:
    return {c: label(c) for c in columns}


def percent_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if (f := FIGURES.get(c)) and f.fmt == "percent"]


def decimals(columns: Sequence[str]) -> dict[str, int]:
    digits = {"int": 0, "dec1": 1, "dec2": 2}
    return {c: digits[f.fmt] for c in columns if (f := FIGURES.get(c)) and f.fmt in digits}


DELIVERY_STATUS_LABELS = MappingProxyType(
    {
        "accepted": "angenommen",
        "partial": "teilweise angenommen",
        "quarantined": "in Quarantäne",
        "duplicate": "Duplikat",
        "superseded": "ersetzt",
        "held": "zurückgehalten",
        "rejected": "verworfen",
    }
)

# columns holding a code of the exchange format -> its code list
CODE_COLUMNS = MappingProxyType(
    {
        "program": "program",
        "domain": "domain",
        "service_type": "service_type",
        "intensity": "intensity",
        "close_reason": "close_reason",
        "risk_level": "risk_level",
    }
)


def code_label(code_list: str, code) -> str:
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return "—"
    return load_contract().code_label(code_list, str(code))


def table_label(name) -> str:
    if not isinstance(name, str):
        return "—"
    t = load_contract().find_table(name)
    return t.label if t else name


def label_codes(df: pd.DataFrame) -> pd.DataFrame:
    """Replace code columns by their German labels (program, region, domain, ...)."""
    df = df.copy()
    for col, codes in CODE_COLUMNS.items():
        if col in df.columns:
            df[col] = [code_label(codes, v) for v in df[col]]
    if "region_code" in df.columns:
        df["region_code"] = [
            region_label(v) if isinstance(v, str) else "—" for v in df["region_code"]
        ]
    if "status" in df.columns and set(df["status"].dropna()) <= set(DELIVERY_STATUS_LABELS):
        df["status"] = [DELIVERY_STATUS_LABELS.get(v, v) for v in df["status"]]
    return df


def show(pub, drop: Sequence[str] = (), labels: dict | None = None) -> pd.DataFrame:
    """A published table as German display strings with German headings."""
    pub = pub.drop(drop) if drop else pub
    columns = list(pub.table.columns)
    return pub.display(
        percent=percent_columns(columns),
        decimals=decimals(columns),
        labels={**headings(columns), **(labels or {})},
    )


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A case-level or audit frame for display: German dates, no 'None', German headings."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            has_time = bool((s.dropna().dt.normalize() != s.dropna()).any())
            fmt = "%d.%m.%Y %H:%M" if has_time else "%d.%m.%Y"
            out[col] = s.dt.strftime(fmt).fillna("")
        elif pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.map({True: "ja", False: "nein"})
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = [_cell_text(v) for v in s]
    return out.rename(columns=headings(out.columns))


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (list, tuple, np.ndarray)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, (bool, np.bool_)):
        return "ja" if v else "nein"
    if hasattr(v, "strftime"):
        return v.strftime("%d.%m.%Y")
    return str(v)
