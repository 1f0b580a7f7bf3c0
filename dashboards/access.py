"""Role-scoped data access for the dashboards and the reports — no Streamlit here.

Everything a view, a download or a report shows comes through these functions, which

1. read only the *published* copy of the warehouse (`WORKSPACE/published/lagebild.duckdb`)
   with one short read-only connection per call (DuckDB connections are not thread-safe);
2. scope every query to the viewer before anything leaves this module: a `traeger` sees only
   its own provider_id (the provider filter is overridden, not just hidden), a `foerderer`
   gets aggregates only (case-level functions raise `AccessDenied`), line-level rejection
   details go to `koordination` and `traeger` (own deliveries) only;
3. apply small-number suppression (`pipelines.disclosure`) to every aggregate table when the
   viewer's output is meant to leave the office: always for `foerderer` and `traeger`, and for
   `koordination` / `evaluation` when they switch on "für Veröffentlichung";
4. compute figures only through the project's one implementation of each metric:
   `transforms.caseload.rollup` (caseload per FTE), `transforms.reentry.reentry_rates` and
   `transforms.survival` (re-entry, relapse, Kaplan–Meier), `pipelines.themes` (themes). Counts
   of goals, referrals, closures and process-quality flags are sums of mart rows.

Labels come from `data_contracts` (codes, regions); column headings from `COLUMN_LABELS`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data_contracts import load_contract, region_label
from kernel.warehouse import reader
from pipelines.disclosure import Published, publish

ROLE_LABELS = {
    "koordination": "Koordinierende Stelle",
    "traeger": "Träger",
    "evaluation": "Evaluation",
    "foerderer": "Förderer",
}

VIEWS: dict[str, str] = {
    "ueberblick": "Überblick",
    "versorgungsluecken": "Versorgungslücken",
    "themen": "Generative Themen",
    "fallzahlen": "Fallzahlen & Personal",
    "wiederaufnahme": "Wiederaufnahme & Rückfall",
    "prozessqualitaet": "Prozessqualität",
    "lieferungen": "Datenlieferungen",
}

ROLE_VIEWS: dict[str, tuple[str, ...]] = {
    "koordination": tuple(VIEWS),
    "traeger": tuple(VIEWS),
    "evaluation": tuple(VIEWS),
    # funders: aggregates only; delivery status is internal (they see the data basis footer)
    "foerderer": tuple(v for v in VIEWS if v != "lieferungen"),
}

NO_DATA_MESSAGE = "Noch keine Daten – bitte zuerst `lagebild run` ausführen."

# German column headings for every column any table shows (single place).
COLUMN_LABELS: dict[str, str] = {
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
    "review_due": "Wiedervorlage fällig (> 183 Tage ohne Kontakt)",
    "close_overdue": "Abschluss überfällig (> 274 Tage ohne Kontakt)",
    "followup_base": "abgeschlossene CM-Fälle älter als 183 Tage",
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
    "n": "Anzahl",
    "value": "Wert",
    "metric": "Kennzahl",
}

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
DECIMALS = {
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


STATUS_LABELS_DELIVERY = {
    "accepted": "angenommen",
    "partial": "teilweise angenommen",
    "quarantined": "in Quarantäne",
    "duplicate": "Duplikat",
    "superseded": "ersetzt",
}


class AccessDenied(PermissionError):
    """The viewer's role may not see this."""


# ---------------------------------------------------------------------------------------------
# who looks, and with which filters


@dataclass(frozen=True)
class Viewer:
    """The role a query is scoped to.

    k            suppression threshold (Settings.suppression_k)
    publication  koordination / evaluation chose "für Veröffentlichung": suppress as well
    """

    role: str
    provider: str | None = None
    k: int = 3
    publication: bool = False

    def __post_init__(self):
        if self.role not in ROLE_LABELS:
            raise AccessDenied(f"Unbekannte Rolle '{self.role}'")
        if self.role == "traeger" and not self.provider:
            raise AccessDenied("Die Rolle Träger braucht eine Träger-ID.")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def suppress_k(self) -> int | None:
        """k when this viewer's output is suppressed, else None."""
        if self.role in ("foerderer", "traeger") or self.publication:
            return self.k
        return None

    @property
    def case_level(self) -> bool:
        return self.role in ("koordination", "evaluation", "traeger")

    @property
    def rejection_lines(self) -> bool:
        return self.role in ("koordination", "traeger")

    @property
    def edits_register(self) -> bool:
        return self.role == "koordination"

    @property
    def views(self) -> tuple[str, ...]:
        return ROLE_VIEWS[self.role]

    def published(self) -> Viewer:
        """The same viewer with suppression on (reports, exports for publication)."""
        return replace(self, publication=True)


@dataclass(frozen=True)
class Filters:
    """Dashboard filters. Empty tuples mean "all" (within what the role may see)."""

    period_from: str | None = None
    period_to: str | None = None
    programs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()


def effective_providers(viewer: Viewer, filters: Filters) -> tuple[str, ...]:
    """The provider restriction actually applied: a traeger is always its own provider."""
    if viewer.role == "traeger":
        return (viewer.provider,)
    return tuple(filters.providers)


def rollup_filters(viewer: Viewer, filters: Filters) -> dict:
    """{column: [values]} for transforms.* roll-ups (only non-empty restrictions)."""
    out: dict = {}
    provs = effective_providers(viewer, filters)
    if provs:
        out["provider_id"] = list(provs)
    if filters.programs:
        out["program"] = list(filters.programs)
    if filters.regions:
        out["region_code"] = list(filters.regions)
    return out


