"""Decisions of the delivery-quality loop (issue 13), for the command line and the dashboard:
checked against the published copy, appended to the decision log (kernel/decisions.py) and
recorded in the access log. A decision takes effect in the next run."""

from __future__ import annotations

import pandas as pd

from dashboards.catalog import DELIVERY_STATUS_LABELS
from dashboards.read.deliveries import holds
from dashboards.read.scope import ALL, AccessDenied, Source, Viewer
from kernel import access_log, decisions

NEXT_RUN = "Sie wirkt im nächsten Lauf (lagebild run)."


def decide_delivery(
    source: Source,
    viewer: Viewer,
    delivery_id: str,
    action: str,
    reason: str,
    user: str,
    via: str = "dashboard",
) -> str:
    """Release or reject a held delivery; returns the German confirmation."""
    if viewer.role != "koordination":
        raise AccessDenied("Nur die Koordination gibt Lieferungen frei oder verwirft sie.")
    df = holds(source, viewer, ALL)
    row = df[df["delivery_id"] == delivery_id]
    if row.empty or row["status"].iloc[0] != DELIVERY_STATUS_LABELS["held"]:
        raise decisions.DecisionError(
            "Diese Lieferung ist nicht zurückgehalten (Stand der letzten Veröffentlichung);"
            " nur zurückgehaltene Lieferungen können freigegeben oder verworfen werden."
        )
    decisions.decide_delivery(source.workspace, delivery_id, action, reason, user, viewer.role)
    label = decisions.DELIVERY_ACTIONS[action]
    access_log.record(
        source.workspace,
        "decision",
        user=user,
        role=viewer.role,
        object=f"Lieferung {delivery_id}: {label}",
        source=via,
    )
    return f"Lieferung {delivery_id} ({row['source_name'].iloc[0]}) wird {label}. {NEXT_RUN}"


def review_flag(
    source: Source,
    viewer: Viewer,
    key: dict,
    state: str,
    reason: str,
    user: str,
    via: str = "dashboard",
) -> str:
    """Set the review state of a scorecard flag (koordination, or the provider for its own
    flags); shows at once. Returns the German confirmation."""
    from dashboards.read.quality import flags

    df = flags(source, viewer, ALL)  # scoped: a provider finds only its own flags
    match = df[
        (df["provider_id"] == key.get("provider_id"))
        & (df["rule"] == key.get("rule"))
        & (df["table_name"] == key.get("table_name"))
        # a rule about a whole table has no column: None matches None
        & (df["column_name"].fillna("") == (key.get("column_name") or ""))
    ]
    if match.empty:
        raise decisions.DecisionError("Diesen Hinweis gibt es (für diese Rolle) nicht.")
    row = match.iloc[0]
    decisions.review_flag(
        source.workspace,
        key,
        state,
        reason,
        user,
        viewer.role,
        own_provider=viewer.provider,
        badness=None if pd.isna(row["badness"]) else float(row["badness"]),
    )
    access_log.record(
        source.workspace,
        "decision",
        user=user,
        role=viewer.role,
        provider=viewer.provider,
        object=f"Hinweis {key['rule']}: {decisions.FLAG_STATES[state]}",
        source=via,
    )
    return f"Hinweis gespeichert: {decisions.FLAG_STATES[state]}."
