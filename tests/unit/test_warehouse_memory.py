"""DuckDB's memory limit and spill folder from the settings (issue 15): large inboxes spill
to disk instead of failing; a wrong value is one German sentence."""

from __future__ import annotations

import pytest

from kernel import warehouse
from kernel.settings import SettingsError, load_settings


@pytest.fixture
def config(monkeypatch):
    monkeypatch.setattr(warehouse, "DUCKDB_CONFIG", dict(warehouse.DUCKDB_CONFIG))
    return warehouse.DUCKDB_CONFIG


def test_settings_name_the_limit_and_the_folder(tmp_path):
    (tmp_path / "lagebild.yaml").write_text(
        "duckdb_memory_limit: 6GB\nduckdb_temp_directory: /tmp/spill\n", encoding="utf-8"
    )
    s = load_settings(tmp_path)
    assert (s.duckdb_memory_limit, s.duckdb_temp_directory) == ("6GB", "/tmp/spill")
    assert load_settings(tmp_path / "x").duckdb_memory_limit is None  # DuckDB's default
    # a settings file written from the settings (verify rebuilds with them) names the default
    (tmp_path / "lagebild.yaml").write_text("duckdb_memory_limit: null\n", encoding="utf-8")
    assert load_settings(tmp_path).duckdb_memory_limit is None


@pytest.mark.parametrize("value", ["viel", "6", 6, "-1GB", "6 GB; DROP"])
def test_a_wrong_memory_limit_is_refused_in_german(tmp_path, value):
    (tmp_path / "lagebild.yaml").write_text(f"duckdb_memory_limit: {value!r}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="duckdb_memory_limit"):
        load_settings(tmp_path)


def test_a_query_beyond_the_limit_spills_instead_of_failing(tmp_path, config):
    """A grouping whose hash table needs far more than 64 MB completes, spilling to the
    folder; the connection reports the limit and the folder."""
    spill = tmp_path / "spill"
    warehouse.limit_memory("64MB", spill)
    con = warehouse.connect()
    try:
        limit, folder = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert folder == str(spill) and spill.is_dir()
        assert limit.replace(" ", "").upper().startswith(("61.0MIB", "64.0MB", "61MIB", "64MB"))
        groups = con.execute(
            "SELECT count(*) FROM (SELECT i % 3000000 AS g, count(*), max(i::VARCHAR)"
            " FROM range(6000000) t(i) GROUP BY g)"
        ).fetchone()[0]
        assert groups == 3_000_000
    finally:
        con.close()
    warehouse.limit_memory(None, spill)
    assert "memory_limit" not in warehouse.DUCKDB_CONFIG


def test_the_write_connection_checkpoints_at_1_gb_of_log_not_after_every_delivery(tmp_path):
    """DuckDB's default (16 MB of log) checkpointed after nearly every delivery; the writer
    keeps commits in the log up to CHECKPOINT_THRESHOLD and writes them into the file when it
    closes, with nothing lost."""
    db = tmp_path / "w.duckdb"
    wal = tmp_path / "w.duckdb.wal"
    with warehouse.writer(db, tmp_path / ".lock") as con:
        con.execute("CREATE TABLE t (i BIGINT, s VARCHAR)")
        # six small "deliveries" of ~7 MB of log each, each committed (smaller than a row
        # group: DuckDB logs them instead of writing them to the file at once)
        for part in range(6):
            con.execute(
                "INSERT INTO t SELECT range + ?, md5(range::VARCHAR) || md5((range + 1)::VARCHAR)"
                " FROM range(100000)",
                [part * 100000],
            )
        assert wal.exists() and wal.stat().st_size > 32 * 2**20  # no checkpoint at 16 MB
    assert not wal.exists() or wal.stat().st_size == 0  # written into the file on close
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT i) FROM t").fetchone() == (
            600000,
            600000,
        )
    finally:
        con.close()
