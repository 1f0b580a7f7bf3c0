"""„Wie entsteht diese Zahl?“: a view opens one of its figures down to the rows it counts and
the deliveries they came from (read/lineage.py). Case level, so only for the roles that may
see cases (never a funder), loaded on demand and recorded in the access log as a drill-down."""

from __future__ import annotations

import streamlit as st

from dashboards import catalog, ui
from dashboards.read import gap_counts, process_cases
from dashboards.read.gate import CASE_LEVEL_ROLES
from dashboards.read.process import PROCESS_COUNTS

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


def gap_panel(ctx: ui.Context, query, *, release_id: str | None = None) -> None:
    """Supply gaps of the page's selection, per domain: definition, the three counts
    recounted from their goals, the goals with case and delivery. `release_id`: `ctx` reads
    that release's rebuilt snapshot (its deliveries then, not today's)."""
    if ctx.viewer.role not in CASE_LEVEL_ROLES:
        return
    title = "Wie entsteht diese Zahl?" + (" (Versorgungslücken)" if release_id else "")
    with st.expander(title, icon=":material/account_tree:"):
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
        where = f", Veröffentlichung {release_id}" if release_id else ""
        ui.drilldown(ctx, f"Herkunft Versorgungslücken ({domain}{where})")
        counts = gap_counts(rows)
        for col, (name, value) in zip(st.columns(3), counts.items(), strict=True):
            col.metric(catalog.label(name), value)
        shown = rows[list(GAP_COLUMNS)].rename(columns=GAP_COLUMNS)
        ui.frame(ctx, shown, f"Herkunft der Versorgungslücken – {domain}", key="lineage_gaps")


def cases_panel(ctx: ui.Context, query, *, release_id: str) -> None:
    """ "Fälle im Zeitraum" of a release, per provider, down to the cases and their delivery."""
    if ctx.viewer.role not in CASE_LEVEL_ROLES:
        return
    with st.expander(
        "Wie entsteht diese Zahl? (Fälle im Zeitraum)", icon=":material/account_tree:"
    ):
        st.caption(
            "Fälle im Zeitraum = Fälle, die an mindestens einem Tag des Quartals offen waren;"
            " jede Zeile ein Fall aus der Lieferung, auf der die Veröffentlichung beruht."
        )
        if not st.toggle("Fälle laden", key="lineage_cases"):
            return
        cases = ctx.run(query)
        ui.drilldown(ctx, f"Herkunft Fälle im Zeitraum (Veröffentlichung {release_id})")
        st.metric(catalog.label("cases_in_period"), len(cases))
        per_provider = cases.groupby("provider_id").size().rename("Fälle").reset_index()
        st.dataframe(per_provider, hide_index=True, key="lineage_cases_per_provider")
        shown = cases[["provider_id", "case_id", "program", "opened_on", "closed_on", "delivery"]]
        ui.frame(ctx, shown, f"Fälle im Zeitraum – {release_id}", key="lineage_cases")


def process_panel(ctx: ui.Context, query) -> None:
    """A process-quality count of the page's selection down to its cases (of the case table:
    the cases active in the span), each with its delivery."""
    if ctx.viewer.role not in CASE_LEVEL_ROLES or ctx.viewer.suppress_k is not None:
        return
    with st.expander("Wie entsteht diese Zahl?", icon=":material/account_tree:"):
        st.caption(
            "Gezählt werden die im Zeitraum aktiven Fälle, die die Bedingung der Kennzahl"
            " erfüllen; jede Zeile ein Fall aus der aktuellen Lieferung seines Trägers."
            + (" Nur Ihre eigenen Fälle." if ctx.viewer.role == "traeger" else "")
        )
        if not st.toggle("Fälle laden", key="lineage_process"):
            return
        count = st.selectbox(
            "Kennzahl", PROCESS_COUNTS, format_func=catalog.label, key="lineage_process_count"
        )
        cases = process_cases(ctx.run(query), count)
        ui.drilldown(ctx, f"Herkunft Prozessqualität ({count})")
        st.metric(catalog.label(count), len(cases))
        shown = cases[["provider_id", "case_id", "program", "opened_on", "closed_on", "delivery"]]
        ui.frame(ctx, shown, f"Herkunft – {catalog.label(count)}", key="lineage_process")