def _where(
    viewer: Viewer,
    filters: Filters,
    alias: str = "",
    *,
    period_col: str | None = None,
    provider_col: str = "provider_id",
) -> tuple[str, list]:
    """SQL condition and parameters for the viewer's scope and the filters."""
    a = f"{alias}." if alias else ""
    clauses, params = ["true"], []
    for col, values in (
        (provider_col, effective_providers(viewer, filters)),
        ("program", filters.programs),
        ("region_code", filters.regions),
    ):
        if values:
            clauses.append(f"{a}{col} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if period_col and filters.period_from:
        clauses.append(f"{a}{period_col} >= ?")
        params.append(filters.period_from)
    if period_col and filters.period_to:
        clauses.append(f"{a}{period_col} <= ?")
        params.append(filters.period_to)
    return " AND ".join(clauses), params


# ---------------------------------------------------------------------------------------------
# the published copy


def published_path(workspace: str | Path) -> Path:
    from kernel.workspace import Workspace

    return Workspace(Path(workspace).resolve()).published_db_path


def source_key(db: Path) -> tuple[str, int, int]:
    """Identity of the published file for caches: a new publication is a new file."""
    st = Path(db).stat()
    return (str(db), st.st_mtime_ns, st.st_size)


def has_data(db: Path) -> bool:
    db = Path(db)
    if not db.exists():
        return False
    try:
        with reader(db) as con:
            return _has_table(con, "meta", "data_basis") and _has_table(con, "mart", "cases")
    except duckdb.Error:
        return False


@contextlib.contextmanager
def _read(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with reader(Path(db)) as con:
        yield con


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?"
            " AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


# ---------------------------------------------------------------------------------------------
# labels


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
    mapping = {
        "program": "program",
        "domain": "domain",
        "service_type": "service_type",
        "intensity": "intensity",
        "close_reason": "close_reason",
        "risk_level": "risk_level",
    }
    for col, codes in mapping.items():
        if col in df.columns:
            df[col] = [code_label(codes, v) for v in df[col]]
    if "region_code" in df.columns:
        df["region_code"] = [
            region_label(v) if isinstance(v, str) else "—" for v in df["region_code"]
        ]
    if "status" in df.columns and set(df["status"].dropna()) <= set(STATUS_LABELS_DELIVERY):
        df["status"] = [STATUS_LABELS_DELIVERY.get(v, v) for v in df["status"]]
    return df


def headings(columns: Sequence[str]) -> dict[str, str]:
    return {c: COLUMN_LABELS.get(c, c) for c in columns}


# ---------------------------------------------------------------------------------------------
# data basis, filter options


@dataclass
class DataBasis:
    as_of: date | None
    as_of_source: str | None
    providers: int
    deliveries: int
    built_at: object
    run_id: str | None
    delivery_list: pd.DataFrame = field(default_factory=pd.DataFrame)
    k: int = 3

    def text(self, suppressed_k: int | None) -> str:
        as_of = self.as_of.strftime("%d.%m.%Y") if self.as_of else "—"
        built = (
            pd.Timestamp(self.built_at).strftime("%d.%m.%Y %H:%M")
            if self.built_at is not None
            else "—"
        )
        source = {"argument": "vorgegeben", "lieferungen": "aus den Lieferungen"}.get(
            self.as_of_source or "", self.as_of_source or ""
        )
        sup = (
            f"Geheimhaltung: Werte von 1 bis {suppressed_k - 1} als „<{suppressed_k}“ (k = "
            f"{suppressed_k}), sekundär und abgeleitet „x“"
            if suppressed_k
            else f"ohne Geheimhaltung (interne Ansicht; für Veröffentlichungen k = {self.k})"
        )
        return (
            f"Datenstand {as_of} ({source}) · {self.deliveries} Lieferungen von"
            f" {self.providers} Trägern · aufbereitet am {built} · {sup}"
        )


def data_basis(db: Path, viewer: Viewer) -> DataBasis:
    """meta.data_basis plus the current deliveries the figures rest on (scoped to the role)."""
    with _read(db) as con:
        row = con.execute(
            "SELECT as_of, as_of_source, providers, deliveries, built_at, run_id"
            " FROM meta.data_basis LIMIT 1"
        ).fetchone()
        where, params = _where(viewer, Filters())
        deliveries = con.execute(
            f"""SELECT delivery_id, provider_id, source_name, snapshot_on, status,
                       list_sort(current_tables) AS current_tables
                FROM audit.deliveries
                WHERE len(current_tables) > 0 AND {where}
                ORDER BY provider_id, snapshot_on""",
            params,
        ).df()
    if row is None:
        row = (None, None, 0, 0, None, None)
    if viewer.role == "traeger":
        deliveries = deliveries[deliveries["provider_id"] == viewer.provider]
    return DataBasis(
        as_of=row[0],
        as_of_source=row[1],
        providers=int(row[2] or 0),
        deliveries=int(row[3] or 0),
        built_at=row[4],
        run_id=row[5],
        delivery_list=deliveries.reset_index(drop=True),
        k=viewer.k,
    )


def filter_options(db: Path, viewer: Viewer) -> dict[str, list]:
    """Periods, programs, regions and providers the viewer may choose from."""
    with _read(db) as con:
        periods = con.execute("SELECT period, partial FROM mart.periods ORDER BY period").fetchall()
        where, params = _where(viewer, Filters())
        dims = con.execute(
            f"SELECT DISTINCT provider_id, program, region_code FROM mart.cases WHERE {where}",
            params,
        ).df()
    return {
        "periods": [p for p, _ in periods],
        "partial": [p for p, partial in periods if partial],
        "programs": sorted(dims["program"].dropna().unique().tolist()),
        "regions": sorted(dims["region_code"].dropna().unique().tolist()),
        "providers": sorted(dims["provider_id"].dropna().unique().tolist()),
    }


def quarter_shift(period: str, n: int) -> str:
    y, q = int(period[:4]), int(period[-1])
    idx = y * 4 + (q - 1) + n
    return f"{idx // 4}-Q{idx % 4 + 1}"


def default_filters(options: dict) -> Filters:
    """The last four complete quarters (a partial current quarter can be chosen)."""
    periods = options["periods"]
    if not periods:
        return Filters()
    complete = [p for p in periods if p not in options.get("partial", [])]
    last = complete[-1] if complete else periods[-1]
    first = quarter_shift(last, -3)
    if first < periods[0]:
        first = periods[0]
    return Filters(period_from=first, period_to=last)


def last_complete_quarter(as_of: date) -> str:
    """The last calendar quarter that ends on or before as_of."""
    q = (as_of.month - 1) // 3 + 1
    end_month = 3 * q
    next_first = date(as_of.year + (end_month == 12), end_month % 12 + 1, 1)
    period = f"{as_of.year}-Q{q}"
    if (next_first - as_of).days > 1:  # as_of is not the quarter's last day
        period = quarter_shift(period, -1)
    return period


# ---------------------------------------------------------------------------------------------
# caseload per FTE


def _benchmark_label(value: float, benchmarks) -> str:
    if value is None or np.isnan(value):
        return "—"
    for b in sorted(benchmarks, key=lambda b: b.low):
        if b.low <= value <= b.high:
            return b.label
    if value > max(b.high for b in benchmarks):
        return "über allen Vergleichswerten"
    return "zwischen den Vergleichswerten"


def caseload(
    db: Path,
    viewer: Viewer,
    filters: Filters,
    *,
    group_by: Sequence[str] = ("provider_id",),
    scope: str = "alle",
    by_period: bool = False,
    benchmarks=(),
) -> Published:
    """Caseload per FTE (transforms.caseload.rollup) for the filtered quarters.

    Counts (cases in period, active cases) are suppressed; the ratios with them.
    """
    from transforms.caseload import rollup

    gb = (["period"] if by_period else []) + list(group_by)
    with _read(db) as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=gb,
            filters=rollup_filters(viewer, filters),
            scope=scope,
        )
    cols = [
        *gb,
        "days",
        "cases_in_period",
        "active_cases_end",
        "fte_end",
        "case_days",
        "fte_days",
        "avg_caseload",
        "caseload_end",
        "throughput_per_fte",
        "fte_missing",
    ]
    if not by_period:
        cols.insert(0, "period")
    df = df[[c for c in cols if c in df.columns]]
    if benchmarks:
        df = df.assign(benchmark=[_benchmark_label(v, benchmarks) for v in df["avg_caseload"]])
    df = label_codes(df)
    margins = [["period"]] if by_period else [()]
    return publish(
        df,
        ["cases_in_period", "active_cases_end"],
        viewer.suppress_k,
        rates={
            "avg_caseload": ["cases_in_period"],
            "caseload_end": ["active_cases_end"],
            "throughput_per_fte": ["cases_in_period"],
            "case_days": ["cases_in_period"],
            **({"benchmark": ["cases_in_period"]} if benchmarks else {}),
        },
        margins=margins,
    )


def caseload_by_caseworker(
    db: Path, viewer: Viewer, filters: Filters, *, scope: str = "alle"
) -> Published:
    """Caseload per caseworker (pseudonymous): not for funders."""
    if viewer.role == "foerderer":
        raise AccessDenied("Fallzahlen je Fachkraft sind für Förderer nicht freigegeben.")
    from transforms.caseload import rollup

    with _read(db) as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=["provider_id", "caseworker_id"],
            filters=rollup_filters(viewer, filters),
            scope=scope,
            by_caseworker=True,
        )
    df = df[
        [
            "provider_id",
            "caseworker_id",
            "cases_in_period",
            "active_cases_end",
            "fte_end",
            "avg_caseload",
            "caseload_end",
            "fte_missing",
        ]
    ]
    return publish(
        df,
        ["cases_in_period", "active_cases_end"],
        viewer.suppress_k,
        rates={"avg_caseload": ["cases_in_period"], "caseload_end": ["active_cases_end"]},
        margins=[["provider_id"]],
    )


