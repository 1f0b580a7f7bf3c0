"""Import thresholds (issue 13) on hand-made snapshot pairs: the later snapshot is held, the
figures stay; a release in a later run loads it, a reject never makes it current; thresholds
per table and per provider. Landing + ingest only (no Dagster)."""

from __future__ import annotations

import json

import pytest
import yaml

from data_contracts.schema import create_all
from kernel import decisions
from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.ingest import batch
from pipelines.ingest.landing import land

HEAD = (
    "provider_id,case_id,person_key,program,region_code,caseworker_id,opened_on,closed_on,"
    "intensity,close_reason\n"
)


def cases(pid, n, closed=0, first=1, person_key=True, bad=0):
    """n cases K<first>…; the first `closed` closed; the last `bad` with a broken date."""
    lines = []
    for i in range(first, first + n):
        end = "2025-06-01" if i < first + closed else ""
        opened = "kaputt" if i >= first + n - bad else "2025-01-01"
        lines.append(
            f"{pid},K{i},{'pk' + str(i) if person_key else ''},kim,05315,FK1,{opened},{end},"
            f"case_management,{'ziel_erreicht' if end else ''}\n"
        )
    return HEAD + "".join(lines)


class Loop:
    """A workspace with an inbox; `deliver` drops a snapshot, `run` lands and ingests."""

    def __init__(self, tmp_path, thresholds=None):
        self.inbox = tmp_path / "inbox"
        self.inbox.mkdir()
        self.ws = Workspace(tmp_path / "ws")
        for d in (self.ws.root, self.ws.landing_dir, self.ws.quarantine_dir):
            d.mkdir(parents=True)
        settings = {"import_thresholds": {"min_rows": 5, **(thresholds or {})}}
        (self.ws.root / "lagebild.yaml").write_text(yaml.safe_dump(settings))
        self.con = connect(self.ws.db_path)
        self.runs = 0
        create_all(self.con)

    def deliver(self, name, csv, pid="p1", exported_on="2026-06-30"):
        d = self.inbox / name
        d.mkdir()
        (d / "cases.csv").write_text(csv)
        (d / "manifest.json").write_text(
            json.dumps({"provider_id": pid, "exported_on": exported_on})
        )

    def run(self):
        land(self.con, self.ws, self.inbox)
        self.runs += 1
        self.progress = []
        results = batch.ingest_pending(
            self.con, self.ws, f"run{self.runs}", progress=self.progress.append
        )
        return {r.source_name: r.status for r in results}

    def status(self, name):
        return self.one("SELECT status FROM audit.deliveries WHERE source_name = ?", name)

    def staged(self, pid="p1"):
        return self.one("SELECT count(*) FROM staging.cases WHERE provider_id = ?", pid)

    def one(self, sql, *params):
        return self.con.execute(sql, list(params)).fetchone()[0]

    def holds(self, name):
        return self.con.execute(
            "SELECT table_name, rule, column_name, before_value, after_value, threshold, reason"
            " FROM audit.holds h JOIN audit.deliveries d USING (delivery_id)"
            " WHERE d.source_name = ? ORDER BY rule",
            [name],
        ).fetchall()

    def decide(self, name, action, reason="geprüft mit dem Träger"):
        did = self.one("SELECT delivery_id FROM audit.deliveries WHERE source_name = ?", name)
        decisions.decide_delivery(self.ws.root, did, action, reason, "koord", "koordination")


@pytest.fixture
def loop(tmp_path):
    lp = Loop(tmp_path)
    yield lp
    lp.con.close()


def test_first_delivery_is_never_held_even_beyond_a_threshold(loop):
    loop.deliver("erst", cases("p1", 20, bad=5))  # 25 % rejected
    assert loop.run() == {"erst": "partial"}
    assert loop.staged() == 15


