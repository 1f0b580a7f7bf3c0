"""A helper's temporary folder (it may hold a report's print page) does not outlive its run:
the folders of helpers killed hard with their run are removed when the next helper starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import helper_process


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(helper_process.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def a_gone_run() -> int:
    """The process id of a process that has ended (a run killed hard)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_folder_of_a_helper_whose_run_is_gone_is_swept(temp_root):
    orphan = temp_root / f"lagebild-helper-{a_gone_run()}-abc123"
    (orphan / "chromium-profile").mkdir(parents=True)
    (orphan / "bericht.html").write_text("<html>Seite</html>")
    helper_process.sweep_orphans()
    assert not orphan.exists()


def test_what_is_not_an_orphans_folder_stays(temp_root):
    living = temp_root / f"lagebild-helper-{os.getpid()}-abc123"  # this run is alive
    living.mkdir()
    gone = a_gone_run()
    target = temp_root / "ziel"
    target.mkdir()
    (target / "datei").write_text("bleibt")
    link = temp_root / f"lagebild-helper-{gone}-link"
    link.symlink_to(target)  # a link is never followed, not even removed
    file = temp_root / f"lagebild-helper-{gone}-datei"
    file.write_text("keine Mappe")
    other = temp_root / f"lagebild-helper-{gone}"  # not a helper's name (no random part)
    other.mkdir()
    foreign = temp_root / f"anderes-{gone}-abc123"
    foreign.mkdir()
    helper_process.sweep_orphans()
    assert living.is_dir() and link.is_symlink() and (target / "datei").read_text() == "bleibt"
    assert file.is_file() and other.is_dir() and foreign.is_dir()


def test_a_new_helper_sweeps_and_names_its_folder_after_its_run(temp_root):
    orphan = temp_root / f"lagebild-helper-{a_gone_run()}-xyz"
    orphan.mkdir()
    helper = helper_process.Helper("json.tool")  # any module: it waits for input
    try:
        folder = Path(helper.tmp)
        assert folder.parent == temp_root
        assert folder.name.startswith(f"lagebild-helper-{os.getpid()}-")
        assert (folder.stat().st_mode & 0o777) == 0o700
        assert not orphan.exists()
    finally:
        helper.stop()
    assert not folder.exists()


def test_a_helper_whose_loading_fails_removes_its_folder():
    helper = helper_process.Helper("tests.helper_failing")
    folder = Path(helper.tmp)
    try:
        assert helper.proc.wait(timeout=60) == 1
        assert not folder.exists()
    finally:
        helper.stop()
