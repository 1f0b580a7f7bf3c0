"""Re-entry and relapse rates over `mart.reentry` rows: the one implementation dashboards,
reports and tests call.

    from transforms.reentry import reentry_rates
    rows = con.sql("SELECT * FROM mart.reentry WHERE program = 'pcve'")
    table = reentry_rates(rows, as_of=date(2026, 9, 30))

For each event (re-entry, relapse) and window W (183/365/730 days by default) the result has

- the observed rate over the cases followed up for at least W days (`eligible`), with the
  Wilson 95 % interval;
- the Kaplan–Meier cumulative incidence 1 - S(W) over all closed cases (time = days to the
  event, or the follow-up when none happened: censored at as_of), with its 95 % interval
  (Greenwood variance, log-log transform) and the number still at risk at W;
- the share of closed cases that carry a person key (without one, only re-openings through
  previous_case_id are visible);
- `definition`: the full definition in German (event and kinds, source, window start and
  length, base population) that must accompany every published figure (metrics.md).

The caller filters (any subgroup); the function describes the population it was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from data_contracts.contract import load_contract
from kernel.settings import Settings
from transforms.survival import kaplan_meier_at, wilson_interval

DEFAULT_WINDOWS: tuple[int, ...] = next(
    f.default for f in dataclasses.fields(Settings) if f.name == "windows"
)
DEFAULT_TRANSFER_MAX_DAYS: int = next(
    f.default for f in dataclasses.fields(Settings) if f.name == "transfer_max_days"
)

EVENTS = {
    # event -> (column in mart.reentry, German label)
    "reentry": ("reentry_days", "Wiederaufnahme"),
    "relapse": ("relapse_days", "Rückfall"),
}

RESULT_COLUMNS = [
    "event",
    "event_label",
    "window_days",
    "closed_cases",
    "with_person_key",
    "person_key_share",
    "eligible",
    "events_observed",
    "observed_rate",
    "observed_ci_low",
    "observed_ci_high",
    "km_cumulative_incidence",
    "km_ci_low",
    "km_ci_high",
    "km_at_risk",
    "km_events",
    "definition",
]

_NEEDED = ["followup_days", "reentry_days", "relapse_days", "person_key_present"]
_DESCRIBED = {"program": "program", "intensity": "intensity", "close_reason": "close_reason"}


CASES = "cases"  # optional column: how many closed cases a row stands for (rows grouped by days)


def case_counts(df: pd.DataFrame) -> np.ndarray | None:
    """The `cases` column of closed cases grouped by their day numbers (a dashboard groups them
    in SQL: 6.6 million closed cases at 10,000,000 are some hundred thousand rows); None when
    every row is one closed case."""
    return df[CASES].to_numpy(dtype=np.int64) if CASES in df.columns else None


def _n(df: pd.DataFrame) -> int:
    w = case_counts(df)
    return len(df) if w is None else int(w.sum())


def _count(mask: np.ndarray, w: np.ndarray | None) -> int:
    return int(mask.sum()) if w is None else int(w[mask].sum())


def _frame(data: pd.DataFrame | duckdb.DuckDBPyRelation) -> pd.DataFrame:
    if isinstance(data, duckdb.DuckDBPyRelation):
        wanted = [c for c in [*_NEEDED, *_DESCRIBED, CASES] if c in data.columns]
        return data.project(", ".join(wanted)).df()
    return data


def person_key_share(data: pd.DataFrame | duckdb.DuckDBPyRelation) -> float:
    """Share of closed cases with a person key (NaN for no cases)."""
    df = _frame(data)
    n = _n(df)
    if n == 0:
        return float("nan")
    return _count(df["person_key_present"].astype(bool).to_numpy(), case_counts(df)) / n


POPULATION_CODES = {  # column of mart.reentry -> (code list, German plural)
    "program": ("program", "Programme"),
    "intensity": ("intensity", "Intensitäten"),
    "close_reason": ("close_reason", "Abschlussgründe"),
}


def _codes_text(values: Iterable | None, code_list: str, plural: str) -> str:
    if values is None:
        return f"{plural}: nicht angegeben"
    codes = load_contract().codes[code_list]
    present = sorted({str(v) for v in values if not pd.isna(v)})
    if not present:
        return f"{plural}: —"
    if set(codes.values) <= set(present):
        return f"{plural}: alle"
    return f"{plural}: " + ", ".join(codes.label_of(c) for c in present)


def defined_codes(programs: Iterable[str] = ()) -> dict[str, list[str]]:
    """The population's codes by its definition, not by the data: the chosen programmes (else
    all) and every intensity and close reason. A published text must not list the codes
    present, or a code left out would tell the reader an exact 0 for that group."""
    codes = load_contract().codes
    defined = {c: list(codes[spec[0]].values) for c, spec in POPULATION_CODES.items()}
    if programs:
        defined["program"] = list(programs)
    return defined


def describe_population(
    df: pd.DataFrame,
    as_of: date | None = None,
    count_text: Callable[[int], str] | None = str,
    present: Mapping[str, Iterable] | None = None,
) -> str:
    """German description of the closed cases in `df` (programs, intensities, close reasons).

    `present`: the codes present per column (POPULATION_CODES), when `df` does not hold them:
    a dashboard fetches them as distinct values, not one per closed case."""
    if present is None:
        present = {c: df[c].dropna().unique() for c in POPULATION_CODES if c in df.columns}
    until = f" bis zum Datenstand {as_of:%d.%m.%Y}" if as_of else ""
    parts = [_codes_text(present.get(c), *spec) for c, spec in POPULATION_CODES.items()]
    n = f"{count_text(_n(df))} " if count_text else ""
    return f"{n}abgeschlossene Fälle{until} ({'; '.join(parts)})"


def event_definition(event: str, transfer_max_days: int = DEFAULT_TRANSFER_MAX_DAYS) -> str:
    """German definition of the event type and its source."""
    if event == "reentry":
        return (
            "Ereignis: Wiederaufnahme – Beginn eines neuen Falls derselben Person bei einem"
            " beliebigen Träger (gleiches Personen-Pseudonym) oder Wiedereröffnung beim selben"
            " Träger (vorheriger_fall_id verweist auf den Fall), frühestens"
            f" {transfer_max_days + 1} Tage nach dem Fallabschluss; ein Fall, der 1 bis"
            f" {transfer_max_days} Tage nach dem Abschluss beginnt, gilt als Übergabe und zählt"
            " nicht. Quelle: Fallexporte der Träger (Tabelle Fälle)."
        )
    if event == "relapse":
        kinds = load_contract().codes["relapse_kind"].values
        return (
            "Ereignis: Rückfall – erstes dokumentiertes Rückfallereignis nach dem Tag des"
            " Fallabschlusses, erfasst für den Fall selbst oder, wenn ein Personen-Pseudonym"
            " vorliegt, für jeden Fall derselben Person; alle Arten ("
            + ", ".join(kinds.values())
            + "). Quelle: Rückfallmeldungen der Träger (Tabelle Rückfälle)."
        )
    raise ValueError(f"unknown event {event!r}; expected one of {sorted(EVENTS)}")


def event_times(df: pd.DataFrame, event: str) -> tuple[np.ndarray, np.ndarray]:
    """Per closed case: days to the event, or the follow-up when none happened (an event is
    always within follow-up), and whether it happened — the Kaplan–Meier input."""
    return _times(*_days(df, event))


def window_masks(df: pd.DataFrame, event: str, window: int) -> dict[str, np.ndarray]:
    """Per closed case, for one window W: `eligible` (followed up for at least W days),
    `observed` (eligible and the event within W days), `at_risk` (still observed without the
    event at day W: time to event or censoring >= W)."""
    days, follow = _days(df, event)
    return _masks(days, follow, *_times(days, follow), window)


def window_class_sql(column: str, windows: Sequence[int]) -> str:
    """SQL for an integer day number `column` replaced by one that stands in the same relation
    (<, =, >) to every window: `window_masks` gives the same masks for it. Closed cases grouped
    by these classes are some thousand groups instead of one row per case (1,000,000 cases:
    688,295 closed), so the publication grid counts them without fetching every case. Only for
    INTEGER or BIGINT columns: the classes rely on no day lying between two integers."""
    ws = sorted({int(w) for w in windows})
    if not ws:
        return column
    parts = [f"WHEN {column} < {ws[0]} THEN {ws[0] - 1}"]
    for w, following in zip(ws, [*ws[1:], None], strict=True):
        parts.append(f"WHEN {column} = {w} THEN {w}")
        if following is not None:
            parts.append(f"WHEN {column} < {following} THEN {w + 1}")
    return f"CASE {' '.join(parts)} WHEN {column} > {ws[-1]} THEN {ws[-1] + 1} END"


def _days(df: pd.DataFrame, event: str) -> tuple[np.ndarray, np.ndarray]:
    """Days to the event (NaN: none) and days of follow-up, per closed case."""
    days = pd.to_numeric(df[EVENTS[event][0]], errors="coerce").to_numpy(dtype=float)
    return days, df["followup_days"].to_numpy(dtype=float)


def _times(days: np.ndarray, follow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    happened = ~np.isnan(days)
    return np.where(happened, np.minimum(days, follow), follow), happened


def _masks(days, follow, durations, happened, window: int) -> dict[str, np.ndarray]:
    eligible = follow >= window
    return {
        "eligible": eligible,
        "observed": eligible & happened & (days <= window),
        "at_risk": durations >= window,
    }


def reentry_rates(
    data: pd.DataFrame | duckdb.DuckDBPyRelation,
    windows: Sequence[int] | None = None,
    events: Sequence[str] = ("reentry", "relapse"),
    *,
    as_of: date | None = None,
    base_population: str | None = None,
    present_codes: Mapping[str, Iterable] | None = None,
    transfer_max_days: int = DEFAULT_TRANSFER_MAX_DAYS,
    confidence: float = 0.95,
    count_text: Callable[[int], str] | None = str,
) -> pd.DataFrame:
    """Observed rates (Wilson) and Kaplan–Meier cumulative incidence per event and window.

    `data`: rows of mart.reentry (DataFrame or DuckDB relation), already filtered to the
    subgroup wanted; or such rows grouped by their day numbers with a `cases` column (the
    same figures, exactly). `base_population` replaces the generated description of the population
    (e.g. "KIM-Case-Management, Intensität Case Management, ohne Weitervermittlungen").
    `present_codes`: see `describe_population`.
    `count_text` writes the case counts named in the definition; None leaves them (and the
    person-key share) out of the text, for readers whose counts come from the publication
    grid with its own suppression pattern.
    Returns one row per (event, window) with the columns in RESULT_COLUMNS.
    """
    df = _frame(data)
    windows = tuple(DEFAULT_WINDOWS if windows is None else windows)
    weights = case_counts(df)
    n = _n(df)
    share = person_key_share(df)
    with_key = _count(df["person_key_present"].astype(bool).to_numpy(), weights) if n else 0
    population = base_population or describe_population(df, as_of, count_text, present_codes)
    pct = f"{confidence:.0%}".replace("%", " %")
    rows = []
    for event in events:
        label = EVENTS[event][1]
        days, follow = _days(df, event)  # once per event, for every window
        durations, happened = _times(days, follow)
        km = kaplan_meier_at(durations, happened, windows, confidence, weights=weights)
        masks = [_masks(days, follow, durations, happened, w) for w in windows]
        eligible = np.array([_count(m["eligible"], weights) for m in masks])
        observed = np.array([_count(m["observed"], weights) for m in masks])
        low, high = wilson_interval(observed, eligible, confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(eligible > 0, observed / np.maximum(eligible, 1), np.nan)

        def counted(x: int, before: str = " (", after: str = ")") -> str:
            return f"{before}{count_text(int(x))}{after}" if count_text else ""

        for i, w in enumerate(windows):
            key_share = (f"{share:.0%}".replace("%", " %") if n else "—") if count_text else None
            definition = (
                f"{event_definition(event, transfer_max_days)}"
                f" Fensterbeginn: Tag des Fallabschlusses; Fensterlänge: {w} Tage."
                f" Grundgesamtheit: {population}."
                f" Beobachtete Quote: Fälle mit mindestens {w} Tagen Nachbeobachtung"
                f"{counted(eligible[i])}, {pct}-Intervall nach Wilson."
                f" Kaplan–Meier: alle{counted(n, ' ', '')} Fälle, zensiert am Datenstand;"
                f" kumulative Inzidenz 1 − S({w}) mit {pct}-Intervall (Greenwood, log-log)"
                + (
                    f"; unter Risiko bei Tag {w}: {count_text(int(km.at_risk[i]))}."
                    if count_text
                    else "."
                )
                + " Anteil der Fälle mit Personen-Pseudonym"
                + (f": {key_share}" if key_share else " siehe Tabelle")
                + " (ohne Pseudonym sind nur Wiedereröffnungen über vorheriger_fall_id"
                " sichtbar)."
            )
            rows.append(
                {
                    "event": event,
                    "event_label": label,
                    "window_days": int(w),
                    "closed_cases": n,
                    "with_person_key": with_key,
                    "person_key_share": share,
                    "eligible": int(eligible[i]),
                    "events_observed": int(observed[i]),
                    "observed_rate": float(rate[i]),
                    "observed_ci_low": float(low[i]),
                    "observed_ci_high": float(high[i]),
                    "km_cumulative_incidence": float(km.cumulative_incidence[i]) if n else np.nan,
                    "km_ci_low": float(km.ci_low[i]) if n else np.nan,
                    "km_ci_high": float(km.ci_high[i]) if n else np.nan,
                    "km_at_risk": int(km.at_risk[i]),
                    "km_events": int(km.events[i]),
                    "definition": definition,
                }
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