def test_row_drop_is_held_figures_unchanged_then_released_in_a_later_run(loop):
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 10), exported_on="2026-09-30")
    assert loop.run() == {"q3": "held"}
    assert loop.staged() == 30 and loop.status("q2") == "accepted"
    (line,) = loop.progress  # the run's progress line does not claim the rows were loaded
    assert "zurückgehalten – 10 gültige Zeilen, bis zur Freigabe nicht in den Zahlen" in line
    ((table, rule, col, before, after, th, reason),) = loop.holds("q3")
    assert (table, rule, col, before, after, th) == ("cases", "row_change", None, 30, 10, 0.3)
    assert reason == "Fälle: Zeilen 30 → 10 (−66,7 %), Schwelle ±30,0 %"
    assert "zurückgehalten" in loop.one("SELECT message FROM audit.deliveries WHERE status='held'")
    assert loop.run() == {}  # nothing decided: it stays held
    loop.decide("q3", "release")
    assert loop.run() == {"q3": "accepted"}
    assert loop.staged() == 10 and loop.status("q2") == "superseded"
    assert loop.one("SELECT count(*) FROM audit.delivery_decisions WHERE action='release'") == 1
    assert len(loop.holds("q3")) == 1  # the reason stays on record
    assert loop.run() == {}  # a released delivery is not held again


def test_rejected_row_share_is_held(loop):
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 30, bad=3), exported_on="2026-09-30")
    assert loop.run() == {"q3": "held"}
    assert [r[1] for r in loop.holds("q3")] == ["rejected_share"]
    assert loop.staged() == 30


def test_closed_cases_missing_from_a_full_snapshot_are_held(loop):
    loop.deliver("q2", cases("p1", 30, closed=20))
    loop.run()
    # same number of rows, but K1–K4 (closed) are gone and K31–K34 (open) are new
    loop.deliver("q3", cases("p1", 30, closed=16, first=5), exported_on="2026-09-30")
    assert loop.run() == {"q3": "held"}
    ((_, rule, _, before, after, _, reason),) = loop.holds("q3")
    assert (rule, before, after) == ("closed_lost", 20, 16)
    assert "4 von 20 abgeschlossenen Fällen fehlen" in reason


def test_drop_in_filled_optional_field_is_held(loop):
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 30, person_key=False), exported_on="2026-09-30")
    assert loop.run() == {"q3": "held"}
    ((_, rule, col, before, after, _, _),) = loop.holds("q3")
    assert (rule, col, before, after) == ("fill_drop", "person_key", 1.0, 0.0)


def test_older_snapshot_is_held_and_a_release_makes_it_current(loop):
    loop.deliver("neu", cases("p1", 30))
    loop.run()
    loop.deliver("alt", cases("p1", 29), exported_on="2026-03-31")
    assert loop.run() == {"alt": "held"}
    assert [r[1] for r in loop.holds("alt")] == ["snapshot_older"]
    loop.decide("alt", "release", "Exportdatum im Manifest war falsch")
    assert loop.run() == {"alt": "accepted"}
    assert loop.staged() == 29 and loop.status("neu") == "superseded"


def test_a_rejected_delivery_never_becomes_current(loop):
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 10), exported_on="2026-09-30")
    loop.run()
    loop.decide("q3", "reject")
    assert loop.run() == {}
    assert loop.status("q3") == "rejected" and loop.staged() == 30
    loop.decide("q3", "release")  # too late: only a held delivery can be decided
    loop.run()
    assert loop.status("q3") == "rejected" and loop.staged() == 30
    # the next delivery is compared with the snapshot that stayed current
    loop.deliver("q4", cases("p1", 31), exported_on="2026-12-01")
    assert loop.run() == {"q4": "accepted"}
    assert loop.staged() == 31


def test_thresholds_per_table_and_per_provider(tmp_path):
    lp = Loop(
        tmp_path,
        {"tables": {"cases": {"row_change": 0.5}}, "providers": {"p2": {"row_change": 0.9}}},
    )
    try:
        for pid in ("p1", "p2", "p3"):
            lp.deliver(f"{pid}_q2", cases(pid, 30), pid=pid)
        lp.run()
        lp.deliver("p1_q3", cases("p1", 12), pid="p1", exported_on="2026-09-30")  # −60 %
        lp.deliver("p2_q3", cases("p2", 12), pid="p2", exported_on="2026-09-30")
        lp.deliver("p3_q3", cases("p3", 20), pid="p3", exported_on="2026-09-30")  # −33 %
        assert lp.run() == {"p1_q3": "held", "p2_q3": "accepted", "p3_q3": "accepted"}
        assert lp.holds("p1_q3")[0][5] == 0.5
    finally:
        lp.con.close()


