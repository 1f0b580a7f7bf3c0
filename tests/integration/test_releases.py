"""Releases (issue 14): a release is immutable, is rebuilt identically from the deliveries its
manifest names even after later deliveries, a new release shows what changed, and a changed
file in the release folder is reported as tampering."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dashboards import read
from dashboards.catalog import label
from dashboards.reports.release import (
    compare_releases,
    lineage_snapshot,
    list_releases,
    released_cells,
    tampered_files,
)
from generator import generate_inbox
from kernel import publications
from kernel.settings import load_settings
from pipelines import runner
from pipelines.cli import main
from pipelines.runner import run_pipeline

PERIOD = "2026-Q3"
CORRECTED, NEW = "kim-koeln", "pcve-nrw-west"


def _run(ws: Path, inbox: Path) -> str:
    """A run without the reports step (a release renders its own report); how its case marts
    were built: "alle Träger", or for how many changed providers."""
    selection = dg.AssetSelection.all() - dg.AssetSelection.assets("reports")
    outcome = run_pipeline(load_settings(ws, inbox), selection=selection)
    assert outcome.success, outcome.failures
    with dg.DagsterInstance.from_config(str(ws / ".dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["mart", "cases"]))
    assert event.run_id == outcome.run_id
    return event.asset_materialization.metadata["rebuilt_for"].value


def _release(ws: Path, capsys) -> str:
    assert main(["release", "--workspace", str(ws), "--kind", "foerderer", "--period", PERIOD]) == 0
    out = capsys.readouterr().out
    assert "Prüfen mit: lagebild verify" in out
    return list_releases(ws)["release_id"].iloc[0]  # newest first


def _release_cells_trace_to_their_cases(ws: Path, release_id: str) -> None:
    """The drill-down of a release reads its rebuilt snapshot: the release's "Fälle im
    Zeitraum" cells (network and per provider) recount from the cases of the deliveries the
    release rests on, each case naming its delivery — later deliveries do not enter."""
    src = read.Source.of(lineage_snapshot(ws, release_id))
    cases = read.cases(src, src.viewer("koordination"), read.Filters(PERIOD, PERIOD))
    assert set(cases["delivery"]) == {
        f"{p}_20261015" for p in ("kim-koeln", "jmd-dortmund", "mbe-bielefeld")
    }
    cells = released_cells(ws, release_id)
    shown = cells[(cells["column"] == label("cases_in_period")) & (cells["suppression"] == "")]
    expected = {f"{label('period')}={PERIOD}": len(cases)} | {
        f"{label('provider_id')}={p}": n for p, n in cases.groupby("provider_id").size().items()
    }
    for row, n in expected.items():
        cell = shown[shown["row"] == row]
        assert len(cell) and {int(v.replace(".", "")) for v in cell["value"]} == {n}, row
    goals = read.gap_lineage(src, src.viewer("koordination"), read.Filters(PERIOD, PERIOD))
    assert len(goals) and set(goals["delivery"]) <= set(cases["delivery"])


@pytest.mark.slow
def test_a_release_survives_later_deliveries_and_tampering_is_found(tmp_path, capsys, monkeypatch):
    ws, inbox, later = tmp_path / "ws", tmp_path / "inbox", tmp_path / "later"
    generate_inbox(inbox, cases=600, providers=3, seed=5, plain=True)
    _run(ws, inbox)
    first = _release(ws, capsys)
    folder = ws / "releases" / first
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "foerderer" and manifest["period"] == PERIOD
    assert len(manifest["deliveries"]) == 3
    assert {f.name for f in folder.iterdir()} >= {"manifest.json", "zellen.csv"}
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    # a month later: a corrected snapshot of one provider and a new provider
    generate_inbox(
        later, cases=700, providers=4, seed=5, plain=True, exported_on=date(2026, 11, 16)
    )
    for name in (CORRECTED, NEW):
        shutil.copytree(later / f"{name}_20261116", inbox / f"{name}_20261116")
    _run(ws, inbox)
    # the corrected snapshot changes more than the import thresholds allow (issue 13): it is
    # held until koordination releases it, and loads in the next run
    con = duckdb.connect(str(ws / "lagebild.duckdb"), read_only=True)
    held = con.execute(
        "SELECT delivery_id, provider_id FROM audit.deliveries WHERE status = 'held'"
    ).fetchall()
    con.close()
    assert [p for _, p in held] == [CORRECTED]
    assert (
        main(
            [
                "deliveries",
                "release",
                held[0][0],
                "--reason",
                "Korrektur bestätigt",
                "--workspace",
                str(ws),
            ]
        )
        == 0
    )
    # the released snapshot is the only change: its provider's case marts alone are rebuilt
    assert _run(ws, inbox).startswith("1 geänderte Träger")
    capsys.readouterr()
    # the runs left the release as it was
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before

    # the rebuild is a whole run: it says which step is at work, as `lagebild run` does (the
    # interval shortened so that this small rebuild meets it)
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.5)
    monkeypatch.setattr(runner.log, "disabled", True)  # an earlier `run` printed the log here
    assert main(["verify", first, "--workspace", str(ws), "--keep"]) == 0
    out = capsys.readouterr().out
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 30.0)
    monkeypatch.setattr(runner.log, "disabled", False)
    assert "identisch" in out
    assert re.search(r"^  … läuft: .+ \(Lauf seit \d+ s\)$", out, re.MULTILINE), out
    _release_cells_trace_to_their_cases(ws, first)

    second = _release(ws, capsys)
    # the new provider joined after the first publication: its part is protected against
    # that one (kernel.publications), and the rebuild starts from the same earlier sets
    earlier = json.loads((ws / "releases" / second / "manifest.json").read_text("utf-8"))[
        "earlier_publications"
    ]
    assert [NEW in tables[publications.ALL] for tables, _ in earlier] == [False, True]
    seen = []

    def replay(settings, **kw):
        seen.append(publications.as_lists(publications.published_sets(settings.workspace)))
        return run_pipeline(settings, **kw)

    monkeypatch.setattr(runner, "run_pipeline", replay)
    # built on marts rebuilt for one provider only, rebuilt whole from its deliveries: the same
    assert main(["verify", second, "--workspace", str(ws)]) == 0
    assert "identisch" in capsys.readouterr().out
    assert seen and seen[0] == earlier  # the first round of the rebuild knows them
    old, new = released_cells(ws, first), released_cells(ws, second)
    keys = ["table", "row", "column"]
    both = old.merge(new, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
    changed = both[
        (both["_merge"] != "both")
        | (both["value_old"] != both["value_new"])
        | (both["suppression_old"] != both["suppression_new"])
    ]
    assert len(changed)
    assert changed["row"].str.contains(NEW).any()  # the new provider's rows appear
    # a provider that delivered nothing new keeps its figures wherever both show them
    untouched = both[
        (both["_merge"] == "both")
        & both["row"].str.contains("jmd-dortmund|mbe-bielefeld")
        & ~both["row"].str.contains(CORRECTED)
        & (both["suppression_old"] == "")
        & (both["suppression_new"] == "")
        & (both["column"] != "Datenlücke Personal")
    ]
    assert len(untouched)
    pd.testing.assert_series_equal(
        untouched["value_old"], untouched["value_new"], check_names=False
    )

    # the report history names exactly these cells, and why they may have moved
    change = compare_releases(ws, first, second)
    assert len(change.cells) == len(changed)
    assert change.new_providers == [NEW] and change.new_snapshots == [CORRECTED]
    assert change.gone_providers == [] and change.settings_changed == []
    assert not change.code_changed
    assert change.reasons() == [
        f"neue Träger: {NEW}",
        f"neue oder korrigierte Lieferungen von: {CORRECTED}",
    ]

    # tampering: one changed byte in a released file, one file gone (what `verify` reports
    # first as "Manipulation"; its replay is the one exercised above)
    assert tampered_files(ws, manifest) == []
    report = next(p for p in folder.iterdir() if p.suffix in (".html", ".xlsx", ".pdf"))
    report.chmod(0o600)
    report.write_bytes(report.read_bytes() + b" ")
    folder.chmod(0o700)
    (folder / "zellen.csv").unlink()
    found = " ".join(tampered_files(ws, manifest))
    assert report.name in found and "zellen.csv" in found