# ---------------------------------------------------------------------------------------------
# supply gaps, waits, structural closures


def _gap_rows(db: Path, viewer: Viewer, filters: Filters, group_by: Sequence[str]) -> pd.DataFrame:
    """transforms.gaps.supply_gaps for the viewer's scope: goals_set, goals_without_offer,
    cases_with_gap (distinct cases, exact over any span), gap_rate."""
    from transforms.gaps import supply_gaps

    with _read(db) as con:
        df = supply_gaps(
            con,
            filters.period_from,
            filters.period_to,
            group_by=list(group_by),
            filters=rollup_filters(viewer, filters),
        )
    cols = [*group_by, "goals_set", "goals_without_offer", "cases_with_gap", "gap_rate"]
    if df.empty and not group_by:
        return pd.DataFrame(
            [{"goals_set": 0, "goals_without_offer": 0, "cases_with_gap": 0, "gap_rate": np.nan}]
        )
    return df[cols]


def gaps(
    db: Path, viewer: Viewer, filters: Filters, group_by: Sequence[str] = ("domain",)
) -> Published:
    """Supply gaps by the given dimensions, with a total row (Gesamt)."""
    group_by = list(group_by)
    df = _gap_rows(db, viewer, filters, group_by)
    total = _gap_rows(db, viewer, filters, []) if group_by else df
    df = label_codes(df)
    if group_by:
        total_row = {c: "Gesamt" if i == 0 else "" for i, c in enumerate(group_by)}
        for c in ("goals_set", "goals_without_offer", "cases_with_gap"):
            total_row[c] = int(total[c].iloc[0]) if len(total) else 0
        total_row["gap_rate"] = (
            total_row["goals_without_offer"] / total_row["goals_set"]
            if total_row["goals_set"]
            else np.nan
        )
        df = pd.concat([df, pd.DataFrame([total_row])], ignore_index=True)
        is_total = pd.Series([False] * (len(df) - 1) + [True])
    else:
        is_total = None
    margins = [[c] for c in group_by[:-1]] if len(group_by) > 1 else [()]
    if len(group_by) == 2:
        margins = [[group_by[0]], [group_by[1]]]
    return publish(
        df,
        ["goals_set", "goals_without_offer", "cases_with_gap"],
        viewer.suppress_k,
        rates={"gap_rate": ["goals_without_offer", "goals_set"]},
        margins=margins,
        total_mask=is_total,
    )


