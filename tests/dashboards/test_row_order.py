"""The row-level marts are built in no order (transforms/runner.py, „Row order“): what a reader
gets row by row – the case tables and the tables behind a figure („Herkunft“) – is the same,
in the same order, whatever order the published rows are in."""

from __future__ import annotations

import pandas as pd

from dashboards import read
from dashboards.read import Filters, Source, Viewer
from kernel.warehouse import connect
from kernel.workspace import Workspace
from tests.dashboards.fixture_warehouse import build

ROW_MARTS = {  # the marts built in no order, and their keys
    "cases": "provider_id, case_id",
    "goals": "provider_id, case_id, goal_id",
    "referrals": "provider_id, case_id, referral_id",
    "reentry": "provider_id, case_id",
}
ROW_TABLES = (  # every reader that hands out rows of them
    read.cases,
    read.reentry_cases,
    read.gap_lineage,
    read.referral_lineage,
    read.closure_lineage,
    read.caseload_lineage,
    read.reentry_lineage,
)


def _published(root, backwards: bool) -> Source:
    ws = Workspace(root)
    build(ws.published_db_path)
    if backwards:  # the rows against their keys' order: nothing to lean on
        ws.published_db_path.chmod(0o600)
        con = connect(ws.published_db_path)
        for table, key in ROW_MARTS.items():
            desc = ", ".join(f"{k} DESC" for k in key.split(", "))
            con.execute(
                f"CREATE OR REPLACE TABLE mart.{table} AS SELECT * FROM mart.{table} ORDER BY {desc}"
            )
        con.close()
    return Source.of(ws.root)


def _frames(result) -> dict[str, pd.DataFrame]:
    return result if isinstance(result, dict) else {"rows": result}


def test_row_tables_are_the_same_in_the_same_order_whatever_the_marts_order(tmp_path):
    as_built = _published(tmp_path / "as_built", backwards=False)
    backwards = _published(tmp_path / "backwards", backwards=True)
    for viewer in (Viewer("koordination"), Viewer("traeger", "p01")):
        for table in ROW_TABLES:
            for name, rows in _frames(table(as_built, viewer, Filters())).items():
                other = _frames(table(backwards, viewer, Filters()))[name]
                assert len(rows) > 0, (table.__name__, name)
                pd.testing.assert_frame_equal(rows, other, obj=f"{table.__name__} {name}")


def test_case_tables_come_sorted_by_provider_and_case(tmp_path):
    src, viewer = _published(tmp_path / "ws", backwards=True), Viewer("koordination")
    for case_table in (read.cases, read.reentry_cases):
        rows = case_table(src, viewer, Filters())
        keys = list(zip(rows["provider_id"], rows["case_id"], strict=True))
        assert len(set(keys)) > 10 and keys == sorted(keys), case_table.__name__
