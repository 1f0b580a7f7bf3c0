"""„Wie entsteht diese Zahl?“ (issue 14): a drilled supply-gap cell recounts to the published
cell from its goals, each with the delivery it came from; a provider sees only its own goals,
a funder no drill-down at all, and every drill-down is on record."""

from __future__ import annotations

import pytest

from dashboards import read
from dashboards.catalog import code_label, label
from kernel import access_log
from tests.dashboards.apptest import logged_in


def _filters(src):
    return read.default_filters(read.filter_options(src, src.viewer("koordination")))


def _drill(workspace, monkeypatch, role, provider=None):
    at = logged_in(workspace, monkeypatch, role, provider)
    at.run()
    at.switch_page("views/versorgungsluecken.py")
    at.run()
    assert not at.exception, at.exception
    at.toggle(key="lineage_gaps").set_value(True).run()
    assert not at.exception, at.exception
    return at


def _published_row(at, domain_label: str) -> dict:
    by_domain = next(
        d.value
        for d in at.dataframe
        if label("cases_with_gap") in d.value.columns
        and label("domain") in d.value.columns
        and "Träger" not in d.value.columns
    )
    row = by_domain[by_domain[label("domain")] == domain_label].iloc[0]
    return {k: int(row[label(k)]) for k in ("goals_set", "goals_without_offer", "cases_with_gap")}


@pytest.mark.parametrize(("role", "provider"), [("koordination", None), ("traeger", "p02")])
def test_a_drilled_cell_recounts_to_the_published_cell(workspace, monkeypatch, role, provider):
    at = _drill(workspace, monkeypatch, role, provider)
    domains = at.selectbox(key="lineage_domain").options
    assert len(domains) >= 2
    for domain in domains[:2]:
        at.selectbox(key="lineage_domain").set_value(domain).run()
        metrics = {m.label: int(m.value) for m in at.metric}
        expected = _published_row(at, domain)
        assert {k: metrics[label(k)] for k in expected} == expected
        goals = next(d.value for d in at.dataframe if "Fall (Pseudonym)" in d.value.columns)
        assert len(goals) == expected["goals_set"]
        assert goals["Lieferung"].str.len().gt(0).all()  # every row names its delivery
        if provider:
            assert set(goals["Träger"]) == {provider}
    entries = access_log.read(workspace)
    assert any(
        e["event"] == "drilldown" and e["role"] == role and "Versorgungslücken" in e["object"]
        for e in entries
    )


def test_a_funder_has_no_drill_down(workspace, monkeypatch):
    at = logged_in(workspace, monkeypatch, "foerderer")
    at.run()
    at.switch_page("views/versorgungsluecken.py")
    at.run()
    assert "Wie entsteht diese Zahl?" not in str(at.expander)
    src = read.Source.of(workspace)
    with pytest.raises(read.AccessDenied):
        read.gap_lineage(src, src.viewer("foerderer"), _filters(src))


def test_lineage_rows_are_the_rows_the_figure_counts(workspace):
    """Cross-check at the read side, every domain: recounted = supply_gaps over the same span."""
    src = read.Source.of(workspace)
    viewer = src.viewer("koordination")
    f = _filters(src)
    goals = read.gap_lineage(src, viewer, f)
    table = read.gaps(src, viewer, f, group_by=("domain",)).table
    for domain, rows in goals.groupby("domain"):
        published = table[table["domain"] == code_label("domain", domain)]
        if published.empty:
            published = table[table["domain"] == domain]
        expected = published.iloc[0][["goals_set", "goals_without_offer", "cases_with_gap"]]
        assert read.gap_counts(rows) == {k: int(v) for k, v in expected.items()}


def test_the_case_table_is_the_lineage_of_cases_in_period(workspace):
    """Überblick's case table lists exactly the cases 'Fälle im Zeitraum' counts, each with
    the delivery it came from (also for a provider's own scope)."""
    from transforms.caseload import rollup

    src = read.Source.of(workspace)
    f = _filters(src)
    for viewer, scope in (
        (src.viewer("koordination"), {}),
        (src.viewer("traeger", "p02"), {"provider_id": ["p02"]}),
    ):
        cases = read.cases(src, viewer, f)
        with src.read() as con:
            counted = rollup(con, f.period_from, f.period_to, group_by=[], filters=scope)
        assert len(cases) == int(counted["cases_in_period"].iloc[0]) > 0
        assert cases["delivery"].notna().all()
    # evaluators see which delivery, never its file name (read/deliveries.py)
    cases = read.cases(src, src.viewer("evaluation"), f)
    with src.read() as con:
        ids = {r[0] for r in con.execute("SELECT delivery_id FROM audit.deliveries").fetchall()}
    assert set(cases["delivery"]) <= ids


