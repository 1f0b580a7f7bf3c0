"""How published figures are named and shown: German column headings, number formats and
code labels — one immutable catalogue for the views, the downloads and the reports.

Nothing here changes at run time (the mappings are read-only); a column that needs a heading
gets it here, not where it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

from dashboards.disclosure import Published
from data_contracts import load_contract, region_label

COLUMN_LABELS = MappingProxyType(
    {
        "period": "Quartal",
        "period_from": "von",
        "period_to": "bis",
        "partial": "unvollständig",
        "provider_id": "Träger",
        "program": "Programm",
        "region_code": "Region",
        "region": "Region",
        "domain": "Lebensbereich",
        "service_type": "Angebotsart",
        "scope": "Umfang",
        "caseworker_id": "Fachkraft (Pseudonym)",
        "days": "Tage",
        "case_days": "Falltage",
        "fte_days": "VZÄ-Tage",
        "avg_caseload": "Fälle je VZÄ (Durchschnitt)",
        "caseload_end": "Fälle je VZÄ (Stichtag)",
        "active_cases_end": "aktive Fälle (Stichtag)",
        "fte_end": "VZÄ (Stichtag)",
        "cases_in_period": "Fälle im Zeitraum",
        "cases_opened": "neue Fälle",
        "cases_closed": "abgeschlossene Fälle",
        "throughput_per_fte": "Fälle im Zeitraum je VZÄ",
        "fte_missing": "Datenlücke: keine VZÄ",
        "benchmark": "Einordnung",
        "goals_set": "Ziele vereinbart",
        "goals_without_offer": "davon ohne passendes Angebot",
        "cases_with_gap": "Fälle mit Lücke",
        "gap_rate": "Lückenquote",
        "gap_rate_ci_low": "95 %-KI unten",
        "gap_rate_ci_high": "95 %-KI oben",
        "referrals": "Vermittlungen angefragt",
        "no_offer": "kein Angebot",
        "rejected": "abgelehnt",
        "started": "begonnen",
        "wait_days_median": "Wartezeit Median (Tage)",
        "wait_days_p90": "Wartezeit 90. Perzentil (Tage)",
        "waiting_at_end": "wartend am Stichtag",
        "closures": "Abschlüsse",
        "structural_closures": "davon strukturelle Hindernisse",
        "structural_share": "Anteil strukturell",
        "event_label": "Ereignis",
        "window_days": "Fenster (Tage)",
        "closed_cases": "abgeschlossene Fälle",
        "eligible": "mit voller Nachbeobachtung",
        "events_observed": "Ereignisse im Fenster",
        "observed_rate": "beobachtete Quote",
        "observed_ci_low": "95 %-KI unten",
        "observed_ci_high": "95 %-KI oben",
        "km_cumulative_incidence": "Kaplan–Meier kumulierte Inzidenz",
        "km_ci_low": "KM 95 %-KI unten",
        "km_ci_high": "KM 95 %-KI oben",
        "km_at_risk": "unter Risiko",
        "km_events": "KM-Ereignisse",
        "person_key_share": "Anteil mit Personen-Pseudonym",
        "cm_cases": "Case-Management-Fälle",
        "with_assessment": "mit Assessment",
        "with_plan": "mit Hilfeplan",
        "with_review": "mit Überprüfung",
        "assessment_rate": "Assessment-Quote",
        "plan_rate": "Hilfeplan-Quote",
        "review_rate": "Überprüfungs-Quote",
        "closed_cm": "abgeschlossene CM-Fälle",
        "with_evaluation": "mit Evaluation",
        "evaluation_rate": "Evaluations-Quote",
        "with_close_reason": "mit Abschlussgrund",
        "open_cases": "offene Fälle",
        "review_due": "Wiedervorlage fällig",
        "close_overdue": "Abschluss überfällig",
        "followup_base": "abgeschlossene CM-Fälle mit Nachgesprächsfrist",
        "followup_missing": "ohne Nachgespräch",
        "theme_id": "Themen-ID",
        "kind": "Art",
        "label": "Thema",
        "status": "Status",
        "owner": "Gremium",
        "cases": "Fälle",
        "providers": "Träger (Anzahl)",
        "regions": "Regionen (Anzahl)",
        "first_seen": "zuerst gesehen",
        "last_seen": "zuletzt gesehen",
        "trend": "Trend",
        "cases_prev": "Fälle erste Fensterhälfte",
        "cases_recent": "Fälle zweite Fensterhälfte",
        "own_cases": "davon eigene Fälle",
        "terms": "Begriffe",
        "delivery_id": "Lieferung",
        "source_name": "Datei/Ordner",
        "received_at": "eingegangen",
        "snapshot_on": "Stand der Lieferung",
        "format": "Format",
        "rows_received": "Zeilen erhalten",
        "rows_loaded": "Zeilen geladen",
        "rows_rejected": "Zeilen abgewiesen",
        "reconciled": "Abgleich",
        "message": "Hinweis",
        "table_name": "Tabelle",
        "file_name": "Datei",
        "line": "Zeile",
        "column_name": "Spalte",
        "reason": "Grund",
        "rejections": "Anzahl",
        "case_id": "Fall (Pseudonym)",
        "intensity": "Intensität",
        "close_reason": "Abschlussgrund",
        "opened_on": "Beginn",
        "closed_on": "Ende",
        "exemplary_rank": "Rang",
        "barrier_codes": "Hürden",
        "referrals_failed": "Vermittlungen gescheitert",
        "max_wait_days": "längste Wartezeit (Tage)",
        "goals": "Ziele",
        "current_tables": "aktuelle Tabellen",
        "n": "Anzahl",
        "value": "Wert",
        "metric": "Kennzahl",
    }
)

# how columns are shown: shares as percent, decimals for ratios (everything else: integers)
PERCENT_COLUMNS = frozenset(
    {
        "gap_rate",
        "gap_rate_ci_low",
        "gap_rate_ci_high",
        "structural_share",
        "observed_rate",
        "observed_ci_low",
        "observed_ci_high",
        "km_cumulative_incidence",
        "km_ci_low",
        "km_ci_high",
        "person_key_share",
        "assessment_rate",
        "plan_rate",
        "review_rate",
        "evaluation_rate",
    }
)
DECIMALS = MappingProxyType(
    {
        "avg_caseload": 1,
        "caseload_end": 1,
        "throughput_per_fte": 1,
        "fte_end": 2,
        "fte_days": 0,
        "case_days": 0,
        "wait_days_median": 0,
        "wait_days_p90": 0,
        "typicality": 2,
    }
)

DELIVERY_STATUS_LABELS = MappingProxyType(
    {
        "accepted": "angenommen",
        "partial": "teilweise angenommen",
        "quarantined": "in Quarantäne",
        "duplicate": "Duplikat",
        "superseded": "ersetzt",
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


def headings(columns: Sequence[str]) -> dict[str, str]:
    return {c: COLUMN_LABELS.get(c, c) for c in columns}


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


def show(pub: Published, drop: Sequence[str] = (), labels: dict | None = None) -> pd.DataFrame:
    """A published table as German display strings with German headings."""
    if drop:
        keep = [c for c in pub.table.columns if c not in drop]
        pub = Published(pub.table[keep], pub.flags[keep], pub.k)
    return pub.display(
        percent=[c for c in pub.table.columns if c in PERCENT_COLUMNS],
        decimals={c: d for c, d in DECIMALS.items() if c in pub.table.columns},
        labels={**headings(pub.table.columns), **(labels or {})},
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
