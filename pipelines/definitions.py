"""The Dagster code location: thin on purpose; each stage lives in its own module.

dagster dev -m pipelines.definitions   (with LAGEBILD_WORKSPACE and LAGEBILD_INBOX set;
                                        `make dagster` does it for the demo workspace)
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs import all_asset_checks, all_assets, all_sensors
from pipelines.resources import LagebildResource

lagebild_job = dg.define_asset_job("lagebild", selection=dg.AssetSelection.all())

defs = dg.Definitions(
    assets=all_assets(),
    asset_checks=all_asset_checks(),
    jobs=[lagebild_job],
    sensors=all_sensors(),
    resources={
        "lagebild": LagebildResource(
            workspace=dg.EnvVar("LAGEBILD_WORKSPACE"),
            inbox=dg.EnvVar("LAGEBILD_INBOX"),
        )
    },
    # In-process: one DuckDB writer, and ~4 s instead of ~15 s per run on 2 cores.
    executor=dg.in_process_executor,
)
