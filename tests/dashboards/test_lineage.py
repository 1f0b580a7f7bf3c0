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
