"""The large marts are built in no order (transforms/runner.py, „Row order“): a case table
a reader gets is sorted by provider and case whatever order the published rows are in."""

from __future__ import annotations

from dashboards import read
from dashboards.read import Filters, Source, Viewer
from kernel.warehouse import connect
from kernel.workspace import Workspace
from tests.dashboards.fixture_warehouse import build


def test_case_tables_come_sorted_whatever_the_order_of_the_marts(tmp_path):
    ws = Workspace(tmp_path / "ws")
    build(ws.published_db_path)
    ws.published_db_path.chmod(0o600)
    con = connect(ws.published_db_path)
    for table in ("cases", "reentry"):  # the published rows backwards: no order to lean on
        con.execute(
            f"CREATE OR REPLACE TABLE mart.{table} AS SELECT * FROM mart.{table}"
            " ORDER BY provider_id DESC, case_id DESC"
        )
    con.close()
    src, viewer = Source.of(ws.root), Viewer("koordination")
    for case_table in (read.cases, read.reentry_cases):
        rows = case_table(src, viewer, Filters())
        keys = list(zip(rows["provider_id"], rows["case_id"], strict=True))
        assert len(set(keys)) > 10 and keys == sorted(keys), case_table.__name__
