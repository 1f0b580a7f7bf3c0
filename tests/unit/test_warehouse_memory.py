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
