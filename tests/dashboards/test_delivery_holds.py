"""The Datenlieferungen view's held deliveries (issue 13): koordination sees all and decides
(logged, effective next run), a provider sees its own and cannot decide."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest

from kernel import access_log, decisions
from kernel.warehouse import connect
from kernel.workspace import Workspace
from tests.dashboards.apptest import logged_in, open_view, texts

HELD = {"p04": "h000000000000004", "p01": "h000000000000001"}


@pytest.fixture
def held_ws(workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    con = connect(Workspace(root).published_db_path)
    for pid, did in HELD.items():
        con.execute(
            "INSERT INTO audit.deliveries VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'folder+csv',"
            " ['cases'], [], 'held', 30, 30, 0, 'zurückgehalten', 'run2')",
            [did, pid, f"{pid}_q4", "e" * 64, datetime(2026, 11, 2), datetime(2026, 11, 2),
             date(2026, 11, 1)],
        )  # fmt: skip
        con.execute(
            "INSERT INTO audit.holds VALUES (?, ?, 'cases', 'row_change', NULL, 30, 10, 0.3,"
            " 'Fälle: Zeilen 30 → 10 (−66,7 %), Schwelle ±30,0 %')",
            [did, pid],
        )
    con.close()
    return root


def test_koordination_releases_a_held_delivery_in_the_view(held_ws, monkeypatch):
    at, _ = open_view(logged_in(held_ws, monkeypatch, "koordination"), "lieferungen")
    assert not at.exception, at.exception
    assert "Zurückgehaltene Lieferungen" in texts(at)
    trust = next(df.value for df in at.dataframe if "Status der Zahlen" in df.value.columns)
    status = dict(zip(trust["Träger"], trust["Status der Zahlen"], strict=True))
    assert status["p04"].startswith("Lieferung zurückgehalten")
    at.selectbox[0].select(HELD["p04"])
    at.text_area[0].input("Altfälle wurden anonymisiert")
    at.button(key="decision_submit").click().run()
    assert not at.exception, at.exception
    assert "im nächsten Lauf" in texts(at)
    (entry,) = decisions.read(held_ws, "delivery")
    assert (entry["delivery_id"], entry["action"]) == (HELD["p04"], "release")
    assert [e["event"] for e in access_log.read(held_ws) if e["event"] == "decision"] == [
        "decision"
    ]


def test_a_provider_sees_only_its_own_held_delivery_and_no_decision_form(held_ws, monkeypatch):
    at, _ = open_view(logged_in(held_ws, monkeypatch, "traeger", "p04"), "lieferungen")
    assert not at.exception, at.exception
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert HELD["p04"] in shown and HELD["p01"] not in shown
    assert "decision_submit" not in [b.key for b in at.button]  # no delivery decision
    # its own data-quality flags only, and it can explain one
    flags = next(df.value for df in at.dataframe if "Prüfstatus" in df.value.columns)
    assert set(flags["Träger"]) == {"p04"}
    at.radio[0].set_value("erklaert")
    at.text_area[0].input("Pseudonym wird erst seit 2026 erhoben")
    at.button(key="flag_submit").click().run()
    assert not at.exception, at.exception
    (entry,) = decisions.read(held_ws, "flag")
    assert (entry["provider_id"], entry["state"], entry["user"]) == (
        "p04",
        "erklaert",
        "test-traeger",
    )
    assert entry["badness"] is not None
    at.run()
    flags = next(df.value for df in at.dataframe if "Prüfstatus" in df.value.columns)
    assert "erklärt" in set(flags["Prüfstatus"])


def test_the_steering_group_report_lists_held_deliveries_in_its_data_basis(held_ws):
    from dashboards.read import Source
    from dashboards.reports import build_report
    from dashboards.reports.render import render_html

    src = Source.of(held_ws)
    report = build_report(src, "lenkungsgruppe", "2026-Q3", src.viewer("koordination"))
    assert set(report.basis.held["delivery_id"]) == set(HELD.values())
    dl = report.basis.delivery_list
    trust = dict(zip(dl["provider_id"], dl["trust"], strict=True))
    assert trust["p04"].startswith("Lieferung zurückgehalten") and trust["p02"] in (
        "aktuell",
        "veraltet",
    )
    html = render_html(report)
    assert "Zurückgehaltene Lieferungen" in html and "Status der Zahlen" in html


def test_each_provider_row_of_a_report_carries_its_delivery_status(held_ws):
    """Issue 13: a provider row says when its figures rest on a held-back or stale delivery;
    totals carry no status, and the status is no published cell of a release."""
    from dashboards.read import Source
    from dashboards.reports import build_report
    from dashboards.reports.release import report_cells

    src = Source.of(held_ws)
    report = build_report(src, "lenkungsgruppe", "2026-Q3", src.viewer("koordination"))
    by_provider = [t.pub.table for t in report.tables() if "provider_id" in t.pub.table.columns]
    assert by_provider
    for table in by_provider:
        columns = list(table.columns)
        assert columns[columns.index("provider_id") + 1] == "trust"
        status = dict(zip(table["provider_id"], table["trust"], strict=True))
        assert status["p04"].startswith("Lieferung zurückgehalten")
        assert status["p02"] in ("aktuell", "veraltet")
        totals = [p for p in status if p not in {"p01", "p02", "p03", "p04", "p05", "p06"}]
        assert all(status[p] == "" for p in totals)
    assert "Status der Zahlen" not in set(report_cells(report)["column"])


def test_a_network_median_over_few_providers_is_not_shown(workspace):
    """With fewer than four providers behind a rule, its network median would pin the
    others' values (two providers: 2 × median − own): it is withheld, also in the flags."""
    from dashboards import read
    from dashboards.read.quality import MEDIAN_MIN_PROVIDERS

    src = read.Source.of(workspace)
    with src.read() as con:
        n = dict(
            con.execute("SELECT rule, count(value) FROM mart.scorecard GROUP BY rule").fetchall()
        )
    assert n["gap_rate"] < MEDIAN_MIN_PROVIDERS <= n["caseload_per_fte"]
    for viewer in (src.viewer("traeger", "p02"), src.viewer("koordination")):
        card = read.scorecard(src, viewer, read.ALL).set_index("rule")
        assert card.loc[["gap_rate"], "network_median"].isna().all()
        assert card.loc[["caseload_per_fte"], "network_median"].notna().all()
    flags = read.flags(src, src.viewer("koordination"), read.ALL)
    assert flags.loc[flags["rule"] == "gap_rate", "network_median"].isna().all()
