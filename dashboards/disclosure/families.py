"""What the publication grid holds: one family per counted population, its dimensions, the
cross-classifications that may be published, and its leaf counts (from transforms/, the one
definition of every figure).

Dimensions: `period` (quarter → half-year → year), the groups `provider_id`, `program`,
`region_code`, and the family's own classifications (domain, service type, theme) and
breakdowns (a part of the population: goals with and without an offer, referrals by
outcome, case management and other cases …). A breakdown is published with its parts even
where a view shows only one of them: "all goals" minus "goals without an offer" is a figure
too, and the grid protects it. Every family is published by exactly one of programme, region
or provider (with their totals) — the filters a suppressed reader can combine — and the
caseload additionally by programme × region.

Period kinds: `flow` counts add up over quarters (goals set, structural closures);
`distinct` counts do not (a case in two quarters counts once in their half-year:
every level has its own leaves, linked by max(children) ≤ parent ≤ sum(children)); `quarter`
counts are published per quarter only: the cases in a quarter. No stock is published (active
cases or waiting referrals at a quarter's end): beside the flows of the same population it gives
the unpublished ones by subtraction.

The caseload is published as one count, the cases in a quarter. A case is active in a run of
consecutive quarters, so its counts are tied to each other by definition: the cases of a
half-year minus those of its first quarter are the new cases of the second, the cases of a
quarter minus the active ones at its end are its closed cases, and the interval structure ties
the levels more tightly than max ≤ parent ≤ sum. Published side by side, cases in quarter,
half-year and year, active, new and closed cases gave a funder hidden counts of 1 and 2 by
subtraction; the cases of single quarters are free of each other and of every other family
(docs/decisions.md, "Fallzahlen: eine Zählung je Quartal").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from kernel.fingerprint import table_signature
from kernel.settings import Settings
from transforms import gaps as gap_figures
from transforms.caseload import rollup
from transforms.process import CLASS_FLAGS, case_classes
from transforms.reentry import CASES, EVENTS, window_class_sql, window_masks

ALL = "__all__"
EVERY = "*"  # every level of a dimension (dashboards.disclosure.linked.ALL_LEVELS)
GROUPS = ("provider_id", "program", "region_code")
LEVELS = ("period", "half", "year")  # transforms roll-up bucket levels


class Shared:
    """Figures read more than once (the referral table of two families, the caseload roll-ups
    of the leaves and extras of `cases`), computed once per build of the grid. Families are
    built side by side: a second thread asking for a figure in the making waits for it. The
    frames are handed out as copies, so no family sees another's changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: dict[tuple, Future] = {}

    def get(self, key: tuple, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        return self.value(key, compute).copy()

    def value(self, key: tuple, compute: Callable[[], object]) -> object:
        """`compute()` once per build, its result itself (for values no family changes)."""
        with self._lock:
            future = self._figures.get(key)
            mine = future is None
            if mine:
                future = self._figures[key] = Future()
        if mine:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()


@dataclass(frozen=True)
class Context:
    con: duckdb.DuckDBPyConnection
    settings: Settings
    shared: Shared | None = None  # one per build of the grid (publication.build)
    # provider sets of earlier publications (kernel.publications): who joined since is
    # protected against a reader who subtracts them (insiders, `coalitions`)
    earlier: tuple = ()  # (providers per table, data cut-off): kernel.publications

    def once(self, key: tuple, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """`compute()` once per build when the context shares figures, else every time."""
        return compute() if self.shared is None else self.shared.get(key, compute)

    def fingerprint(self, table: str) -> tuple:
        """`kernel.fingerprint.table_signature` of a source table, once per build."""
        compute = lambda: table_signature(self.con, table)  # noqa: E731
        return compute() if self.shared is None else self.shared.value(("rows", table), compute)


@dataclass(frozen=True)
class Family:
    name: str  # table grid.<name>
    label: str  # German, for the audit
    measure: str  # the count column of the catalogue it publishes
    dims: tuple[str, ...]
    period: str  # flow | distinct | quarter | none
    breakdowns: Mapping[str, Mapping[str, str | None]]  # dim -> child -> parent
    publications: tuple[Mapping[str, object], ...]
    leaves: Callable[[Context], pd.DataFrame]  # dims (+ value) at leaf level
    extras: Callable[[Context], pd.DataFrame] | None = None  # per-cell figures, keyed by dims
    extra_columns: tuple[str, ...] = field(default=())
    # the leaves as each provider knows its own (None: exactly as they are); every leaves
    # table carries `provider_id`, for what a provider knows of a cell (insiders.py)
    known: Callable[[Context], pd.DataFrame] | None = None
    # every table its leaves, known leaves and extras read: while their rows, the settings
    # and the code are the same, so are its published cells (publication.source_key;
    # tests/dashboards/test_grid_memo.py runs each family on these tables alone)
    sources: tuple[str, ...] = ()
    # which of the suppressed cells leave the build (None: all). Cells the suppression counted
    # as published but no one is shown: fewer cells only widen a reader's intervals
    shown: Callable[[pd.DataFrame], pd.DataFrame] | None = None


def _flat(*codes: str) -> dict[str, str | None]:
    return {ALL: None, **{c: ALL for c in codes}}


def by_group(
    period: str,
    *extra: str,
    with_region_program: bool = False,
    providers: bool = True,
    regions: bool = True,
) -> tuple[dict, ...]:
    """The publications of a family: per programme, per region and (where a reader may see
    providers) per provider, each with its total and every level of the family's own
    dimensions."""
    p = {"period": "quarter" if period == "quarter" else EVERY} if period != "none" else {}
    own = {d: EVERY for d in extra}
    pubs = [{**p, "program": EVERY, **own}]
    if regions:
        pubs.append({**p, "region_code": EVERY, **own})
    if providers:
        pubs.append({**p, "provider_id": "leaf", **own})
    if with_region_program:
        pubs.append({**p, "program": EVERY, "region_code": EVERY, **own})
    return tuple(pubs)


def _levels(func, con, dims, **kw) -> pd.DataFrame:
    """A roll-up at every period level (quarter, half-year, year), `period` = bucket label."""
    return pd.concat(
        [func(con, group_by=[level, *dims], **kw) for level in LEVELS], ignore_index=True
    )


def _parts(df: pd.DataFrame, keys: list[str], parts: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Long leaves: one row per key and part with its value."""
    out = [df[keys].assign(part=name, value=values.to_numpy()) for name, values in parts.items()]
    return pd.concat(out, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# caseload


def _quarterly(ctx: Context, groups: tuple[str, ...]) -> pd.DataFrame:
    """The caseload roll-up per quarter and `groups` (scope alle: the grid has no scopes),
    once per build: the leaves and the extras of `cases` both read it."""
    compute = lambda: rollup(ctx.con, group_by=["period", *groups])  # noqa: E731
    return ctx.once(("caseload", groups), compute)


def _cases_leaves(ctx: Context) -> pd.DataFrame:
    df = _quarterly(ctx, GROUPS)
    return df[["period", *GROUPS]].assign(value=df["cases_in_period"].to_numpy())


GROUP_PATTERNS = ((), ("provider_id",), ("program",), ("region_code",), ("program", "region_code"))


def _cases_extras(ctx: Context) -> pd.DataFrame:
    """Additive components of every published cell (every grouping, totals as ALL): the
    caseload ratios rest on them."""
    frames = [
        _quarterly(ctx, groups).assign(**{g: ALL for g in GROUPS if g not in groups})
        for groups in GROUP_PATTERNS
    ]
    df = pd.concat(frames, ignore_index=True)
    return df[["period", *GROUPS, "case_days", "fte_days", "fte_end", "days"]]


# ---------------------------------------------------------------------------------------------
# supply gaps, referrals, closures


def _goals_leaves(ctx: Context) -> pd.DataFrame:
    df = gap_figures.supply_gaps(ctx.con, group_by=["period", *GROUPS, "domain"])
    without = df["goals_without_offer"]
    return _parts(
        df,
        ["period", *GROUPS, "domain"],
        {"without_offer": without, "with_offer": df["goals_set"] - without},
    )


def _referral_table(ctx: Context) -> pd.DataFrame:
    group_by = ["period", *GROUPS, "service_type"]
    return ctx.once(("referrals",), lambda: gap_figures.referral_waits(ctx.con, group_by=group_by))


def _referrals_leaves(ctx: Context) -> pd.DataFrame:
    df = _referral_table(ctx)
    return _parts(
        df,
        ["period", *GROUPS, "service_type"],
        {
            "kein_angebot": df["no_offer"],
            "abgelehnt": df["rejected"],
            "other": df["referrals"] - df["no_offer"] - df["rejected"],
        },
    )


def _column_leaves(table: Callable, column: str, dims: tuple[str, ...]) -> Callable:
    def leaves(ctx: Context) -> pd.DataFrame:
        df = table(ctx)
        return df[list(dims)].assign(value=df[column].to_numpy())

    return leaves


def _wait_extras(groups: tuple[str, ...]) -> Callable[[Context], pd.DataFrame]:
    """Median and 90th percentile wait of every published cell (quantiles do not add up): the
    family's `groups` (each alone, and their total), by service type and over all."""

    def extras(ctx: Context) -> pd.DataFrame:
        frames = []
        for pattern in ((), *((g,) for g in groups)):
            for service in (("service_type",), ()):
                dims = [*pattern, *service]
                df = _levels(gap_figures.wait_quantiles, ctx.con, dims)
                df = df.assign(**{d: ALL for d in (*GROUPS, "service_type") if d not in dims})
                frames.append(
                    df[["period", *GROUPS, "service_type", "wait_days_median", "wait_days_p90"]]
                )
        return pd.concat(frames, ignore_index=True)

    return extras


def _structural_leaves(ctx: Context) -> pd.DataFrame:
    """Structural closures only: all closures (or the others) beside the cases of a quarter
    would give the new cases by subtraction (docs/decisions.md)."""
    df = gap_figures.structural_closures(ctx.con, group_by=["period", *GROUPS])
    return df[["period", *GROUPS]].assign(value=df["structural_closures"].to_numpy())


# ---------------------------------------------------------------------------------------------
# process quality: one cube of the case classes (every count is a margin of it)

FLAG = {ALL: None, "ja": ALL, "nein": ALL, "na": ALL}
# count -> the flags it fixes to "ja" (the others at their total)
PROCESS_MARGINS = {
    "cm_cases": ("cm",),
    "with_assessment": ("cm", "assessment"),
    "with_plan": ("cm", "plan"),
    "with_review": ("cm", "review"),
    "closed_cm": ("closed_cm",),
    "with_evaluation": ("closed_cm", "evaluation"),
    "with_close_reason": ("closed_cm", "close_reason"),
    "open_cases": ("open",),
    "review_due": ("open", "due"),
    "close_overdue": ("open", "overdue"),
    "followup_base": ("followup_base",),
    "followup_missing": ("followup_base", "followup_missing"),
}
# Published per programme and year: the cube of eleven flags crossed with quarters, half-years
# and providers makes the joint suppression slow and hides most cells (docs/decisions.md).
PROCESS_GROUPS = ("program",)
PROCESS_LEVEL = "year"


def _process_leaves(ctx: Context) -> pd.DataFrame:
    keys = [*PROCESS_GROUPS, "provider_id"]
    df = case_classes(ctx.con, group_by=[PROCESS_LEVEL, *keys])
    return df[["period", *keys, *CLASS_FLAGS]].assign(value=df["cases"].to_numpy())


def _process_shown(cells: pd.DataFrame) -> pd.DataFrame:
    """The cube's cells with every flag "ja" or at its total: the counts the views divide.
    Its "nein" and "na" cells would add up to the cases of the year, which beside the cases
    of its quarters pinned hidden ones (2022 has one quarter: kim's open cases 59 − 58 = 1;
    review of 2026-12-07)."""
    flags = cells[list(CLASS_FLAGS)]
    keep = (flags.isin(["ja", ALL])).all(axis=1).to_numpy(copy=True)
    # open, due and overdue are states at the data cut-off: a case open then and active in
    # an earlier year is active in the cut-off's year too, so the years' counts nest, and a
    # year beside the next gave hidden ones within 1 (second review of 2026-12-07: pcve 2025,
    # 5 in [4, 5]). They are published for the cut-off's year only, the last of the grid.
    at_cut_off = (flags[list(CUT_OFF_FLAGS)] == "ja").any(axis=1).to_numpy()
    keep &= ~at_cut_off | (cells["period"] == cells["period"].max()).to_numpy()
    return cells[keep].reset_index(drop=True)


CUT_OFF_FLAGS = ("open", "due", "overdue")  # CLASS_FLAGS that describe the cut-off


def _process_publications() -> tuple[dict, ...]:
    flag_sets = {f for fs in PROCESS_MARGINS.values() for f in [fs[:1], fs]}
    return tuple(
        {"period": "year", "program": EVERY, **{f: "leaf" for f in flags}} for flags in flag_sets
    )


# ---------------------------------------------------------------------------------------------
# re-entry and relapse: the closed cases by what each window observed


OBS = {
    ALL: None,
    "eligible": ALL,
    "ineligible": ALL,
    "event": "eligible",
    "no_event": "eligible",
    "not_followed": "ineligible",
}
KM = _flat("at_risk", "ended")
PK = _flat("ja", "nein")


# Relapses are rare and documented in exit and distancing work only: by region or provider
# they are mostly counts of 1 or 2, and protecting them hid the re-entry figures of the same
# groups as well (1,000,000 cases: 154 relapse counts took 2,164 further cells with them,
# the re-entry counts of half the providers among them, and 31 s of LP). Relapses are
# published by programme and for the whole network only (docs/decisions.md).
EVENT_GROUPS = {"reentry": GROUPS, "relapse": ("program",)}


def reentry_published(event: str, group: str | None) -> bool:
    """Whether the grid holds `event` for a population fixed by one group (None: the
    network; every event is published for it)."""
    return group is None or group in EVENT_GROUPS[event]


def reentry_dims(settings: Settings) -> list[tuple[str, str]]:
    """(observation dim, curve dim) per event and window, e.g. ("reentry_365_obs", …)."""
    return [(f"{e}_{w}_obs", f"{e}_{w}_km") for e in EVENTS for w in settings.windows]


def _reentry_leaves(
    ctx: Context, reentry: str = "reentry_days", relapse: str = "relapse_days"
) -> pd.DataFrame:
    windows = ctx.settings.windows
    days = {
        "followup_days": "followup_days",
        EVENTS["reentry"][0]: reentry,
        EVENTS["relapse"][0]: relapse,
    }
    # grouped in SQL by window class: the same masks as per case (window_class_sql)
    df = ctx.con.execute(
        "SELECT provider_id, program, region_code, person_key_present, "
        + ", ".join(f"{window_class_sql(col, windows)} AS {name}" for name, col in days.items())
        + f", count(*) AS {CASES} FROM mart.reentry GROUP BY ALL"
    ).df()
    out = df[list(GROUPS)].copy()
    out["person_key"] = np.where(df["person_key_present"], "ja", "nein")
    for event in EVENTS:
        for w in windows:
            m = window_masks(df, event, w)
            out[f"{event}_{w}_obs"] = np.select(
                [m["observed"], m["eligible"]], ["event", "no_event"], "not_followed"
            )
            out[f"{event}_{w}_km"] = np.where(m["at_risk"], "at_risk", "ended")
    out["value"] = df[CASES].to_numpy(dtype=np.int64)
    return out.groupby([c for c in out.columns if c != "value"], as_index=False)["value"].sum()


def _reentry_known(ctx: Context) -> pd.DataFrame:
    """The closed cases as their provider sees them: with the events it recorded itself."""
    return _reentry_leaves(ctx, "own_reentry_days", "own_relapse_days")


def _reentry_family(settings: Settings) -> Family:
    pairs = reentry_dims(settings)
    breakdowns = {"person_key": PK}
    pubs = []
    for group in ({"program": EVERY}, {"region_code": EVERY}, {"provider_id": "leaf"}):
        pubs.append({**group, "person_key": "leaf"})
        (name,) = group
        for obs, km in pairs:
            breakdowns[obs], breakdowns[km] = OBS, KM
            if reentry_published(obs.split("_")[0], name):
                pubs += [{**group, obs: EVERY}, {**group, km: "leaf"}]
    dims = (*GROUPS, "person_key", *[d for pair in pairs for d in pair])
    return Family(
        "reentry",
        "Abgeschlossene Fälle nach Nachbeobachtung",
        "closed_cases",
        dims,
        "none",
        breakdowns,
        tuple(pubs),
        _reentry_leaves,
        known=_reentry_known,
        sources=("mart.reentry",),
    )


# ---------------------------------------------------------------------------------------------
# themes


def _theme_leaves(ctx: Context) -> pd.DataFrame:
    return ctx.con.execute(
        """SELECT theme_id, provider_id,
                  year(first_noted) || '-Q' || quarter(first_noted) AS first_quarter,
                  CASE WHEN in_prev THEN 'ja' ELSE 'nein' END AS in_prev,
                  CASE WHEN in_recent THEN 'ja' ELSE 'nein' END AS in_recent,
                  count(*)::INTEGER AS value
           FROM mart.theme_cases WHERE first_noted IS NOT NULL GROUP BY ALL"""
    ).df()


# ---------------------------------------------------------------------------------------------


CASELOAD_SOURCES = ("mart.caseload", "mart.periods")
GOALS_SOURCES = ("mart.goals", "mart.periods")
REFERRALS_SOURCES = ("mart.referrals", "mart.periods")
CASES_SOURCES = ("mart.cases", "mart.periods")
THEMES_SOURCES = ("mart.theme_cases",)


def families(settings: Settings) -> tuple[Family, ...]:
    """Every family of the grid (the re-entry family follows the configured windows)."""
    g = ("period", *GROUPS)
    # the supply-gap families: per programme only. Crossed with regions as well, the joint
    # suppression takes minutes on the demo and hides most cells (docs/decisions.md)
    ng = ("period", "program")
    return (
        Family(
            "cases",
            "Fälle im Quartal",
            "cases_in_period",
            g,
            "quarter",
            {},
            by_group("quarter", with_region_program=True),
            _cases_leaves,
            extras=_cases_extras,
            extra_columns=("case_days", "fte_days", "fte_end", "days"),
            sources=CASELOAD_SOURCES,
        ),
        Family(
            "goals",
            "Vereinbarte Ziele",
            "goals_set",
            (*ng, "domain", "part"),
            "flow",
            {"part": _flat("without_offer", "with_offer")},
            by_group("flow", "domain", "part", providers=False, regions=False),
            _goals_leaves,
            sources=GOALS_SOURCES,
        ),
        Family(
            "referrals",
            "Vermittlungen",
            "referrals",
            (*ng, "service_type", "part"),
            "flow",
            {"part": _flat("kein_angebot", "abgelehnt", "other")},
            by_group("flow", "service_type", "part", providers=False, regions=False),
            _referrals_leaves,
            sources=REFERRALS_SOURCES,
        ),
        Family(
            "started",
            "Begonnene Vermittlungen",
            "started",
            (*ng, "service_type"),
            "flow",
            {},
            by_group("flow", "service_type", providers=False, regions=False),
            _column_leaves(_referral_table, "started", (*g, "service_type")),
            extras=_wait_extras(("program",)),
            extra_columns=("wait_days_median", "wait_days_p90"),
            sources=REFERRALS_SOURCES,
        ),
        Family(
            "closures",
            "Strukturelle Abschlüsse",
            "structural_closures",
            ng,
            "flow",
            {},
            by_group("flow", providers=False, regions=False),
            _structural_leaves,
            sources=CASES_SOURCES,
        ),
        Family(
            "process",
            "Prozessqualität",
            "cm_cases",
            ("period", *PROCESS_GROUPS, *CLASS_FLAGS),
            "distinct",
            dict.fromkeys(CLASS_FLAGS, FLAG),
            _process_publications(),
            _process_leaves,
            sources=CASES_SOURCES,
            shown=_process_shown,
        ),
        _reentry_family(settings),
        Family(
            "themes",
            "Fälle je Thema",
            "cases",
            ("theme_id", "first_quarter", "in_prev", "in_recent"),
            "none",
            {"in_prev": _flat("ja", "nein"), "in_recent": _flat("ja", "nein")},
            (
                {"theme_id": "leaf", "first_quarter": EVERY},
                {"theme_id": "leaf", "in_prev": "leaf"},
                {"theme_id": "leaf", "in_recent": "leaf"},
            ),
            _theme_leaves,
            sources=THEMES_SOURCES,
        ),
    )
