"""Process quality (Regelkreis-Treue): the counts of transforms.process per group, with a
total row and the documentation rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, rollup_filters
from transforms.process import COUNTS, process_counts

PROCESS_COUNTS = list(COUNTS)
PROCESS_RATES = {
    "assessment_rate": ("with_assessment", "cm_cases"),
    "plan_rate": ("with_plan", "cm_cases"),
    "review_rate": ("with_review", "cm_cases"),
    "evaluation_rate": ("with_evaluation", "closed_cm"),
}


@query()
def process_quality(
    source: Source,
    viewer: Viewer,
    filters: Filters,
    *,
    group_by: Sequence[str] = ("provider_id",),
) -> Published:
    """Process-quality flags of mart.cases summed per group, for cases active in the span,
    with a total row."""
    group_by = list(group_by)
    with source.read() as con:
        df = process_counts(
            con,
            filters.period_from,
            filters.period_to,
            group_by=group_by,
            filters=rollup_filters(viewer, filters),
        ).drop(columns=["period", "partial"])
    total = df[PROCESS_COUNTS].sum().to_dict()
    total.update({c: ("Gesamt" if i == 0 else "") for i, c in enumerate(group_by)})
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for rate, (num, den) in PROCESS_RATES.items():
        df[rate] = df[num] / df[den].replace(0, np.nan)
    df = label_codes(df)
    is_total = pd.Series([False] * (len(df) - 1) + [True])
    return publish(df, viewer.suppress_k, total_mask=is_total)