@pytest.mark.parametrize(("role", "provider"), [("evaluation", None), ("traeger", "p02")])
def test_every_process_count_recounts_from_the_case_table(workspace, role, provider):
    """The case table is the lineage of the process-quality figures too: each count's own
    condition over its rows gives the count of the total row."""
    from dashboards.read.process import PROCESS_COUNTS

    src = read.Source.of(workspace)
    viewer, f = src.viewer(role, provider), _filters(src)
    cases = read.cases(src, viewer, f)
    total = read.process_quality(src, viewer, f).table.iloc[-1]
    assert total.iloc[0] == "Gesamt"
    for count in PROCESS_COUNTS:
        assert len(read.process_cases(cases, count)) == int(total[count]), count
    assert int(total["cm_cases"]) > 0


def test_a_process_count_is_drilled_in_the_view(workspace, monkeypatch):
    at = logged_in(workspace, monkeypatch, "koordination")
    at.run()
    at.switch_page("views/prozessqualitaet.py")
    at.run()
    at.toggle(key="lineage_process").set_value(True).run()
    at.selectbox(key="lineage_process_count").set_value("with_assessment").run()
    assert not at.exception, at.exception
    src = read.Source.of(workspace)
    total = read.process_quality(src, src.viewer("koordination"), _filters(src)).table.iloc[-1]
    assert int(at.metric[-1].value) == int(total["with_assessment"])


# ---------------------------------------------------------------------------------------------
# the other figure families: waits, closures, caseload per FTE, re-entry and relapse, themes


def _viewers(src):
    return (
        (src.viewer("koordination"), ()),
        (src.viewer("evaluation"), ()),
        (src.viewer("traeger", "p02"), ("p02",)),
    )


def _unsuppressed(src, providers) -> read.Filters:
    """The same selection as koordination sees it: a provider's own figures, not suppressed."""
    return read.Filters(**{**vars(_filters(src)), "providers": providers})


def test_wait_figures_recount_from_their_referrals(workspace):
    src = read.Source.of(workspace)
    for viewer, providers in _viewers(src):
        f = _filters(src)
        rows = read.referral_lineage(src, viewer, f)
        assert rows["delivery"].notna().all() and len(rows) > 0
        if providers:
            assert set(rows["provider_id"]) == set(providers)
        table = read.waits(src, src.viewer("koordination"), _unsuppressed(src, providers)).table
        assert len(table) == rows["service_type"].nunique()
        for service, chosen in rows.groupby("service_type"):
            published = table[table["service_type"] == code_label("service_type", service)]
            expected = published.iloc[0].to_dict()
            for name, value in read.lineage.wait_counts(chosen).items():
                want = expected[name]
                if value is None:
                    assert want != want, (service, name)  # NaN: no wait started
                else:
                    assert value == pytest.approx(want), (service, name)


def test_closure_figures_recount_from_their_cases(workspace):
    src = read.Source.of(workspace)
    for viewer, providers in _viewers(src):
        rows = read.closure_lineage(src, viewer, _filters(src))
        koord = src.viewer("koordination")
        table = read.structural_closures(src, koord, _unsuppressed(src, providers)).table
        assert sorted(rows["quarter"].unique()) == sorted(table["period"])
        for quarter, chosen in rows.groupby("quarter"):
            row = table[table["period"] == quarter].iloc[0]
            assert read.lineage.closure_counts(chosen) == {
                "closures": int(row["closures"]),
                "structural_closures": int(row["structural_closures"]),
            }
        assert (rows["structural"] == (rows["close_reason"] == "strukturelle_hindernisse")).all()


@pytest.mark.parametrize("scope", ["alle", "case_management"])
def test_caseload_per_fte_recounts_from_case_days_and_fte_days(workspace, scope):
    """Each provider's caseload cell = its cases' days in the span / its caseworkers' FTE
    days (hand check on the rows: the ratio of the two sums)."""
    src = read.Source.of(workspace)
    for viewer, providers in _viewers(src):
        rows = read.caseload_lineage(src, viewer, _filters(src), scope=scope)
        cases, staffing = rows["cases"], rows["staffing"]
        table = read.caseload(
            src, src.viewer("koordination"), _unsuppressed(src, providers), scope=scope
        ).table
        for provider, published in table.groupby("provider_id"):
            got = read.lineage.caseload_counts(
                cases[cases["provider_id"] == provider],
                staffing[staffing["provider_id"] == provider],
            )
            row = published.iloc[0]
            assert got["cases_in_period"] == int(row["cases_in_period"]) > 0
            assert got["active_cases_end"] == int(row["active_cases_end"])
            assert got["case_days"] == pytest.approx(float(row["case_days"]))
            assert got["fte_days"] == pytest.approx(float(row["fte_days"]))
            assert got["avg_caseload"] == pytest.approx(float(row["avg_caseload"]), nan_ok=True)
        assert cases["delivery"].notna().all() and staffing["delivery"].notna().all()
        if providers:
            assert set(cases["provider_id"]) | set(staffing["provider_id"]) == set(providers)


