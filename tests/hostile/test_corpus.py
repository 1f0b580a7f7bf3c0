"""Every case of the hostile corpus, judged without Dagster: status, reason, reconciliation,
bounded time, and no planted identifier in anything the ingest says.

Deliveries are checked with `inspect_delivery` (what `lagebild check` and the pipeline share);
what only landing can judge (a FIFO, socket or symlink in the inbox, a name that is not UTF-8,
a delivery over the size limit) runs through `land` + `ingest_pending` on a throwaway
warehouse. The whole corpus through Dagster is in test_corpus_pipeline.py.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.ingest.limits import Limits
from pipelines.ingest.load import REJECTIONS_TMP, inspect_delivery
from tests.hostile.corpus import CASES, SETTINGS, Case, provider_of

SECONDS = 20  # every delivery is judged in bounded time


def limits() -> Limits:
    return Limits(
        max_unpacked_bytes=SETTINGS["max_unpacked_bytes"],
        max_line_bytes=SETTINGS["max_line_bytes"],
    )


def status_of(insp) -> str:
    if insp.quarantine:
        return "quarantined"
    return "partial" if insp.rows_rejected else "accepted"


def assert_not_said(case: Case, said: list[str]) -> None:
    text = "\n".join(s for s in said if s).lower()
    for value in case.planted:
        assert value.lower() not in text, f"{case.id}: planted value repeated"


def test_corpus_ids_are_unique_and_every_class_is_covered():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    counts = Counter(c.cls for c in CASES)
    assert len(CASES) >= 100
    assert set(counts) == {
        "Lesen",
        "Archive",
        "Grenzen",
        "Nur reguläre Dateien",
        "Identifikatoren: Schlüssel",
        "Identifikatoren: Codes",
        "Identifikatoren: Werte",
        "Identifikatoren: Überschriften",
        "Identifikatoren: Orte",
        "Verwechslungen",
        "Schlüssel und Feldlängen",
    }


@pytest.mark.parametrize("case", [c for c in CASES if c.level == "delivery"], ids=lambda c: c.id)
def test_delivery_is_judged_as_the_contract_says(tmp_path, case):
    path = case.build(tmp_path / "inbox", provider_of(case))
    con = connect()
    t0 = time.monotonic()
    insp = inspect_delivery(con, path, tmp_path / "work", limits=limits())
    assert time.monotonic() - t0 < SECONDS
    rejected = con.execute(
        f"SELECT reason, file_name, column_name FROM {REJECTIONS_TMP}"
    ).fetchall()
    reasons = [f.reason for f in insp.quarantine] + [r[0] for r in rejected]
    assert status_of(insp) == case.status, reasons
    if case.reason:
        assert any(case.reason in r for r in reasons), reasons
    if case.status == "quarantined":
        received = insp.parsed.rows_received
        assert insp.rows_loaded == 0
        got = (received, 0, received)
    else:
        for c in insp.counts.values():
            assert c.received == c.loaded + c.rejected
        got = (insp.rows_received, insp.rows_loaded, insp.rows_rejected)
    if case.rows:
        assert got == case.rows
    said = reasons + insp.notes + [insp.parsed.source_name, insp.parsed.format]
    said += [x for f in insp.quarantine for x in (f.file_name, f.column_name)]
    said += [x for r in rejected for x in r[1:]]
    assert_not_said(case, said)
    con.close()


@pytest.mark.parametrize("case", [c for c in CASES if c.level == "inbox"], ids=lambda c: c.id)
def test_inbox_entry_is_landed_and_judged_without_being_opened(tmp_path, case):
    from data_contracts.schema import create_all
    from pipelines.ingest.batch import ingest_pending
    from pipelines.ingest.landing import land

    inbox = tmp_path / "inbox"
    case.build(inbox, provider_of(case))
    ws = Workspace(tmp_path / "ws")
    for d in (ws.root, ws.landing_dir, ws.quarantine_dir):
        d.mkdir(parents=True, exist_ok=True)
    con = connect(ws.db_path)
    create_all(con)
    t0 = time.monotonic()
    land(con, ws, inbox, SETTINGS["max_unpacked_bytes"])
    (result,) = ingest_pending(con, ws, limits=limits())
    assert time.monotonic() - t0 < SECONDS
    assert result.status == case.status, result.message
    if case.reason:
        assert case.reason in result.message
    assert result.rows_received == result.rows_loaded + result.rows_rejected
    if case.rows:
        assert (result.rows_received, result.rows_loaded, result.rows_rejected) == case.rows
    # a second run: known, nothing new, nothing opened
    assert land(con, ws, inbox, SETTINGS["max_unpacked_bytes"]).known == 1
    assert ingest_pending(con, ws, limits=limits()) == []
    if case.status == "quarantined":
        did = result.delivery_id
        assert (ws.quarantine_dir / did / "GRUND.txt").exists()
        assert not (ws.landing_dir / did).exists()
    # nothing of what the entry points to was copied
    for p in ws.root.rglob("*"):
        assert not p.is_symlink() and (p.is_dir() or p.is_file()), p
    assert_not_said(case, [result.message, result.source_name])
    con.close()


def test_a_fifo_is_never_opened_for_reading(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: landing and reading must not."""
    from tests.hostile.corpus import by_id

    case = by_id("folder-fifo-inside")
    path = case.build(tmp_path / "inbox", "p-fifo")
    fifo = path / "barriers.csv"
    assert os.path.exists(fifo)
    con = connect()
    t0 = time.monotonic()
    insp = inspect_delivery(con, path, tmp_path / "work", limits=limits())
    assert time.monotonic() - t0 < 5
    assert any("FIFO" in f.reason for f in insp.quarantine)