def test_decisions_are_append_only_and_checked(tmp_path):
    with pytest.raises(decisions.DecisionError):
        decisions.decide_delivery(tmp_path, "d1", "release", "", "k", "koordination")
    with pytest.raises(decisions.DecisionError):
        decisions.decide_delivery(tmp_path, "d1", "release", "ok", "t", "traeger")
    decisions.decide_delivery(tmp_path, "d1", "release", "ok", "k", "koordination")
    decisions.decide_delivery(tmp_path, "d1", "reject", "doch nicht", "k", "koordination")
    assert [e["action"] for e in decisions.read(tmp_path, "delivery")] == ["release", "reject"]


def test_command_line_lists_releases_and_rejects_held_deliveries(loop, capsys):
    import shutil

    from kernel import access_log
    from pipelines.cli import main

    loop.deliver("q2", cases("p1", 30))
    loop.deliver("x2", cases("p2", 30), pid="p2")
    loop.run()
    loop.deliver("q3", cases("p1", 10), exported_on="2026-09-30")
    loop.deliver("x3", cases("p2", 10), pid="p2", exported_on="2026-09-30")
    loop.run()
    loop.con.close()  # publish: the command line reads the published copy
    loop.ws.published_dir.mkdir()
    shutil.copyfile(loop.ws.db_path, loop.ws.published_db_path)
    ws = str(loop.ws.root)
    assert main(["deliveries", "list", "--workspace", ws, "--status", "held"]) == 0
    out = capsys.readouterr().out
    assert "q3" in out and "x3" in out and "q2" not in out
    assert "Fälle: Zeilen 30 → 10" in out and "Entscheidung: offen" in out
    loop.con = connect(loop.ws.db_path)
    q3, x3 = (
        loop.one("SELECT delivery_id FROM audit.deliveries WHERE source_name = ?", n)
        for n in ("q3", "x3")
    )
    assert (
        main(["deliveries", "release", q3, "--reason", "Altfälle anonymisiert", "--workspace", ws])
        == 0
    )
    assert "im nächsten Lauf" in capsys.readouterr().out
    assert main(["deliveries", "reject", x3, "--reason", "falscher Export", "--workspace", ws]) == 0
    assert main(["deliveries", "release", "q2", "--reason", "x", "--workspace", ws]) == 2
    assert "nicht zurückgehalten" in capsys.readouterr().err
    assert main(["deliveries", "list", "--workspace", ws]) == 0
    assert "Freigabe vorgemerkt" in capsys.readouterr().out
    assert [e["event"] for e in access_log.read(ws)] == ["decision", "decision"]
    assert loop.run() == {"q3": "accepted"}
    assert loop.status("x3") == "rejected" and loop.staged("p2") == 30 and loop.staged() == 10


def test_verify_replay_knowing_the_release_loads_the_delivery_in_its_round(loop):
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 10), exported_on="2026-09-30")
    land(loop.con, loop.ws, loop.inbox)
    did = loop.one("SELECT delivery_id FROM audit.landing WHERE source_name = 'q3'")
    decisions.decide_delivery(loop.ws.root, did, "release", "geprüft", "k", "koordination")
    assert loop.run() == {"q3": "accepted"}


def test_a_release_known_before_the_round_holds_when_deliveries_are_read_side_by_side(loop):
    """The same replay with a second provider in the round: the deliveries are then read on
    the readers' own connections (pipelines.ingest.batch), which must know the decision log."""
    loop.deliver("q2", cases("p1", 30))
    loop.run()
    loop.deliver("q3", cases("p1", 10), exported_on="2026-09-30")
    loop.deliver("r3", cases("p2", 10), pid="p2", exported_on="2026-09-30")
    land(loop.con, loop.ws, loop.inbox)
    did = loop.one("SELECT delivery_id FROM audit.landing WHERE source_name = 'q3'")
    decisions.decide_delivery(loop.ws.root, did, "release", "geprüft", "k", "koordination")
    assert loop.run() == {"q3": "accepted", "r3": "accepted"}
    assert loop.staged() == 10
