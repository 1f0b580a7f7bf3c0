"""Owner-only workspace: looser modes are found, reported in one German line and closed; the
inbox is left alone; writing commands run with umask 077. (A whole `lagebild run` under
umask 022 is checked in tests/integration/test_private_run.py.)"""

from __future__ import annotations

import os
import stat

from kernel.private import loose_paths, secure_workspace
from pipelines.cli import main


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_loose_modes_are_reported_and_closed(tmp_path):
    ws = tmp_path / "ws"
    (ws / "landing" / "d1").mkdir(parents=True)
    (ws / "inbox").mkdir()
    ws.chmod(0o700)
    (ws / "landing").chmod(0o700)
    (ws / "landing" / "d1").chmod(0o700)
    landed = ws / "landing" / "d1" / "faelle.csv"
    landed.write_text("x")
    landed.chmod(0o444)  # a read-only landing copy that kept its source's mode
    delivery = ws / "inbox" / "faelle.csv"
    delivery.write_text("x")
    delivery.chmod(0o644)
    assert loose_paths(ws, skip=(ws / "inbox",)) == [landed]
    message = secure_workspace(ws, skip=(ws / "inbox",))
    assert message.startswith("Warnung: 1 Dateien oder Ordner im Arbeitsbereich")
    assert "Modus 444" in message and "\n" not in message
    assert _mode(landed) == 0o400  # still read-only, now owner-only
    assert _mode(delivery) == 0o644  # input stays as it is
    assert secure_workspace(ws, skip=(ws / "inbox",)) is None


def test_run_warns_about_a_world_readable_file(tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir(mode=0o700)
    ws.chmod(0o700)
    old = ws / "lagebild.duckdb"
    old.write_bytes(b"")
    old.chmod(0o644)
    previous = os.umask(0o022)
    try:
        code = main(["run", "--inbox", str(tmp_path / "fehlt"), "--workspace", str(ws)])
        assert os.umask(0o022) == 0o022  # main restores the caller's umask
    finally:
        os.umask(previous)
    err = capsys.readouterr().err
    assert code == 2 and "Posteingang nicht gefunden" in err
    warning = [ln for ln in err.splitlines() if ln.startswith("Warnung:")]
    assert len(warning) == 1 and str(old) in warning[0]
    assert _mode(old) == 0o600


def test_writing_commands_create_private_files(tmp_path, monkeypatch):
    import io

    previous = os.umask(0o022)
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
        args = ["users", "add", "anna", "--role", "koordination", "--password-stdin"]
        assert main([*args, "--workspace", str(tmp_path / "neu")]) == 0
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "neu") == 0o700  # created under umask 077
    assert _mode(tmp_path / "neu" / "users.yaml") == 0o600
