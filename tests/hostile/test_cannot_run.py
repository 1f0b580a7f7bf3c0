"""When `lagebild run` cannot run, it says so in one German sentence with cause and remedy,
exits 2 and prints no traceback; the traceback goes to a log file whose path it names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.hostile.corpus import cases_csv, folder
from tests.workspace_lock import lock_held_elsewhere

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inbox(tmp_path):
    i = tmp_path / "inbox"
    folder(i, "p1", {"cases.csv": cases_csv("p1")})
    return i


def cannot_run(capsys, *args) -> str:
    code = main(["run", *map(str, args)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "Traceback" not in out + err
    # a warning line may come first (loose file modes tightened, issue 12), then the error
    lines = [line for line in err.splitlines() if not line.startswith("Warnung: ")]
    assert lines and lines[0].startswith("Fehler: "), err
    log = re.search(r"Details: (\S+\.log)", err)
    assert log and Path(log.group(1)).exists(), err
    assert "Traceback" in Path(log.group(1)).read_text()
    return err


def test_workspace_is_a_file(tmp_path, inbox, capsys):
    (tmp_path / "ws").write_text("kein Ordner")
    err = cannot_run(capsys, "--inbox", inbox, "--workspace", tmp_path / "ws")
    assert "ist eine Datei, kein Ordner" in err


def test_inbox_missing(tmp_path, capsys):
    err = cannot_run(capsys, "--inbox", tmp_path / "fehlt", "--workspace", tmp_path / "ws")
    assert "Posteingang nicht gefunden" in err


@pytest.mark.parametrize(
    "text, says",
    [
        ("suppression_k: [3\n", "kein gültiges YAML (Zeile"),
        ("gibt_es_nicht: 1\n", "Unbekannte Einstellung(en)"),
        ("lock_wait_seconds: viel\n", "„lock_wait_seconds“"),
        ("- eine Liste\n", "„name: wert“"),
    ],
)
def test_broken_settings_file(tmp_path, inbox, capsys, text, says):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text(text)
    err = cannot_run(capsys, "--inbox", inbox, "--workspace", ws)
    assert says in err and "korrigieren oder entfernen" in err


def test_corrupt_warehouse(tmp_path, inbox, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.duckdb").write_bytes(b"kein DuckDB" * 1000)
    err = cannot_run(capsys, "--inbox", inbox, "--workspace", ws)
    assert "beschädigt oder keine DuckDB-Datei" in err and "umbenennen" in err


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("chattr"), reason="root needs chattr +i")
def test_read_only_workspace(tmp_path, inbox, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(ws)], check=True)
    else:
        ws.chmod(0o555)
    try:
        err = cannot_run(capsys, "--inbox", inbox, "--workspace", ws)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ws)], check=True)
        ws.chmod(0o755)
    assert "Keine Schreibrechte" in err


def test_another_program_holds_the_warehouse(tmp_path, inbox, capsys):
    """An evaluator's DuckDB shell on lagebild.duckdb: the run says so and names the remedy
    (close it; evaluate on the published copy)."""
    from kernel.warehouse import connect

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text("lock_wait_seconds: 1\n")
    connect(ws / "lagebild.duckdb").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, time, sys\n"
            f"c = duckdb.connect({str(ws / 'lagebild.duckdb')!r}, read_only=True)\n"
            "print('offen', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "offen"
        err = cannot_run(capsys, "--inbox", inbox, "--workspace", ws)
    finally:
        holder.kill()
        holder.wait()
    assert "von einem anderen Programm geöffnet" in err
    assert "published/lagebild.duckdb" in err


def test_a_second_run_waits_then_stops_with_a_clear_message(tmp_path, inbox, capsys):
    from kernel.warehouse import write_lock

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lagebild.yaml").write_text("lock_wait_seconds: 1\n")
    with lock_held_elsewhere(ws) as holder:
        err = cannot_run(capsys, "--inbox", inbox, "--workspace", ws)
    assert "wird gerade von einem anderen Lauf beschrieben" in err
    assert f"Prozess {holder.pid}" in err and "lock_wait_seconds" in err
    assert not (ws / ".dagster").exists()  # nothing of the instance before the lock
    with write_lock(ws / ".lagebild.lock"):
        pass