def gap_matrix(db: Path, viewer: Viewer, filters: Filters) -> Published:
    """Domain × region: the heatmap's cells (long form, margins per domain and per region)."""
    df = _gap_rows(db, viewer, filters, ["domain", "region_code"])
    df = label_codes(df)
    return publish(
        df,
        ["goals_set", "goals_without_offer", "cases_with_gap"],
        viewer.suppress_k,
        rates={"gap_rate": ["goals_without_offer", "goals_set"]},
        margins=[["domain"], ["region_code"]],
    )


def waits(db: Path, viewer: Viewer, filters: Filters) -> Published:
    """Referrals by service type over the filtered quarters (transforms.gaps.referral_waits):
    requested, no offer, rejected; started with median and 90th percentile wait; waiting at
    the span's last counted day."""
    from transforms.gaps import referral_waits

    with _read(db) as con:
        df = referral_waits(
            con,
            filters.period_from,
            filters.period_to,
            group_by=["service_type"],
            filters=rollup_filters(viewer, filters),
        )
    df = df[
        [
            "service_type",
            "referrals",
            "no_offer",
            "rejected",
            "started",
            "wait_days_median",
            "wait_days_p90",
            "waiting_at_end",
        ]
    ]
    df = label_codes(df).reset_index(drop=True)
    return publish(
        df,
        ["referrals", "no_offer", "rejected", "started", "waiting_at_end"],
        viewer.suppress_k,
        rates={"wait_days_median": ["started"], "wait_days_p90": ["started"]},
    )


def structural_closures(
    db: Path, viewer: Viewer, filters: Filters, group_by: Sequence[str] = ("period",)
) -> Published:
    """Closures and structural closures (transforms.gaps.structural_closures)."""
    from transforms.gaps import structural_closures as closures_rollup

    group_by = list(group_by)
    with _read(db) as con:
        df = closures_rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=group_by,
            filters=rollup_filters(viewer, filters),
        )
    if df.empty and not group_by:
        df = pd.DataFrame([{"closures": 0, "structural_closures": 0, "structural_share": np.nan}])
    df = df[[*group_by, "closures", "structural_closures", "structural_share"]]
    df = label_codes(df)
    return publish(
        df,
        ["closures", "structural_closures"],
        viewer.suppress_k,
        rates={"structural_share": ["structural_closures", "closures"]},
    )


# ---------------------------------------------------------------------------------------------
# re-entry and relapse


def _reentry_rows(
    db: Path,
    viewer: Viewer,
    filters: Filters,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
    columns: str = "*",
) -> tuple[pd.DataFrame, date | None]:
    where, params = _where(viewer, filters)
    extra = ""
    if intensities:
        extra += f" AND intensity IN ({', '.join('?' for _ in intensities)})"
        params += list(intensities)
    if close_reasons:
        extra += f" AND close_reason IN ({', '.join('?' for _ in close_reasons)})"
        params += list(close_reasons)
    with _read(db) as con:
        df = con.execute(f"SELECT {columns} FROM mart.reentry WHERE {where}{extra}", params).df()
        as_of = con.execute("SELECT as_of FROM meta.data_basis").fetchone()
    return df, (as_of[0] if as_of else None)


def _rate_columns() -> str:
    """What the rates and curves read: the day counts, and the codes that name the population
    as ENUMs (pandas categoricals): a tenth of the cost of all columns as strings."""
    contract = load_contract()
    codes = [
        f"CAST({c} AS ENUM({', '.join(repr(v) for v in contract.codes[c].values)})) AS {c}"
        for c in ("program", "intensity", "close_reason")
    ]
    return ", ".join(
        ["followup_days", "reentry_days", "relapse_days", "person_key_present", *codes]
    )


