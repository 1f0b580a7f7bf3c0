"""Re-entry and relapse: observed rates (Wilson), Kaplan–Meier incidence and curves, from
`transforms.reentry` and `transforms.survival` (the one implementation). Windows, the
transfer rule and k come from the settings, so a change of definition is made there only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.disclosure import SECONDARY_MARK, Published, publish
from dashboards.disclosure.curves import CURVE_VALUES, coarse, interval_columns, protected_days
from dashboards.disclosure.families import ALL, reentry_published
from dashboards.disclosure.tables import from_grid
from dashboards.read import grid
from dashboards.read.gate import CASE_LEVEL_ROLES, query
from dashboards.read.scope import Filters, Source, Viewer, where
from transforms.reentry import (
    CASES,
    EVENTS,
    POPULATION_CODES,
    case_counts,
    defined_codes,
    event_times,
    reentry_rates,
    window_masks,
)
from transforms.survival import kaplan_meier_at


def _where(
    viewer: Viewer, filters: Filters, intensities: Sequence[str], close_reasons: Sequence[str]
) -> tuple[str, list]:
    cond, params = where(viewer, filters)
    for col, values in (("intensity", intensities), ("close_reason", close_reasons)):
        if values:
            cond += f" AND {col} IN ({', '.join('?' for _ in values)})"
            params += list(values)
    return cond, params


def _rows(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
    columns: str = "*",
) -> pd.DataFrame:
    cond, params = _where(viewer, filters, intensities, close_reasons)
    with source.read() as con:
        return con.execute(
            f"SELECT {columns} FROM mart.reentry WHERE {cond} ORDER BY provider_id, case_id",
            params,
        ).df()


def _by_days(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    columns: str,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
) -> pd.DataFrame:
    """The population's closed cases grouped by `columns` (their day numbers), with the number
    of cases per row (`cases`): the rates and curves are those of the cases, exactly, from
    50,000 rows instead of 690,000 at 1,000,000 cases."""
    cond, params = _where(viewer, filters, intensities, close_reasons)
    with source.read() as con:
        return con.execute(
            f"SELECT {columns}, count(*) AS {CASES} FROM mart.reentry WHERE {cond} GROUP BY ALL",
            params,
        ).df()


def _present_codes(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    intensities: Sequence[str],
    close_reasons: Sequence[str],
) -> dict[str, list]:
    """The codes present in the population, as distinct values: 20 ms at 10,000,000 cases,
    where one code per closed case cost 0.3 s of the rates query."""
    cond, params = _where(viewer, filters, intensities, close_reasons)
    lists = ", ".join(f"list(DISTINCT {c})" for c in POPULATION_CODES)
    with source.read() as con:
        row = con.execute(f"SELECT {lists} FROM mart.reentry WHERE {cond}", params).fetchone()
    return dict(zip(POPULATION_CODES, row, strict=True))


def _as_of(source: Source):
    with source.read() as con:
        row = con.execute("SELECT as_of FROM meta.data_basis").fetchone()
    return row[0] if row else None


def _rate_columns(own: bool) -> str:
    """What the rates and curves read per closed case: the day counts (`own`: also a
    provider's own records). The population's codes come from `_present_codes`."""
    days = ["followup_days", "reentry_days", "relapse_days"]
    return ", ".join(
        [*days, *(["own_reentry_days", "own_relapse_days"] if own else []), "person_key_present"]
    )


@query()
def reentry(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
) -> Published:
    """Observed rates (Wilson) and Kaplan–Meier incidence per event and window, each with the
    full definition of the figure."""
    s = source.settings
    k = viewer.network_k
    if k is not None and (intensities or close_reasons):
        raise grid.NotInGrid(
            "Intensität und Abschlussgrund sind für veröffentlichte Zahlen nicht wählbar."
        )
    own = viewer.role == "traeger"  # what a provider knows from its own records (the curve)
    df = _by_days(source, viewer, filters, _rate_columns(own), intensities, close_reasons)
    res = reentry_rates(
        df,
        s.windows,
        as_of=_as_of(source),
        # a suppressed reader reads the population's definition, not the codes present in it
        present_codes=defined_codes(filters.programs)
        if k is not None
        else _present_codes(source, viewer, filters, intensities, close_reasons),
        transfer_max_days=s.transfer_max_days,
        count_text=None if k else str,
    )
    if k is None:
        return publish(res, k, margins=[])
    # the counts are cells of the publication grid, with its pattern
    counts = _grid_counts(source, viewer, filters)
    res = res.drop(columns=[*GRID_COUNTS, "km_events"]).merge(
        counts, on=["event", "window_days"], how="left"
    )
    status = {c: res.pop(f"{c}__status") for c in GRID_COUNTS}
    res[KM_VALUES] = coarse(res[KM_VALUES])  # points of the chart, as precise as it
    pub = from_grid(res, k, status)
    # the curve values a suppressed reader sees in the table are points of its chart
    shown = {
        e: set(_curve_days(viewer, df, e, s.windows) if event_published(viewer, filters, e) else [])
        for e in EVENTS
    }
    off = [w not in shown[e] for e, w in zip(res["event"], res["window_days"], strict=True)]
    pub = pub.hide(np.asarray(off), KM_VALUES)
    return pub.hide(np.ones(len(res), dtype=bool), interval_columns(KM_VALUES))  # no interval


KM_VALUES = [f"km_{c}" for c in CURVE_VALUES]
GRID_COUNTS = ("closed_cases", "with_person_key", "eligible", "events_observed", "km_at_risk")


def _curve_days(viewer: Viewer, df: pd.DataFrame, event: str, windows, step: int = 7) -> list[int]:
    """The days a suppressed reader's curve is shown at (dashboards.disclosure.curves). A
    provider knows the events it recorded itself: the others between two days are 0 or ≥ k."""
    durations, happened = event_times(df, event)
    known = None
    if viewer.role == "traeger":
        column = EVENTS[event][0]
        net = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        mine = pd.to_numeric(df[f"own_{column}"], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(net) & (net == mine)  # its own record is the event the curve counts
    return protected_days(
        durations, happened, viewer.network_k, windows, step, known=known, weights=case_counts(df)
    )


def event_published(viewer: Viewer, filters: Filters, event: str) -> bool:
    """Whether a suppressed reader gets `event` for this population: relapses are published
    by programme and for the network only (dashboards.disclosure.families.EVENT_GROUPS).
    Unsuppressed readers get every population."""
    if viewer.network_k is None:
        return True
    fixed = grid.fixed_groups(viewer, filters)
    return all(reentry_published(event, group) for group in fixed) if fixed else True


NOT_PUBLISHED_NOTE = (
    "Rückfälle werden in veröffentlichten Zahlen nur je Programm und für das ganze Netzwerk"
    " ausgewiesen, nicht je Region oder Träger: dort sind es meist ein oder zwei Fälle, und"
    " ihr Schutz hätte auch die Wiederaufnahme-Zahlen derselben Region oder desselben Trägers"
    " verdeckt."
)


def _grid_cells(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """The re-entry family's cells of the reader's population (one group or the network)."""
    return grid.cells(source, "reentry", grid.conditions(viewer, filters, ()))


def _margins(cells: pd.DataFrame) -> pd.DataFrame:
    """The population's margin cells — every breakdown at its total except at most one — as
    value and status indexed by (breakdown, code); the population's total is ("", "")."""
    dims = [c for c in cells.columns if c == "person_key" or c.endswith(("_obs", "_km"))]
    codes = cells[dims].to_numpy(dtype=object)
    coded = codes != ALL
    n = coded.sum(axis=1)
    rows = np.flatnonzero(n <= 1)
    which = coded[rows].argmax(axis=1) if dims else np.zeros(len(rows), dtype=int)
    one = n[rows] == 1  # else the total
    margins = pd.DataFrame(
        {
            "dim": np.where(one, np.asarray([*dims, ""], dtype=object)[which], ""),
            "code": np.where(one, codes[rows, which] if dims else "", ""),
            "value": cells["value"].to_numpy()[rows],
            "status": cells["status"].to_numpy()[rows],
        }
    )
    margins = margins.drop_duplicates(["dim", "code"]).set_index(["dim", "code"])  # first wins
    margins.attrs["dims"] = dims
    return margins


def _margin(margins: pd.DataFrame, fixed: dict[str, str]) -> pd.Series:
    """The cell where the given breakdown (at most one; one the family lacks counts as not
    given) has the given code and all others their total."""
    key = [(d, v) for d, v in fixed.items() if d in margins.attrs["dims"] and v != ALL]
    if len(key) > 1:
        raise ValueError("a margin cell fixes at most one breakdown")
    key = key[0] if key else ("", "")
    if key not in margins.index:
        return pd.Series({"value": 0, "status": ""})
    return margins.loc[key]


def _grid_counts(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    margins = _margins(_grid_cells(source, viewer, filters))
    rows = []
    for event in EVENTS:
        published = event_published(viewer, filters, event)
        for w in source.settings.windows:
            obs, km = f"{event}_{w}_obs", f"{event}_{w}_km"
            row: dict = {"event": event, "window_days": int(w)}
            for column, fixed in (
                ("closed_cases", {}),
                ("with_person_key", {"person_key": "ja"}),
                ("eligible", {obs: "eligible"}),
                ("events_observed", {obs: "event"}),
                ("km_at_risk", {km: "at_risk"}),
            ):
                if not published:  # no cell of the grid: hidden, never a zero
                    row[column], row[f"{column}__status"] = 0, "secondary"
                    continue
                cell = _margin(margins, fixed)
                row[column], row[f"{column}__status"] = int(cell["value"]), cell["status"]
            rows.append(row)
    counts = pd.DataFrame(rows)
    if viewer.role == "traeger":
        counts = _known_to_provider(source, viewer, filters, counts)
    return counts


def _known_to_provider(
    source: Source, viewer: Viewer, filters: Filters, counts: pd.DataFrame
) -> pd.DataFrame:
    """A provider knows from its own records its closed cases, who was followed up long
    enough (eligible) and the events it recorded itself. Against that, at risk ≈ eligible −
    events, and the network's events − its own = the events other providers recorded for its
    clients. So in a row both counts are hidden when either is, or when those other events
    are 1 … k−1 (attack review, issue 11 point 6)."""
    k = viewer.network_k
    own = _by_days(
        source,
        viewer,
        filters,
        "followup_days, own_reentry_days AS reentry_days, own_relapse_days AS relapse_days",
    )
    cases = case_counts(own)
    hidden = []
    for rec in counts.itertuples(index=False):  # one row per event and window
        own_events = int(cases[window_masks(own, rec.event, rec.window_days)["observed"]].sum())
        others = rec.events_observed - own_events
        hidden.append(
            bool(rec.events_observed__status) or bool(rec.km_at_risk__status) or 0 < others < k
        )
    hidden = np.asarray(hidden, dtype=bool)
    counts = counts.copy()
    for column in ("events_observed", "km_at_risk"):
        status = counts[f"{column}__status"].fillna("").astype(str)
        counts[f"{column}__status"] = status.where(~hidden | (status != ""), "secondary")
    return counts


@query()
def km_curve(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    event: str = "reentry",
    step: int = 7,
    intensities: Sequence[str] = (),
    close_reasons: Sequence[str] = (),
) -> dict:
    """Kaplan–Meier cumulative incidence curve up to the longest window, with its 95 %
    interval and the numbers at risk at day 0 and at each window.

    Suppressed viewers: the curve is shown only at the days `protected_days` allows (every
    step rests on at least k events and k persons at risk) and withheld when there is none;
    hidden numbers at risk (the grid's cells) read 'x'.
    """
    windows = source.settings.windows
    horizon = max(windows)
    df = _by_days(
        source,
        viewer,
        filters,
        "followup_days, reentry_days, relapse_days"
        + (", own_reentry_days, own_relapse_days" if viewer.role == "traeger" else ""),
        intensities,
        close_reasons,
    )
    label = EVENTS[event][1]
    durations, happened = event_times(df, event)
    k = viewer.network_k
    if k is not None and (intensities or close_reasons):
        raise grid.NotInGrid(
            "Intensität und Abschlussgrund sind für veröffentlichte Zahlen nicht wählbar."
        )
    at_window = None
    if k is not None:  # the numbers at risk are the grid's cells, with its pattern
        counts = _grid_counts(source, viewer, filters)  # with what a provider knows
        at_window = counts[counts["event"] == event].set_index("window_days")
    if k is None:
        days = list(range(0, horizon + 1, step))
        days += [] if days[-1] == horizon else [horizon]
    elif event_published(viewer, filters, event):
        # a window whose number at risk the grid hides has no point either: the table hides
        # its value, the chart must not show it (fewer points only widen the steps)
        hidden = {int(w) for w, flag in at_window["km_at_risk__status"].items() if flag}
        days = [d for d in _curve_days(viewer, df, event, windows, step) if d not in hidden]
    else:
        days = [0]  # withheld: the grid has no such cells
    at_risk_days = sorted({0, *windows})
    weights = case_counts(df)
    curve = (
        kaplan_meier_at(durations, happened, days, weights=weights) if len(df) else pd.DataFrame()
    )
    risk = (
        kaplan_meier_at(durations, happened, at_risk_days, weights=weights)[
            ["horizon", "at_risk", "events"]
        ]
        if len(df)
        else pd.DataFrame({"horizon": at_risk_days, "at_risk": 0, "events": 0})
    )
    withheld = len(days) < 2 if k is not None else False
    if withheld:
        curve = pd.DataFrame()
    elif k is not None and len(curve):  # the values only, coarsened: no counts off the grid
        curve = curve[["horizon", *CURVE_VALUES]].assign(**coarse(curve[list(CURVE_VALUES)]))
        curve[interval_columns(CURVE_VALUES)] = np.nan  # no interval: the chart draws none
    risk_shown = risk[["horizon", "at_risk"]].astype(object)
    if k is not None:
        margins = _margins(_grid_cells(source, viewer, filters))
        marks = []
        for day in risk["horizon"]:
            if day == 0:
                cell = _margin(margins, {})
                value, status = cell["value"], str(cell["status"] or "")
            else:
                value = at_window.loc[int(day), "km_at_risk"]
                status = str(at_window.loc[int(day), "km_at_risk__status"] or "")
            marks.append(SECONDARY_MARK if status else int(value))  # one mark: from_grid
        risk_shown["at_risk"] = marks
    return {
        "event": event,
        "label": label,
        "curve": curve,
        "at_risk": risk_shown,
        "withheld": withheld,
        "k": k,
        "windows": tuple(windows),
    }


OWN_EVENTS = {
    "own_reentry_days": "reentry_days",
    "own_transfer_days": "transfer_days",
    "own_relapse_days": "relapse_days",
    "own_relapses_during": "relapses_during",
}


@query(roles=CASE_LEVEL_ROLES, case_level=True)
def reentry_cases(source: Source, viewer: Viewer, filters: Filters) -> pd.DataFrame:
    """mart.reentry rows (one per closed case, pseudonymous) in the viewer's scope.

    A provider gets the events from its own records only (`own_*`): a re-entry, transfer or
    relapse that another provider recorded for the same person never reaches its case table;
    it counts in the (suppressed) rates only."""
    df = _rows(source, viewer, filters)
    if viewer.role == "traeger":
        network = [*OWN_EVENTS.values(), "reentry_via"]
        return df.drop(columns=network).rename(columns=OWN_EVENTS)
    return df.drop(columns=list(OWN_EVENTS))
