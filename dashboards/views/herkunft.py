"""„Wie entsteht diese Zahl?“: a view opens one of its figures down to the rows it counts and
the deliveries they came from (read/lineage.py). Case level, so only for the roles that may
see cases (never a funder), loaded on demand and recorded in the access log as a drill-down."""

from __future__ import annotations

import streamlit as st

from dashboards import catalog, ui
from dashboards.read import gap_counts
from dashboards.read.gate import CASE_LEVEL_ROLES

GAP_COLUMNS = {
    "provider_id": "Träger",
    "case_id": "Fall (Pseudonym)",
    "goal_id": "Ziel",
    "domain": "Lebensbereich",
    "quarter": "Quartal",
    "set_on": "vereinbart am",
    "offer_available": "passendes Angebot",
    "delivery": "Lieferung",
    "snapshot_on": "Stand der Lieferung",
}


def gap_panel(ctx: ui.Context, query) -> None:
    """Supply gaps of the page's selection, per domain: definition, the three counts
    recounted from their goals, the goals with case and delivery."""
    if ctx.viewer.role not in CASE_LEVEL_ROLES:
        return
    with st.expander("Wie entsteht diese Zahl?", icon=":material/account_tree:"):
        st.caption(
            "Lückenquote = Ziele ohne passendes Angebot / alle vereinbarten Ziele; Fälle mit"
            " Lücke = Fälle mit mindestens einem Ziel ohne passendes Angebot. Jede Zeile ist"
            " ein im Zeitraum vereinbartes Ziel aus der aktuellen Lieferung ihres Trägers."
            + (" Nur Ziele Ihrer eigenen Fälle." if ctx.viewer.role == "traeger" else "")
        )
        if not st.toggle("Ziele und Fälle laden", key="lineage_gaps"):
            return
        goals = ctx.run(query)
        if goals.empty:
            st.info("Im gewählten Zeitraum wurden keine Ziele vereinbart.")
            return
        domains = sorted(goals["domain"].dropna().unique())
        domain = st.selectbox(
            "Lebensbereich",
            domains,
            format_func=lambda d: catalog.code_label("domain", d),
            key="lineage_domain",
        )
        rows = goals[goals["domain"] == domain]
        ui.drilldown(ctx, f"Herkunft Versorgungslücken ({domain})")
        counts = gap_counts(rows)
        for col, (name, value) in zip(st.columns(3), counts.items(), strict=True):
            col.metric(catalog.label(name), value)
        shown = rows[list(GAP_COLUMNS)].rename(columns=GAP_COLUMNS)
        ui.frame(ctx, shown, f"Herkunft der Versorgungslücken – {domain}", key="lineage_gaps")