def reentry(
    db: Path,
    viewer: Viewer,
    filters: Filters,
    *,
    windows: Sequence[int] = (183, 365, 730),
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
    transfer_max_days: int = 14,
) -> Published:
    """Observed rates (Wilson) and Kaplan–Meier incidence per event and window
    (transforms.reentry.reentry_rates), with the full definition of each figure."""
    from transforms.reentry import reentry_rates

    df, as_of = _reentry_rows(db, viewer, filters, intensities, close_reasons, _rate_columns())
    res = reentry_rates(df, windows, as_of=as_of, transfer_max_days=transfer_max_days)
    k = viewer.suppress_k
    if k is not None:
        res["definition"] = [_suppress_definition_counts(t, k) for t in res["definition"]]
    return publish(
        res,
        ["eligible", "events_observed", "km_at_risk", "km_events", "closed_cases"],
        k,
        rates={
            "observed_rate": ["events_observed", "eligible"],
            "observed_ci_low": ["events_observed", "eligible"],
            "observed_ci_high": ["events_observed", "eligible"],
            "km_cumulative_incidence": ["km_events", "closed_cases"],
            "km_ci_low": ["km_events", "closed_cases"],
            "km_ci_high": ["km_events", "closed_cases"],
            "person_key_share": ["closed_cases"],
        },
        margins=[],
    )


def _suppress_definition_counts(text: str, k: int) -> str:
    """The definition text names case counts in parentheses; small ones become '<k'."""
    import re

    def repl(m: re.Match) -> str:
        n = int(m.group(2))
        return f"{m.group(1)}<{k}" if 1 <= n < k else m.group(0)

    return re.sub(r"(\(|alle |Tag \d+: )(\d+)", repl, text)


def km_curve(
    db: Path,
    viewer: Viewer,
    filters: Filters,
    *,
    event: str = "reentry",
    horizon: int = 730,
    step: int = 7,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
    at_risk_days: Sequence[int] = (0, 183, 365, 548, 730),
) -> dict:
    """Kaplan–Meier cumulative incidence curve with its 95 % interval and numbers at risk.

    Suppressed viewers: the curve is withheld when there are fewer than k cases or events,
    and numbers at risk below k are shown as '<k'.
    """
    from transforms.reentry import EVENTS
    from transforms.survival import kaplan_meier_at

    df, _ = _reentry_rows(
        db, viewer, filters, intensities, close_reasons, "followup_days, reentry_days, relapse_days"
    )
    column, label = EVENTS[event]
    days = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    follow = df["followup_days"].to_numpy(dtype=float)
    happened = ~np.isnan(days)
    durations = np.where(happened, np.minimum(days, follow), follow)
    grid = list(range(0, horizon + 1, step))
    if grid[-1] != horizon:
        grid.append(horizon)
    curve = kaplan_meier_at(durations, happened, grid) if len(df) else pd.DataFrame()
    risk = (
        kaplan_meier_at(durations, happened, list(at_risk_days))[["horizon", "at_risk", "events"]]
        if len(df)
        else pd.DataFrame({"horizon": list(at_risk_days), "at_risk": 0, "events": 0})
    )
    k = viewer.suppress_k
    withheld = False
    if k is not None and (len(df) < k or int(happened.sum()) < k):
        withheld = True
        curve = pd.DataFrame()
    risk_shown = risk.astype(object)
    if k is not None:
        risk_shown["at_risk"] = [f"<{k}" if 1 <= v < k else int(v) for v in risk["at_risk"]]
        risk_shown["events"] = [f"<{k}" if 1 <= v < k else int(v) for v in risk["events"]]
    return {
        "event": event,
        "label": label,
        "curve": curve,
        "at_risk": risk_shown,
        "n": len(df),
        "events": int(happened.sum()),
        "withheld": withheld,
        "k": k,
    }


# ---------------------------------------------------------------------------------------------
# process quality (Regelkreis-Treue)

PROCESS_COUNTS = [
    "cm_cases",
    "with_assessment",
    "with_plan",
    "with_review",
    "closed_cm",
    "with_evaluation",
    "with_close_reason",
    "open_cases",
    "review_due",
    "close_overdue",
    "followup_base",
    "followup_missing",
]


def process_quality(
    db: Path, viewer: Viewer, filters: Filters, group_by: Sequence[str] = ("provider_id",)
) -> Published:
    """Process-quality flags of mart.cases summed per group, for cases active in the span."""
    group_by = list(group_by)
    where, params = _where(viewer, filters)
    with _read(db) as con:
        start, end = _span_dates(con, filters)
        gb = ", ".join(group_by)
        df = con.execute(
            f"""SELECT {gb},
              count(*) FILTER (WHERE intensity = 'case_management')::INTEGER AS cm_cases,
              count(*) FILTER (WHERE has_assessment)::INTEGER AS with_assessment,
              count(*) FILTER (WHERE has_plan)::INTEGER AS with_plan,
              count(*) FILTER (WHERE has_review)::INTEGER AS with_review,
              count(has_evaluation)::INTEGER AS closed_cm,
              count(*) FILTER (WHERE has_evaluation)::INTEGER AS with_evaluation,
              count(*) FILTER (WHERE close_reason_given)::INTEGER AS with_close_reason,
              count(review_due)::INTEGER AS open_cases,
              count(*) FILTER (WHERE review_due)::INTEGER AS review_due,
              count(*) FILTER (WHERE close_overdue)::INTEGER AS close_overdue,
              count(followup_missing)::INTEGER AS followup_base,
              count(*) FILTER (WHERE followup_missing)::INTEGER AS followup_missing
            FROM mart.cases
            WHERE {where} AND opened_on <= ?::DATE
              AND (closed_on IS NULL OR closed_on >= ?::DATE)
            GROUP BY ALL ORDER BY ALL""",
            [*params, end, start],
        ).df()
    total = df[PROCESS_COUNTS].sum().to_dict()
    total.update({c: ("Gesamt" if i == 0 else "") for i, c in enumerate(group_by)})
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for rate, num, den in (
        ("assessment_rate", "with_assessment", "cm_cases"),
        ("plan_rate", "with_plan", "cm_cases"),
        ("review_rate", "with_review", "cm_cases"),
        ("evaluation_rate", "with_evaluation", "closed_cm"),
    ):
        df[rate] = df[num] / df[den].replace(0, np.nan)
    df = label_codes(df)
    is_total = pd.Series([False] * (len(df) - 1) + [True])
    return publish(
        df,
        PROCESS_COUNTS,
        viewer.suppress_k,
        rates={
            "assessment_rate": ["with_assessment", "cm_cases"],
            "plan_rate": ["with_plan", "cm_cases"],
            "review_rate": ["with_review", "cm_cases"],
            "evaluation_rate": ["with_evaluation", "closed_cm"],
        },
        total_mask=is_total,
    )


