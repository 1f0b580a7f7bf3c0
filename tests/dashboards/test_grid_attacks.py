"""The publication grid against a reader who combines what they see (metrics.md, "Small
numbers"): an attacker independent of the product's own audit — its own equations from the
published cells and SciPy's LP — and the read side's refusal to form new unions of cells."""

from __future__ import annotations

import os
from itertools import product
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from dashboards import read
from dashboards.disclosure.families import ALL, GROUPS, Context, families
from dashboards.read import Filters, NotInGrid, Source, Viewer
from kernel.settings import load_settings
from kernel.workspace import Workspace

K = 3
FUNDER = Viewer("foerderer", k=K)


@pytest.fixture(scope="module")
def workspace(workspace):
    """The dashboard fixture; or, with LAGEBILD_ATTACK_WORKSPACE, any pipeline-built workspace
    (the 100,000-case one `make bench` leaves in bench-cache/ws-100000, the demo's)."""
    other = os.environ.get("LAGEBILD_ATTACK_WORKSPACE")
    return Path(other) if other else workspace


def _grid(workspace, family: str) -> pd.DataFrame:
    con = duckdb.connect(str(Workspace(workspace).published_db_path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM grid.{family}").df()
    finally:
        con.close()


def test_every_family_is_built_and_passes_the_audit(workspace):
    audit = _grid(workspace, "audit").set_index("family")
    names = {f.name for f in families(load_settings(workspace))}
    assert set(audit.index) == names
    assert (audit["unprotected"] == 0).all(), audit[audit["unprotected"] > 0]
    assert audit["primary"].sum() > 0  # the fixture has small cells to protect
    audited = audit[audit["cells_audited"] > 0]
    assert (audited["narrowest_width"] >= K).all()


def _halves_and_year(year: str) -> dict[str, list[str]]:
    qs = [f"{year}-Q{q}" for q in range(1, 5)]
    return {year: qs, f"{year}-H1": qs[:2], f"{year}-H2": qs[2:]}


def _attacker_equations(cells: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """parent = sum(children) for an additive family, derived from the published cells alone:
    a year and a half-year are the sums of their quarters; a total over a group is the sum of
    its codes; programme × region adds up both ways. A cell without a row is zero."""
    index = {key: i for i, key in enumerate(cells[["period", *GROUPS]].itertuples(index=False))}
    eqs = []
    groups = {tuple(k[1:]) for k in index}
    years = {p[:4] for p in cells["period"]}
    for g, year in product(groups, years):
        for parent, quarters in _halves_and_year(year).items():
            if (parent, *g) in index:
                eqs.append(
                    (index[(parent, *g)], [index[(q, *g)] for q in quarters if (q, *g) in index])
                )
    for key, i in index.items():
        period, provider, program, region = key
        for pos, value in enumerate((provider, program, region)):
            if value != ALL:
                continue
            children = [
                j
                for other, j in index.items()
                if other[0] == period
                and other[1 + pos] != ALL
                and all(other[1 + q] == key[1 + q] for q in range(3) if q != pos)
            ]
            if children:
                eqs.append((i, children))
    return eqs


@pytest.mark.parametrize("family", ["cases", "closures"])
def test_an_independent_lp_attacker_cannot_narrow_a_hidden_cell(workspace, family):
    """Quarters vs half-years vs years, a programme total vs its rows, programme × region
    both ways: minimise and maximise every primary cell (and a sample of secondary ones)
    subject to all published cells; the interval must stay at least k wide."""
    cells = _grid(workspace, family).reset_index(drop=True)
    cells = cells.assign(**{g: cells.get(g, ALL) for g in GROUPS})  # closures: per programme
    hidden = cells["status"].isin(["primary", "secondary"]).to_numpy()
    if not hidden.any() and os.environ.get("LAGEBILD_ATTACK_WORKSPACE"):
        pytest.skip(f"{family}: in this workspace no cell is suppressed")
    assert hidden.any()
    eqs = _attacker_equations(cells)
    assert len(eqs) > 50
    _assert_no_hidden_cell_narrower_than_k(cells, eqs, seed=0)


def _interval(c, a_eq, b_eq, bounds=(0, None)) -> tuple[float, float]:
    """The least and the greatest value of c·x subject to a_eq x = b_eq (SciPy's LP); the
    greatest is inf where nothing bounds it."""
    lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert lo.status == 0  # the published cells fit the model: it is the right one
    return lo.fun, (np.inf if hi.status == 3 else -hi.fun)


def _assert_no_hidden_cell_narrower_than_k(cells: pd.DataFrame, eqs, seed: int) -> None:
    """Minimise and maximise every primary cell and a sample of secondary ones subject to the
    published cells and the attacker's equations (SciPy's LP): each interval is k wide."""
    hidden = cells["status"].isin(["primary", "secondary"]).to_numpy()
    rows, cols, vals = [], [], []
    for r, (parent, children) in enumerate(eqs):
        rows += [r] * (1 + len(children))
        cols += [parent, *children]
        vals += [1.0] + [-1.0] * len(children)
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(len(eqs), len(cells)))
    values = cells["value"].to_numpy(float)
    # a hidden cell is at least 1: a zero is shown as 0 (review of 2026-12-07)
    bounds = [(1, None) if h else (v, v) for v, h in zip(values, hidden, strict=True)]
    # the published values satisfy the attacker's equations: they are the right ones
    assert np.allclose(a_eq @ values, 0)
    rng = np.random.default_rng(seed)
    primary = np.flatnonzero(cells["status"] == "primary")
    secondary = np.flatnonzero(cells["status"] == "secondary")
    targets = [*primary, *rng.choice(secondary, min(20, len(secondary)), replace=False)]
    assert targets
    for t in targets:
        c = np.zeros(len(cells))
        c[t] = 1.0
        low, high = _interval(c, a_eq, np.zeros(len(eqs)), bounds)
        assert high - low >= K - 1e-6, (cells.iloc[t].to_dict(), low, high)


def test_a_suppressed_reader_cannot_form_new_unions(workspace):
    src = Source.of(workspace)
    options = read.filter_options(src, FUNDER, read.ALL)
    regions, program = options["regions"][:2], options["programs"][0]
    with pytest.raises(NotInGrid):  # region A+B (then minus B)
        read.caseload(src, FUNDER, Filters("2026-Q1", "2026-Q1", regions=tuple(regions)))
    with pytest.raises(NotInGrid):  # three quarters: no grid period
        read.caseload(src, FUNDER, Filters("2026-Q1", "2026-Q3"))
    with pytest.raises(NotInGrid):  # a programme and a region at once
        read.caseload(src, FUNDER, Filters("2026-Q1", "2026-Q1", (program,), (regions[0],)))
    with pytest.raises(NotInGrid):  # supply gaps are published per programme only
        read.gaps(src, FUNDER, Filters("2026-Q1", "2026-Q1", regions=(regions[0],)))


def test_a_cell_reads_the_same_in_the_view_and_the_grid(workspace):
    """The funder's caseload table by provider for a quarter is the grid's cells, with the
    grid's pattern: hidden there, hidden here; shown there, the same number here."""
    src = Source.of(workspace)
    pub = read.caseload(src, FUNDER, Filters("2026-Q2", "2026-Q2"))
    cells = _grid(workspace, "cases")
    cells = cells[
        (cells["period"] == "2026-Q2")
        & (cells["provider_id"] != ALL)
        & (cells["program"] == ALL)
        & (cells["region_code"] == ALL)
    ].set_index("provider_id")
    table = pub.table.set_index("provider_id")
    flags = pub.flags.set_index(pub.table["provider_id"])
    assert set(table.index) == set(cells.index)
    for provider, cell in cells.iterrows():
        shown = table.loc[provider, "cases_in_period"]
        expected = "secondary" if cell["status"] else ""  # one mark and flag for every hidden
        assert flags.loc[provider, "cases_in_period"] == expected, provider
        assert shown == ("x" if cell["status"] else cell["value"]), provider


def test_network_minus_own_never_pins_the_others(workspace):
    """A provider sees the network's theme counts and its own: where both are shown, the
    others' cases are 0 or at least k."""
    src = Source.of(workspace)
    pub = read.themes(src, Viewer("traeger", "p04", k=K), read.ALL)
    assert len(pub.table)
    shown = pub.flags["cases"].eq("")
    others = pub.table.loc[shown, "cases"] - pub.table.loc[shown, "own_cases"]
    assert ((others == 0) | (others >= K)).all()


def _interval_model(quarters: list[str]) -> tuple[list[tuple], dict]:
    """The attacker's unknowns for one group: how many cases run from quarter s to quarter e
    and close there (for a structural reason or another), and how many begun in s are still
    open. Every caseload figure is a sum of them (a case is active in consecutive quarters)."""
    n = len(quarters)
    unknowns = [(s, e, why) for s in range(n) for e in range(s, n) for why in ("str", "other")]
    unknowns += [(s, None, "open") for s in range(n)]
    return unknowns, {q: i for i, q in enumerate(quarters)}


def _span(label: str, at: dict) -> tuple[int, int]:
    """First and last quarter index of a grid period (the quarters with data)."""
    if "-Q" in label:
        return at[label], at[label]
    half = int(label[-1]) if "-H" in label else None
    inside = sorted(
        i
        for q, i in at.items()
        if q[:4] == label[:4] and (half is None or (int(q[-1]) + 1) // 2 == half)
    )
    return inside[0], inside[-1]


def test_a_funder_cannot_subtract_caseload_figures(workspace):
    """Finding 1 of 2026-12-06: cases of a half-year minus its first quarter were the new
    cases of the second (a hidden 2 shown as "<3"), active at the end and closed cases as
    well. The grid now holds the cases of single quarters and, per programme, structural
    closures. Per group, the exact model — every case a run of quarters, closing for a reason
    or still open — with every shown cell of the group: no hidden cell narrower than k, and no
    new or closed count of a quarter pinned below k either."""
    names = {f.name for f in families(load_settings(workspace))}
    assert not {"active", "opened", "closed"} & names
    cases = _grid(workspace, "cases")
    assert set(cases["level"]) == {"quarter"}
    closures = _grid(workspace, "closures").assign(provider_id=ALL, region_code=ALL)
    assert set(closures.columns) >= {"period", "program", "value", "status"}
    assert "part" not in closures.columns  # structural only: all closures would pin new ones
    quarters = sorted(p for p in cases["period"].unique() if "-Q" in p)
    unknowns, at = _interval_model(quarters)

    def row(kind: str, label: str) -> np.ndarray:
        a, b = _span(label, at)
        r = np.zeros(len(unknowns))
        for j, (s, e, why) in enumerate(unknowns):
            end = len(quarters) - 1 if e is None else e
            if kind == "cases":
                r[j] = s <= b and end >= a
            elif kind == "structural":
                r[j] = why == "str" and a <= end <= b
            elif kind == "opened":
                r[j] = a <= s <= b
            else:  # closed
                r[j] = why != "open" and a <= end <= b
        return r

    narrow, checked = [], 0
    for key, own in cases.groupby(list(GROUPS)):
        group_closures = closures[
            (closures["provider_id"] == key[0])
            & (closures["program"] == key[1])
            & (closures["region_code"] == key[2])
        ]
        cells = [("cases", r) for r in own.itertuples()]
        cells += [("structural", r) for r in group_closures.itertuples()]
        shown = [(row(kind, r.period), r.value) for kind, r in cells if r.status == ""]
        shown += [(row("cases", q), 0) for q in quarters if q not in set(own["period"])]
        a_eq = np.array([r for r, _ in shown]) if shown else None
        b_eq = np.array([v for _, v in shown], dtype=float) if shown else None
        targets = [(row(kind, r.period), r) for kind, r in cells if r.status != ""]
        if len(group_closures):  # elsewhere the quarters alone: any flows fit them
            targets += [(row(kind, q), None) for q in quarters for kind in ("opened", "closed")]
        for c, cell in targets:
            low, high = _interval(c, a_eq, b_eq)
            width = high - low
            checked += cell is not None
            # a hidden cell: k wide; a flow nobody publishes: not pinned to 1 .. k-1
            if cell is not None and width < K - 1e-6:
                narrow.append((key, cell.period, cell.value, low, width))
            elif cell is None and width < 1e-6 and 1 <= round(low) < K:
                narrow.append((key, "flow", round(low)))
    assert checked > 0
    assert not narrow, narrow[:10]


def test_the_caseload_of_a_half_year_or_year_is_no_published_cell(workspace):
    """A funder choosing a half-year or a year gets the reason, not figures; a table by
    quarter over the half-year gets its quarters, and the trend shows only the cases."""
    src = Source(workspace, load_settings(workspace))
    half = Filters(period_from="2025-Q1", period_to="2025-Q2")
    with pytest.raises(NotInGrid, match="je Quartal"):
        read.caseload(src, FUNDER, half)
    by_quarter = read.caseload(src, FUNDER, half, group_by=(), by_period=True).table
    assert list(by_quarter["period"]) == ["2025-Q1", "2025-Q2"]
    assert "active_cases_end" not in by_quarter.columns
    trend = read.case_counts(src, FUNDER, half).table
    assert list(trend.columns) == ["period", "partial", "cases_in_period"]


def test_a_suppressed_reader_sees_a_themes_sightings_by_quarter_only(workspace):
    """A theme's first and last sighting is a date from one provider's records (often its only
    case that day): a funder, a provider and every report see its quarter, the coordinating
    office the day."""
    src = Source.of(workspace)
    quarter = r"^(\d{4}-Q[1-4])?$"
    for viewer in (FUNDER, Viewer("traeger", "p04", k=K), Viewer("koordination", k=K).published()):
        table = read.themes(src, viewer, read.ALL).table
        assert len(table)
        for column in ("first_seen", "last_seen"):
            assert table[column].astype(str).str.match(quarter).all(), (viewer, column)
    office = read.themes(src, Viewer("koordination", k=K), read.ALL).table
    days = pd.to_datetime(office["first_seen"], errors="coerce")
    assert days.notna().any()


def test_every_hidden_cell_reads_x_small_or_not(workspace):
    """„<3“ said 1 or 2 and so told the reader that every other hidden cell („x“) is 3 or
    more; with both marks a reader pinned hidden theme counts (review of 2026-12-07: Q1 + Q2
    = 4 with Q2 „x“ gave Q1 = 1, Q2 = 3). Every hidden cell reads „x“: the funder's caseload
    by provider, every quarter, small cells and a provider's rest alike."""
    src = Source.of(workspace)
    cells = _grid(workspace, "cases")
    cells = cells[
        (cells["level"] == "quarter")
        & (cells["provider_id"] != ALL)
        & (cells["program"] == ALL)
        & (cells["region_code"] == ALL)
        & (cells["status"] != "")
    ]
    assert (cells["value"] < K).any() and (cells["value"] >= K).any()
    for period, rows in cells.groupby("period"):
        table = read.caseload(src, FUNDER, Filters(period, period)).table
        shown = table.set_index("provider_id")["cases_in_period"]
        for _, cell in rows.iterrows():
            assert shown[cell["provider_id"]] == "x", (period, cell["provider_id"])


def test_a_funder_cannot_subtract_referral_figures(workspace):
    """Waiting referrals at a quarter's end beside those requested and started gave the ones
    not taken up by subtraction, and pinned hidden cells (demo: 122 of 6,767). The grid has no
    waiting referrals now. Per programme and service type, the exact model — a referral is
    requested in s and started in t ≥ s, still waiting, not taken up, without an offer or
    rejected — with every shown cell: a sample of hidden cells (four primary and one
    secondary per group) tells no more than "<k", and no quarter's count not taken up is
    pinned to 1 .. k-1."""
    refs, started = _grid(workspace, "referrals"), _grid(workspace, "started")
    try:  # a grid of an older build still has them: the attacker uses what it finds
        waiting = _grid(workspace, "waiting")
    except duckdb.CatalogException:
        waiting = started.iloc[:0]
    quarters = sorted({p for p in (*refs["period"], *started["period"]) if "-Q" in p})
    n, at = len(quarters), {q: i for i, q in enumerate(quarters)}
    unknowns = [("begonnen", s, t) for s in range(n) for t in range(s, n)]
    unknowns += [(kind, s, None) for s in range(n) for kind in ("wartend", "nw", "ka", "ab")]
    kind_of = np.array([u[0] for u in unknowns])
    asked = np.array([u[1] for u in unknowns])
    begun = np.array([-1 if u[2] is None else u[2] for u in unknowns])
    part_kinds = {
        ALL: ("begonnen", "wartend", "nw", "ka", "ab"),
        "kein_angebot": ("ka",),
        "abgelehnt": ("ab",),
        "other": ("begonnen", "wartend", "nw"),
    }

    def row(kind: str, label: str, part: str | None = None) -> np.ndarray:
        a, b = _span(label, at)
        if kind == "requested":
            inside = np.isin(kind_of, part_kinds[part]) & (asked >= a) & (asked <= b)
        elif kind == "started":
            inside = (kind_of == "begonnen") & (begun >= a) & (begun <= b)
        elif kind == "waiting":  # at the end of b
            inside = (asked <= b) & (
                (kind_of == "wartend") | ((kind_of == "begonnen") & (begun > b))
            )
        else:  # not taken up
            inside = (kind_of == "nw") & (asked >= a) & (asked <= b)
        return inside.astype(float)

    rng = np.random.default_rng(2)
    told_more, checked = [], 0
    for (program, service), own in refs.groupby(["program", "service_type"]):
        theirs = started[(started["program"] == program) & (started["service_type"] == service)]
        cells = [("requested", r) for r in own.itertuples()]
        cells += [("started", r) for r in theirs.itertuples()]
        mine = (waiting["program"] == program) & (waiting["service_type"] == service)
        cells += [("waiting", r) for r in waiting[mine].itertuples()]
        shown = [
            (row(k, r.period, getattr(r, "part", None)), r.value) for k, r in cells if not r.status
        ]
        for q in quarters:  # a quarter without a cell is a zero
            if q not in set(own["period"]):
                shown.append((row("requested", q, ALL), 0))
            if q not in set(theirs["period"]):
                shown.append((row("started", q), 0))
        a_eq = np.array([r for r, _ in shown])
        b_eq = np.array([v for _, v in shown], dtype=float)
        hidden = [(k, r) for k, r in cells if r.status]
        primary = [c for c in hidden if c[1].status == "primary"]
        secondary = [c for c in hidden if c[1].status == "secondary"]
        chosen = [primary[i] for i in rng.choice(len(primary), min(4, len(primary)), False)]
        chosen += [secondary[i] for i in rng.choice(len(secondary), min(1, len(secondary)), False)]
        targets = [(row(k, r.period, getattr(r, "part", None)), r) for k, r in chosen]
        targets += [(row("nw", q), None) for q in quarters]
        for c, cell in targets:
            low, high = _interval(c, a_eq, b_eq)
            if cell is None:  # an unpublished count, pinned to 1 .. k-1?
                if high - low < 1e-6 and 1 <= round(low) < K:
                    told_more.append((program, service, "nicht wahrgenommen", round(low)))
                continue
            checked += 1
            # "<k" says 1 .. k-1 (an insider primary "x" says nothing): the interval must
            # leave at least two values of what the reader could not tell apart anyway
            lt_k = 1 <= cell.value < K and low <= 1 and high >= K - 1
            if high - low < K - 1e-6 and not lt_k:
                told_more.append((program, service, cell.period, cell.value, low, high))
    assert checked > 0
    assert not told_more, told_more[:10]
    assert "waiting" not in {f.name for f in families(load_settings(workspace))}


def test_no_published_population_repeats_another_familys(workspace):
    """Review of 2026-12-07: cases with a gap are at most the goals without an offer of the
    same cell (321 of the demo's 938 hidden gap cells pinned, goals with them), and the
    process cube's "ja", "nein" and "na" cells add up to the cases of a year (2022 is one
    quarter: kim's open cases 59 − 58 = 1). Neither is published now: no gap cases, and the
    cube only with every flag "ja" or at its total — the counts the views divide."""
    from transforms.process import CLASS_FLAGS

    names = {f.name for f in families(load_settings(workspace))}
    assert "gap_cases" not in names
    process = _grid(workspace, "process")
    assert len(process) and process["status"].ne("").any()
    codes = set(process[list(CLASS_FLAGS)].to_numpy().ravel())
    assert codes <= {"ja", ALL}, codes
    src = Source(workspace, load_settings(workspace))
    gaps = read.gaps(src, FUNDER, Filters(period_from="2025-Q1", period_to="2025-Q1"))
    assert "cases_with_gap" not in gaps.table.columns and len(gaps.table)


def test_a_funder_cannot_pin_a_theme_count_with_what_the_marks_say(workspace):
    """Review of 2026-12-07: with „<3“ (1 or 2) beside „x“ (then 3 or more) a funder pinned
    hidden theme counts: total 12, first half 4, Q1 „<3“ and Q2 „x“ gave Q1 = 1 and Q2 = 3.
    Now every hidden cell reads „x“ and the audit knows what a reader knows: a hidden cell
    is at least 1. An exact model per theme, independent of the audit: the unknowns are the
    theme's cases per pattern (quarter of first mention, first window, second window; every
    pattern any theme has), every published cell an equation, every hidden one at least 1;
    each hidden cell's interval is k wide."""
    cells = _grid(workspace, "themes")
    ctx = Context(
        duckdb.connect(str(Workspace(workspace).published_db_path), read_only=True),
        load_settings(workspace),
    )
    try:
        leaves = next(f for f in families(ctx.settings) if f.name == "themes").leaves(ctx)
    finally:
        ctx.con.close()
    dims = ["first_quarter", "in_prev", "in_recent"]
    patterns = sorted({tuple(r) for r in leaves[dims].astype(str).itertuples(index=False)})
    narrow, hidden_total = [], 0
    for theme, own in cells.groupby("theme_id"):
        hidden = own["status"] != ""
        if not hidden.any():
            continue
        hidden_total += int(hidden.sum())
        inc = np.array(
            [
                [all(c in (ALL, p) for c, p in zip(cell, pat, strict=True)) for pat in patterns]
                for cell in own[dims].itertuples(index=False)
            ],
            dtype=float,
        )
        shown = ~hidden.to_numpy()
        a_ub, b_ub = -inc[~shown], -np.ones(int((~shown).sum()))  # every hidden cell >= 1
        for i in np.flatnonzero(~shown):
            bounds = []
            for sign in (1.0, -1.0):
                res = linprog(
                    sign * inc[i],
                    A_eq=inc[shown],
                    b_eq=own["value"][shown],
                    A_ub=a_ub,
                    b_ub=b_ub,
                    bounds=(0, None),
                    method="highs",
                )
                assert res.status in (0, 3), theme  # the published cells fit the model
                bounds.append(np.inf if res.status == 3 else sign * res.fun)
            low, high = bounds[0], bounds[1]
            if high - low < K - 1e-6:
                narrow.append((theme, own.iloc[i][dims].tolist(), low, high))
    assert hidden_total > 20  # the fixture has hidden theme cells to attack
    assert not narrow, narrow[:5]


def test_a_themes_trend_is_hidden_with_its_counts(workspace):
    """„steigend“ or „fallend“ compares the cases of the two windows: beside hidden counts it
    told their order (review of 2026-12-07: Q2 „<3“ was 2 because the trend said „fallend“)."""
    src = Source.of(workspace)
    pub = read.themes(src, FUNDER, read.ALL)
    t = pub.table
    hidden = (t["cases_prev"] == "x") | (t["cases_recent"] == "x")
    assert hidden.any() and (~hidden).any()
    assert (t.loc[hidden, "trend"] == "x").all()
    assert (t.loc[~hidden, "trend"] != "x").all()


def test_open_cases_at_the_cut_off_are_published_for_its_year_only(workspace):
    """Open, due and overdue describe the data cut-off: a case open then and active in 2025 is
    active in 2026 too, so the years' counts nest, and beside each other they gave hidden
    ones within 1 (second review of 2026-12-07: pcve 2025, 5 in [4, 5]). The grid publishes
    them for the cut-off's year only; an earlier year's table has no such columns (not 0)."""
    cells = _grid(workspace, "process")
    at_cut_off = (cells[["open", "due", "overdue"]] == "ja").any(axis=1)
    assert at_cut_off.any()
    assert set(cells.loc[at_cut_off, "period"]) == {cells["period"].max()}
    src = Source.of(workspace)
    years = sorted(set(cells["period"]))
    assert len(years) >= 2
    table = {
        y: read.process_quality(src, FUNDER, Filters(y, y), group_by=("program",)).table
        for y in years[-2:]
    }
    cut_off = {"open_cases", "review_due", "close_overdue"}
    assert cut_off <= set(table[years[-1]].columns)
    assert not cut_off & set(table[years[-2]].columns)
    assert "cm_cases" in table[years[-2]].columns
