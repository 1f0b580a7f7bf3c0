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


# The long-running folders first: `make test` hands whole files to two workers in collection
# order (pytest-xdist, --dist loadfile), so the many quick unit tests fill the end instead
# of one worker finishing a slow file alone.
SLOW_FIRST = ("e2e", "integration", "hostile", "dashboards")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        parts = item.path.parts
        folder = parts[parts.index("tests") + 1] if "tests" in parts else ""
        return SLOW_FIRST.index(folder) if folder in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order within a folder stays