def _span_dates(con, filters: Filters) -> tuple[date, date]:
    lo, hi = filters.period_from or "0000-Q1", filters.period_to or "9999-Q4"
    row = con.execute(
        "SELECT min(period_start), max(counted_until) FROM mart.periods"
        " WHERE period BETWEEN ? AND ?",
        [lo, hi],
    ).fetchone()
    if row is None or row[0] is None:
        row = con.execute(
            "SELECT min(period_start), max(counted_until) FROM mart.periods"
        ).fetchone()
    return row[0], row[1]


# ---------------------------------------------------------------------------------------------
# cases in the span (overview)


def case_counts(
    db: Path, viewer: Viewer, filters: Filters, group_by: Sequence[str] = ("period",)
) -> Published:
    """Cases in period per quarter (caseload roll-up, scope alle), for the overview trend."""
    from transforms.caseload import rollup

    with _read(db) as con:
        df = rollup(
            con,
            filters.period_from,
            filters.period_to,
            group_by=list(group_by),
            filters=rollup_filters(viewer, filters),
        )
    df = df[
        [
            *group_by,
            "partial",
            "cases_in_period",
            "cases_opened",
            "cases_closed",
            "active_cases_end",
        ]
    ]
    df = label_codes(df)
    return publish(
        df,
        ["cases_in_period", "cases_opened", "cases_closed", "active_cases_end"],
        viewer.suppress_k,
        margins=[],
    )


# ---------------------------------------------------------------------------------------------
# themes


def themes(workspace: Path, viewer: Viewer, include_inactive: bool = False) -> Published:
    """The register's themes with figures. Network-wide; counts suppressed for the roles that
    need it; a provider additionally sees how many of each theme's cases are its own."""
    from transforms.themes.read import list_themes

    df = list_themes(workspace, include_inactive=include_inactive)
    if df.empty:
        return publish(df, [], viewer.suppress_k)
    keep = [
        "theme_id",
        "kind",
        "label",
        "status",
        "owner",
        "cases",
        "providers",
        "regions",
        "first_seen",
        "last_seen",
        "trend",
        "cases_prev",
        "cases_recent",
        "terms",
        "active",
    ]
    df = df[[c for c in keep if c in df.columns]].copy()
    if "terms" in df.columns:
        df["terms"] = [
            ", ".join(t) if isinstance(t, (list, np.ndarray)) else "" for t in df["terms"]
        ]
    df["kind"] = df["kind"].map({"code": "kodiert", "text": "Text"}).fillna(df["kind"])
    counts = ["cases", "providers", "regions", "cases_prev", "cases_recent"]
    if viewer.role == "traeger":
        own = _own_theme_cases(workspace, viewer.provider)
        df["own_cases"] = [own.get(t, 0) for t in df["theme_id"]]
        counts.append("own_cases")
    return publish(df.reset_index(drop=True), counts, viewer.suppress_k, margins=[])


COLUMN_LABELS["own_cases"] = "davon eigene Fälle"


def _own_theme_cases(workspace: Path, provider: str) -> dict[str, int]:
    db = published_path(workspace)
    with _read(db) as con:
        if not _has_table(con, "mart", "theme_cases"):
            return {}
        rows = con.execute(
            "SELECT theme_id, count(*) FROM mart.theme_cases WHERE provider_id = ? GROUP BY 1",
            [provider],
        ).fetchall()
    return {t: int(n) for t, n in rows}


def theme_trend(db: Path, viewer: Viewer, theme_ids: Sequence[str] = ()) -> Published:
    """Cases per theme and quarter of their first mention in the theme window."""
    with _read(db) as con:
        if not _has_table(con, "mart", "theme_cases"):
            return publish(pd.DataFrame(columns=["theme_id", "period", "cases"]), [], None)
        ids = list(theme_ids)
        cond = f"AND c.theme_id IN ({', '.join('?' for _ in ids)})" if ids else ""
        df = con.execute(
            f"""SELECT c.theme_id, t.label,
                       year(c.first_noted) || '-Q' || quarter(c.first_noted)
                         || CASE WHEN coalesce(p.partial, false) THEN ' (unvollständig)'
                                 ELSE '' END AS period,
                       count(*)::INTEGER AS cases
                FROM mart.theme_cases c JOIN mart.themes t USING (theme_id)
                LEFT JOIN mart.periods p
                  ON p.period = year(c.first_noted) || '-Q' || quarter(c.first_noted)
                WHERE c.first_noted IS NOT NULL {cond}
                GROUP BY ALL ORDER BY ALL""",
            ids,
        ).df()
    return publish(df, ["cases"], viewer.suppress_k, margins=[["period"]])


