"""From a messy delivery to the caseload mart: decimal-comma FTE ("0,5", "0,75"), German dates
and headers, cp1252 — through the real ingest (landing, staging) and the mart assets.

Delivery kim-koeln_20260930 (tests/fixtures/messy.py), as_of = 2025-09-30 (Q3 complete):
  K-001 FK-1 case_management opened 03.01.2025, open   → Q3: 92 days, active at the end
  K-003 FK-2 case_management opened 01.04.2025, open   → Q3: 92 days, active at the end
  (K-002 closed 30.06.2025: not in Q3)
  staffing FK-1 "0,5" from 01.01.2024 → 0.5 × 92 = 46 FTE days
           FK-2 "0,75" 01.03.2025..30.09.2025 (still valid on the last day) → 0.75 × 92 = 69
  → case_days 184, fte_days 115, fte_end 1.25, avg_caseload 184 / 115 = 1.6
"""

from __future__ import annotations

import dagster as dg
import pytest

from kernel.warehouse import connect
from kernel.workspace import Workspace
from pipelines.defs import marts as datasets
from pipelines.resources import LagebildResource
from tests.fixtures import messy


@pytest.mark.slow
def test_decimal_comma_fte_reaches_the_caseload(tmp_path):
    from pipelines.defs import ingest

    inbox, ws = tmp_path / "inbox", tmp_path / "ws"
    messy.kim_koeln_old(inbox)
    resource = LagebildResource(workspace=str(ws), inbox=str(inbox), as_of="2025-09-30")
    result = dg.materialize(
        [ingest.landing, ingest.staging, datasets.marts, datasets.mart_checks],
        resources={"lagebild": resource},
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    con = connect(Workspace(ws).db_path, read_only=True)
    try:
        row = con.execute(
            "select case_days, fte_days, fte_end, active_cases_end, cases_in_period,"
            " avg_caseload, partial from mart.caseload"
            " where period = '2025-Q3' and provider_id = 'kim-koeln' and scope = 'alle'"
        ).fetchall()
    finally:
        con.close()
    assert len(row) == 1
    case_days, fte_days, fte_end, active_end, in_period, avg, partial = row[0]
    assert (case_days, active_end, in_period, partial) == (184, 2, 2, False)
    assert fte_days == pytest.approx(0.5 * 92 + 0.75 * 92)
    assert fte_end == pytest.approx(1.25)
    assert avg == pytest.approx(1.6)
