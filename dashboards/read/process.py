"""Process quality (Regelkreis-Treue): the flags of mart.cases summed per group."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.catalog import label_codes
from dashboards.disclosure import Published, publish
from dashboards.read.gate import query
from dashboards.read.scope import Filters, Source, Viewer, span_dates, where

PROCESS_COUNTS = [
    "cm_cases",
    "with_assessment",
    "with_plan",
    "with_review",
    "closed_cm",
    "with_evaluation",
    "with_close_reason",
    "open_cases",
    "review_due",
    "close_overdue",
    "followup_base",
    "followup_missing",
]
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
    cond, params = where(viewer, filters)
    with source.read() as con:
        start, end = span_dates(con, filters)
        gb = ", ".join(group_by)
        df = con.execute(
            f"""SELECT {gb},
              count(*) FILTER (WHERE intensity = 'case_management')::INTEGER AS cm_cases,
              count(*) FILTER (WHERE has_assessment)::INTEGER AS with_assessment,
              count(*) FILTER (WHERE has_plan)::INTEGER AS with_plan,
              count(*) FILTER (WHERE has_review)::INTEGER AS with_review,
              count(has_evaluation)::INTEGER AS closed_cm,
              count(*) FILTER (WHERE has_evaluation)::INTEGER AS with_evaluation,
              count(*) FILTER (WHERE close_reason_given)::INTEGER AS with_close_reason,
              count(review_due)::INTEGER AS open_cases,
              count(*) FILTER (WHERE review_due)::INTEGER AS review_due,
              count(*) FILTER (WHERE close_overdue)::INTEGER AS close_overdue,
              count(followup_missing)::INTEGER AS followup_base,
              count(*) FILTER (WHERE followup_missing)::INTEGER AS followup_missing
            FROM mart.cases
            WHERE {cond} AND opened_on <= ?::DATE
              AND (closed_on IS NULL OR closed_on >= ?::DATE)
            GROUP BY ALL ORDER BY ALL""",
            [*params, end, start],
        ).df()
    total = df[PROCESS_COUNTS].sum().to_dict()
    total.update({c: ("Gesamt" if i == 0 else "") for i, c in enumerate(group_by)})
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for rate, (num, den) in PROCESS_RATES.items():
        df[rate] = df[num] / df[den].replace(0, np.nan)
    df = label_codes(df)
    is_total = pd.Series([False] * (len(df) - 1) + [True])
    return publish(df, viewer.suppress_k, total_mask=is_total)