def theme_cases_for(workspace: Path, viewer: Viewer, theme_id: str) -> pd.DataFrame:
    """Exemplary cases of a theme for case reconstruction (case level, pseudonymous)."""
    if not viewer.case_level:
        raise AccessDenied("Fallbezogene Daten sind für diese Rolle nicht freigegeben.")
    from transforms.themes.read import exemplary_cases

    provider = viewer.provider if viewer.role == "traeger" else None
    df = exemplary_cases(Path(workspace), theme_id, provider_id=provider)
    if df.empty:
        return df
    if viewer.role == "traeger":
        df = df[df["provider_id"] == viewer.provider]
    cols = [
        "exemplary_rank",
        "provider_id",
        "case_id",
        "program",
        "region_code",
        "intensity",
        "opened_on",
        "closed_on",
        "close_reason",
        "goals",
        "goals_without_offer",
        "referrals_failed",
        "max_wait_days",
        "barrier_codes",
    ]
    df = df[[c for c in cols if c in df.columns]].copy()
    if "barrier_codes" in df.columns:
        df["barrier_codes"] = [
            ", ".join(code_label("barrier", b) for b in v)
            if isinstance(v, (list, np.ndarray))
            else ""
            for v in df["barrier_codes"]
        ]
    return label_codes(df).reset_index(drop=True)


COLUMN_LABELS.update(
    {
        "exemplary_rank": "Rang",
        "barrier_codes": "Hürden",
        "referrals_failed": "Vermittlungen gescheitert",
        "max_wait_days": "längste Wartezeit (Tage)",
        "goals": "Ziele",
    }
)


# ---------------------------------------------------------------------------------------------
# deliveries


def deliveries(db: Path, viewer: Viewer) -> pd.DataFrame:
    """Delivery status (audit.deliveries) — own deliveries for a provider; none for funders."""
    if viewer.role == "foerderer":
        raise AccessDenied("Der Lieferstatus ist für Förderer nicht freigegeben.")
    where, params = _where(viewer, Filters())
    if viewer.role != "traeger":
        where = "true"
        params = []
    with _read(db) as con:
        df = con.execute(
            f"""SELECT delivery_id, provider_id, source_name, received_at, snapshot_on, format,
                       status, rows_received, rows_loaded, rows_rejected,
                       rows_received = rows_loaded + rows_rejected AS reconciled, message
                FROM audit.deliveries WHERE {where}
                ORDER BY received_at DESC, delivery_id""",
            params,
        ).df()
    df["status"] = [STATUS_LABELS_DELIVERY.get(s, s) for s in df["status"]]
    df["reconciled"] = ["stimmt" if r else "stimmt nicht" for r in df["reconciled"]]
    if viewer.role == "evaluation":
        df = df.drop(columns=["source_name"])
    return df.reset_index(drop=True)


def delivery_tables(db: Path, viewer: Viewer) -> pd.DataFrame:
    if viewer.role == "foerderer":
        raise AccessDenied("Der Lieferstatus ist für Förderer nicht freigegeben.")
    cond, params = (
        ("d.provider_id = ?", [viewer.provider])
        if viewer.role == "traeger"
        else (
            "true",
            [],
        )
    )
    with _read(db) as con:
        df = con.execute(
            f"""SELECT t.delivery_id, d.provider_id, t.table_name, t.file_name,
                       t.rows_received, t.rows_loaded, t.rows_rejected,
                       t.rows_received = t.rows_loaded + t.rows_rejected AS reconciled
                FROM audit.delivery_tables t JOIN audit.deliveries d USING (delivery_id)
                WHERE {cond} ORDER BY t.delivery_id, t.table_name""",
            params,
        ).df()
    df["reconciled"] = ["stimmt" if r else "stimmt nicht" for r in df["reconciled"]]
    df["table_name"] = [table_label(t) for t in df["table_name"]]
    if viewer.role == "evaluation":
        df = df.drop(columns=["file_name"])
    return df


def rejections(db: Path, viewer: Viewer) -> pd.DataFrame:
    """Every rejection reason. Line level for koordination and the provider's own deliveries;
    evaluation gets them counted by delivery, table, column and reason; funders nothing."""
    if viewer.role == "foerderer":
        raise AccessDenied("Zurückweisungsgründe sind für Förderer nicht freigegeben.")
    cond, params = (
        ("d.provider_id = ?", [viewer.provider])
        if viewer.role == "traeger"
        else (
            "true",
            [],
        )
    )
    with _read(db) as con:
        if viewer.rejection_lines:
            df = con.execute(
                f"""SELECT r.delivery_id, d.provider_id, r.kind, r.table_name, r.file_name,
                           r.line, r.column_name, r.reason
                    FROM audit.rejections r LEFT JOIN audit.deliveries d USING (delivery_id)
                    WHERE {cond}
                    ORDER BY r.delivery_id, r.table_name, r.line NULLS FIRST, r.column_name""",
                params,
            ).df()
        else:
            df = con.execute(
                """SELECT r.delivery_id, d.provider_id, r.kind, r.table_name, r.column_name,
                          r.reason, count(*)::INTEGER AS rejections
                   FROM audit.rejections r LEFT JOIN audit.deliveries d USING (delivery_id)
                   GROUP BY ALL ORDER BY ALL"""
            ).df()
    df["kind"] = (
        df["kind"].map({"row": "Zeile abgewiesen", "quarantine": "Quarantäne"}).fillna(df["kind"])
    )
    df["table_name"] = [table_label(t) for t in df["table_name"]]
    return df


