"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest

# GX and tqdm progress bars would clutter test output.
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture
def staging_con():
    """In-memory warehouse with the staging, audit and meta schemas (empty tables).

    Metric tests insert hand-made rows into staging.* and run the SQL models on it.
    """
    from data_contracts.schema import AUDIT_DDL, META_DDL, staging_ddl
    from kernel.warehouse import connect

    con = connect()
    con.execute(staging_ddl())
    con.execute(AUDIT_DDL)
    con.execute(META_DDL)
    yield con
    con.close()
