"""A whole `lagebild run` under umask 022 (the session's pipeline-built workspace, see
tests/e2e/pipeline_workspace.py): one warning line for the world-readable file that was there
before, and afterwards nothing in the workspace is open to group or others — landing copies,
warehouse, published copy (0400), reports, Dagster home — except the inbox, which is input."""

from __future__ import annotations

import stat

import pytest

from kernel.private import loose_paths
from tests.e2e.pipeline_workspace import PLANTED, pipeline_workspace

pytestmark = pytest.mark.slow


def test_a_run_leaves_only_owner_only_files(tmp_path_factory):
    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    warnings = [
        ln for ln in (root / "run.log").read_text().splitlines() if ln.startswith("Warnung:")
    ]
    assert len(warnings) == 1 and "für andere Nutzer zugänglich" in warnings[0]
    assert loose_paths(root, skip=(root / "inbox",)) == []
    assert stat.S_IMODE((root / PLANTED).stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "published" / "lagebild.duckdb").stat().st_mode) == 0o400
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    landed = [p for p in (root / "landing").rglob("*") if p.is_file()]
    assert landed and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in landed)
    assert list((root / "reports").glob("*.html")) and (root / ".dagster").is_dir()


def test_the_runs_reports_are_on_record(tmp_path_factory):
    """The pipeline's `reports` asset writes one access-log entry per file (OS account)."""
    from kernel import access_log

    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    written = sorted(p.name for p in (root / "reports").iterdir() if p.is_file())
    logged = [
        e for e in access_log.read(root) if e["event"] == "report" and e["source"] == "pipeline"
    ]
    assert len(logged) == len(written) >= 6
    assert {(e["object"], e["format"]) for e in logged} == {
        (name.split("_")[0], name.rsplit(".", 1)[1]) for name in written
    }
    assert all(e["suppression"] == "k=3" and e["role"] == "koordination" for e in logged)


def test_a_run_leaves_no_database_open(tmp_path_factory):
    """The `lagebild` program ends without the interpreter's teardown (pipelines.cli.
    command_line), so no database may rely on it to be closed: one left open would keep its
    write-ahead log beside the file."""
    root = pipeline_workspace(tmp_path_factory.getbasetemp())
    assert list(root.rglob("*.duckdb"))
    assert sorted(root.rglob("*.wal")) == []
