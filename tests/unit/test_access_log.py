"""The access log: append-only lines without data values, safe under concurrent writers,
pruned to its retention, printed by `lagebild audit-log`."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from kernel import access_log
from kernel.access_log import AccessLogError, record
from pipelines.cli import main


def test_entries_hold_text_only(tmp_path):
    entry = record(
        tmp_path,
        "download",
        user="anna",
        role="koordination",
        filters={"period_from": "2026-Q1", "providers": ["p01"]},
        format="csv",
        suppression=access_log.suppression(3),
    )
    assert entry["suppression"] == "k=3" and entry["event"] == "download"
    path = access_log.log_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(AccessLogError):
        record(tmp_path, "view", user="anna", object=42)  # a count
    with pytest.raises(AccessLogError):
        record(tmp_path, "view", user="anna", case_id="F0001")  # not a field of the log
    with pytest.raises(AccessLogError):
        record(tmp_path, "view", user="anna", filters={"cases": ["F1"]})
    with pytest.raises(AccessLogError):
        record(tmp_path, "export_everything", user="anna")
    assert len(path.read_text().splitlines()) == 1


def test_concurrent_writers_lose_no_line(tmp_path):
    def write(i: int) -> None:
        for j in range(25):
            record(tmp_path, "view", user=f"u{i}", view=f"v{j}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    lines = access_log.log_path(tmp_path).read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(ln)["event"] == "view" for ln in lines)


def test_retention_and_the_command(tmp_path, capsys):
    path = access_log.log_path(tmp_path)
    record(tmp_path, "login", user="anna", role="koordination")
    old = (date.today() - timedelta(days=800)).isoformat() + "T08:00:00"
    recent = (date.today() - timedelta(days=10)).isoformat() + "T08:00:00"
    with path.open("a") as fh:
        fh.write(json.dumps({"ts": old, "event": "view", "user": "alt"}) + "\n")
        fh.write(json.dumps({"ts": recent, "event": "view", "user": "neu"}) + "\n")
    since = (date.today() - timedelta(days=30)).isoformat()
    assert main(["audit-log", "--workspace", str(tmp_path), "--since", since]) == 0
    out = capsys.readouterr().out
    assert "Anmeldung · anna (koordination)" in out and "neu" in out and "alt" not in out
    assert main(["audit-log", "--workspace", str(tmp_path), "--prune"]) == 0
    assert "1 Einträge älter als 730 Tage entfernt" in capsys.readouterr().out
    assert {e["user"] for e in access_log.read(tmp_path)} == {"anna", "neu"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