def deliveries_workbook(db: Path, viewer: Viewer, basis: DataBasis | None = None) -> bytes:
    """Delivery status with every rejection reason in one XLSX file."""
    from pipelines.reports.xlsx import Sheet, workbook_bytes

    basis = basis or data_basis(db, viewer)
    sheets = [
        Sheet("Lieferungen", deliveries(db, viewer), "Alle Lieferungen mit Status und Abgleich"),
        Sheet("Tabellen", delivery_tables(db, viewer), "Zeilen je Lieferung und Tabelle"),
        Sheet("Zurückweisungen", rejections(db, viewer), "Alle Zurückweisungsgründe"),
    ]
    return workbook_bytes(sheets, basis=basis, suppressed_k=None, role_label=viewer.role_label)


# ---------------------------------------------------------------------------------------------
# case level (pseudonymous)


def cases(db: Path, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """mart.cases rows active in the span — koordination, evaluation, own cases for a provider."""
    if not viewer.case_level:
        raise AccessDenied("Fallbezogene Daten sind für diese Rolle nicht freigegeben.")
    where, params = _where(viewer, filters)
    with _read(db) as con:
        start, end = _span_dates(con, filters)
        return con.execute(
            f"""SELECT * FROM mart.cases WHERE {where} AND opened_on <= ?::DATE
                AND (closed_on IS NULL OR closed_on >= ?::DATE)
                ORDER BY provider_id, case_id""",
            [*params, end, start],
        ).df()


def reentry_cases(db: Path, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    if not viewer.case_level:
        raise AccessDenied("Fallbezogene Daten sind für diese Rolle nicht freigegeben.")
    df, _ = _reentry_rows(db, viewer, filters)
    return df


# ---------------------------------------------------------------------------------------------
# what needs a decision (overview and steering-group report)


def subset(pub: Published, mask) -> Published:
    """Rows of a published table (table and flags together)."""
    mask = np.asarray(mask, dtype=bool)
    return Published(
        pub.table[mask].reset_index(drop=True), pub.flags[mask].reset_index(drop=True), pub.k
    )


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def decisions(
    workspace: Path,
    viewer: Viewer,
    filters: Filters,
    *,
    overload_threshold: float = 80.0,
    min_goals: int = 10,
    top: int = 5,
    benchmarks=(),
) -> dict[str, Published]:
    """The largest gaps, new and rising themes and overloaded providers — chosen among the
    values the viewer may see (a suppressed cell is never ranked)."""
    db = published_path(workspace)
    gm = gap_matrix(db, viewer, filters)
    rate = _num(gm.table["gap_rate"])
    goals = _num(gm.table["goals_set"])
    ok = rate.notna() & (goals >= min_goals)
    order = rate.where(ok).sort_values(ascending=False, na_position="last").index[:top]
    mask = np.zeros(len(gm.table), dtype=bool)
    mask[[i for i in order if ok.iat[i]]] = True
    largest = subset(gm, mask)
    largest = Published(
        largest.table.iloc[_num(largest.table["gap_rate"]).argsort()[::-1]].reset_index(drop=True),
        largest.flags.iloc[_num(largest.table["gap_rate"]).argsort()[::-1]].reset_index(drop=True),
        largest.k,
    )

    cl = caseload(db, viewer, filters, benchmarks=benchmarks)
    avg = _num(cl.table["avg_caseload"])
    missing = cl.table["fte_missing"].astype(bool)
    end = _num(cl.table["caseload_end"])
    over = (avg > overload_threshold).fillna(False) | (end > overload_threshold).fillna(False)
    overloaded = subset(cl, over | missing)

    th = themes(workspace, viewer)
    if len(th.table):
        t = th.table
        is_new = t["status"].astype(str).eq("neu")
        rising = t["trend"].astype(str).str.startswith("steigend")
        active = t["active"].astype(bool) if "active" in t.columns else True
        new_rising = subset(th, (is_new | rising) & active)
        order = (
            pd.DataFrame(
                {
                    "rising": new_rising.table["trend"].astype(str).str.startswith("steigend"),
                    "cases": _num(new_rising.table["cases"]).fillna(0),
                }
            )
            .sort_values(["rising", "cases"], ascending=[False, False])
            .index
        )
        new_rising = Published(
            new_rising.table.loc[order].reset_index(drop=True),
            new_rising.flags.loc[order].reset_index(drop=True),
            new_rising.k,
        )
    else:
        new_rising = th
    return {"gaps": largest, "themes": new_rising, "overloaded": overloaded}


# ---------------------------------------------------------------------------------------------
# downloads


def table_csv(pub: Published, labels: dict | None = None) -> bytes:
    """A published table as CSV (semicolon, UTF-8 with BOM: opens correctly in German Excel)."""
    df = pub.table.rename(columns=labels or headings(pub.table.columns))
    buf = io.StringIO()
    buf.write(f"# {pub.note()}\n")
    df.to_csv(buf, sep=";", index=False, decimal=",")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def frame_csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.rename(columns=headings(df.columns)).to_csv(buf, sep=";", index=False, decimal=",")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
