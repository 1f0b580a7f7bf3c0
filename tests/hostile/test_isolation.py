"""No delivery can stop the run: an error while one is read is that delivery's quarantine
("nicht lesbar"), and a delivery whose processing a crash interrupted is opened again only in
a separate process first — if that dies as well, it is quarantined unopened."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest import attempt, batch, load
from pipelines.ingest.limits import Limits
from tests.hostile.corpus import EMAIL, cases_csv, folder, landed_workspace


@pytest.fixture
def setup(tmp_path):
    inbox = tmp_path / "inbox"
    folder(inbox, "a_gut", {"cases.csv": cases_csv("pa")})
    folder(inbox, "b_boese", {"cases.csv": cases_csv("pb").replace("a3f09c1e77b2", EMAIL, 1)})
    folder(inbox, "c_gut", {"cases.csv": cases_csv("pc")})
    con, ws = landed_workspace(tmp_path / "ws", inbox)
    yield con, ws
    con.close()


def statuses(con) -> dict[str, tuple[str, str]]:
    return {
        r[0]: (r[1], r[2])
        for r in con.execute("SELECT source_name, status, message FROM audit.deliveries").fetchall()
    }


def test_an_error_while_reading_one_delivery_quarantines_it_and_the_run_goes_on(setup, monkeypatch):
    con, ws = setup
    real = load.parse_delivery

    def explode(con_, path, *a, **k):
        if path.name == "b_boese":
            raise ZeroDivisionError(EMAIL)  # an error text quoting a value
        return real(con_, path, *a, **k)

    monkeypatch.setattr(load, "parse_delivery", explode)
    batch.ingest_pending(con, ws)
    got = statuses(con)
    assert got["a_gut"][0] == got["c_gut"][0] == "accepted"
    assert got["b_boese"] == (
        "quarantined",
        "Quarantäne: nicht lesbar: unerwarteter Fehler beim Lesen oder Prüfen (ZeroDivisionError)",
    )
    assert EMAIL not in str(con.execute("SELECT * FROM audit.rejections").fetchall())
    assert not any((ws.landing_dir).glob("*/b_boese"))


def test_an_interrupted_delivery_is_probed_in_another_process_first(setup, monkeypatch):
    con, ws = setup
    con.execute("UPDATE audit.landing SET attempts = 1 WHERE source_name = 'a_gut'")
    con.execute("UPDATE audit.landing SET attempts = 1 WHERE source_name = 'c_gut'")
    seen = []

    def probe(path: Path, limits: Limits) -> bool:
        seen.append(path.name)
        return path.name != "c_gut"  # c_gut kills the reader again

    monkeypatch.setattr(attempt, "probe_survives", probe)
    batch.ingest_pending(con, ws)
    got = statuses(con)
    assert sorted(seen) == ["a_gut", "c_gut"]
    assert got["a_gut"][0] == "accepted"
    assert got["c_gut"][0] == "quarantined" and "brach den Prozess ab" in got["c_gut"][1]
    # interrupted deliveries come last, so they cannot hold up the others
    order = [
        r[0]
        for r in con.execute("SELECT source_name FROM audit.deliveries ORDER BY rowid").fetchall()
    ]
    assert order[0] == "b_boese"


def test_twice_interrupted_is_quarantined_without_opening(setup, monkeypatch):
    con, ws = setup
    con.execute("UPDATE audit.landing SET attempts = 2 WHERE source_name = 'a_gut'")
    monkeypatch.setattr(attempt, "probe_survives", lambda *a: pytest.fail("not probed"))
    monkeypatch.setattr(attempt, "inspect_delivery", _only_for({"b_boese", "c_gut"}))
    batch.ingest_pending(con, ws)
    status, message = statuses(con)["a_gut"]
    assert status == "quarantined" and "mehrfach abgebrochen" in message


def _only_for(names):
    real = attempt.inspect_delivery

    def inspect(con, path, *a, **k):
        assert path.name in names, path.name
        return real(con, path, *a, **k)

    return inspect


def test_the_probe_really_runs_a_delivery_in_another_process(setup):
    _, ws = setup
    landed = next(ws.landing_dir.glob("*/a_gut"))
    assert attempt.probe_survives(landed, Limits())


def test_an_interrupt_by_the_user_does_not_count_as_a_crash(setup, monkeypatch):
    con, ws = setup

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(attempt, "inspect_delivery", interrupted)
    with pytest.raises(KeyboardInterrupt):
        batch.ingest_pending(con, ws)
    assert con.execute("SELECT max(attempts) FROM audit.landing").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM audit.deliveries").fetchone()[0] == 0


def _ctrl_c_in_duckdb(*a, **k):
    # what DuckDB raises when Ctrl-C arrives during a query (it swallows the KeyboardInterrupt)
    raise RuntimeError("Query interrupted")


@pytest.mark.parametrize(
    "where", ["parse_delivery", "record_inspection"], ids=["while reading", "while recording"]
)
def test_ctrl_c_during_a_duckdb_query_stops_the_run_and_quarantines_nothing(
    setup, monkeypatch, where
):
    con, ws = setup
    module = load if where == "parse_delivery" else attempt
    monkeypatch.setattr(module, where, _ctrl_c_in_duckdb)
    with pytest.raises(KeyboardInterrupt):
        batch.ingest_pending(con, ws)
    assert con.execute("SELECT count(*) FROM audit.deliveries").fetchone()[0] == 0
    assert not any(ws.quarantine_dir.glob("*/*"))


def test_a_step_failure_names_the_asset_and_cause_in_german(tmp_path, monkeypatch, capsys):
    """Not DagsterExecutionStepExecutionError: the asset, the cause, the log file."""
    from pipelines import defs
    from pipelines.cli import main
    from pipelines.defs import ingest as ingest_defs

    monkeypatch.setattr(defs, "STAGE_MODULES", ["pipelines.defs.ingest"])

    def boom(*a, **k):
        raise RuntimeError("Festplatte voll")

    monkeypatch.setattr(ingest_defs, "ingest_pending", boom)
    folder(tmp_path / "inbox", "p1", {"cases.csv": cases_csv("p1")})
    code = main(["run", "--inbox", str(tmp_path / "inbox"), "--workspace", str(tmp_path / "ws")])
    out, err = capsys.readouterr()
    assert code == 1
    assert (
        "Schritt „Lesen und Prüfen der Lieferungen (staging)“ (staging) fehlgeschlagen:"
        " unerwarteter Fehler (RuntimeError)"
    ) in err
    assert "DagsterExecutionStepExecutionError" not in out + err and "Traceback" not in out + err
    log = next((tmp_path / "ws" / "logs").glob("lauf-*.log"))
    assert "Festplatte voll" in log.read_text() and str(log) in err