def test_reentry_counts_recount_from_the_closed_cases(workspace):
    src = read.Source.of(workspace)
    koord = src.viewer("koordination")
    rows = read.reentry_lineage(src, koord, _filters(src))
    table = read.reentry(src, koord, _filters(src)).table
    assert len(table) == 6
    for rec in table.itertuples(index=False):
        got = read.lineage.reentry_counts(rows, rec.event, rec.window_days)
        assert got == {k: int(getattr(rec, k)) for k in got}, (rec.event, rec.window_days)
    assert table["events_observed"].sum() > 0


def test_a_provider_drills_re_entries_on_its_own_records_only(workspace):
    """A provider's rows are its closed cases with the events of its own records: the closed
    cases and those followed up long enough recount to its own figures; events that another
    provider recorded for the same person (network columns) never appear."""
    src = read.Source.of(workspace)
    viewer = src.viewer("traeger", "p02")
    rows = read.reentry_lineage(src, viewer, _filters(src))
    assert set(rows["provider_id"]) == {"p02"}
    assert "reentry_via" not in rows.columns
    own = read.reentry(src, src.viewer("koordination"), _unsuppressed(src, ("p02",))).table
    for rec in own.itertuples(index=False):
        got = read.lineage.reentry_counts(rows, rec.event, rec.window_days, events=False)
        assert got == {"closed_cases": rec.closed_cases, "eligible": rec.eligible}
    network = read.reentry_cases(src, src.viewer("koordination"), _unsuppressed(src, ("p02",)))
    network_events = network.set_index("case_id")["reentry_days"].notna()
    own_events = rows.set_index("case_id")["reentry_days"].notna()
    assert (own_events <= network_events.reindex(own_events.index)).all()


def test_theme_counts_recount_from_their_cases(workspace):
    src = read.Source.of(workspace)
    koord = src.viewer("koordination")
    themes = read.themes(src, koord, _filters(src)).table
    provider = read.themes(src, src.viewer("traeger", "p02"), _filters(src)).table
    assert len(themes) > 0
    for rec in themes.itertuples(index=False):
        rows = read.theme_lineage(src, koord, _filters(src), theme_id=rec.theme_id)
        got = read.lineage.theme_counts(rows)
        assert got == {k: int(getattr(rec, k)) for k in got}, rec.theme_id
        mine = read.theme_lineage(
            src, src.viewer("traeger", "p02"), _filters(src), theme_id=rec.theme_id
        )
        assert set(mine["provider_id"]) <= {"p02"}
        own_cases = provider.loc[provider["theme_id"] == rec.theme_id, "own_cases"].iloc[0]
        assert len(mine) == int(own_cases)


@pytest.mark.parametrize(
    "func", ["referral_lineage", "closure_lineage", "caseload_lineage", "reentry_lineage"]
)
def test_no_drill_down_for_a_funder(workspace, func):
    src = read.Source.of(workspace)
    with pytest.raises(read.AccessDenied):
        getattr(read, func)(src, src.viewer("foerderer"), _filters(src))
    with pytest.raises(read.AccessDenied):
        read.theme_lineage(src, src.viewer("foerderer"), _filters(src), theme_id="x")


DRILLS = [  # page, the panel's toggle, what the access log records
    ("views/versorgungsluecken.py", "lineage_waits", "Herkunft Wartezeiten"),
    ("views/versorgungsluecken.py", "lineage_closures", "Herkunft strukturelle Abschlüsse"),
    ("views/fallzahlen.py", "lineage_caseload", "Herkunft Fälle je VZÄ"),
    ("views/wiederaufnahme.py", "lineage_reentry", "Herkunft Wiederaufnahme"),
    ("views/themen.py", "lineage_theme", "Herkunft Thema"),
]


@pytest.mark.parametrize(("page", "toggle", "logged"), DRILLS)
@pytest.mark.parametrize(("role", "provider"), [("evaluation", None), ("traeger", "p02")])
def test_every_figure_family_is_drilled_in_its_view(
    workspace, monkeypatch, page, toggle, logged, role, provider
):
    """In the browser app: the panel loads on demand, recounts (metrics), lists the rows with
    their delivery, and the drill-down is on record; a provider's rows are its own."""
    at = logged_in(workspace, monkeypatch, role, provider)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    before = len(at.metric)
    at.toggle(key=toggle).set_value(True).run()
    assert not at.exception, at.exception
    assert len(at.metric) > before
    listed = [d.value for d in at.dataframe if "Lieferung" in d.value.columns]
    assert listed and all(len(d) > 0 for d in listed)
    for d in listed:
        assert d["Lieferung"].astype(str).str.len().gt(0).all()
        if provider:
            assert set(d["Träger"]) == {provider}
    assert any(
        e["event"] == "drilldown" and e["role"] == role and e["object"].startswith(logged)
        for e in access_log.read(workspace)
    )
