"""Prozessqualität: documented steps of the case management cycle, review and closure due."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboards import figures, read, ui
from dashboards.views import Query, View, herkunft

Q = {
    "quality": Query("Regelkreis-Treue", read.process_quality),
    "cases": Query("Fälle hinter der Regelkreis-Treue", read.cases, on_demand=True),
}


def render(ctx: ui.Context) -> None:
    st.caption(ui.filter_text(ctx) + " · Fälle, die im Zeitraum aktiv waren")
    ui.suppression_note(ctx)
    s = ctx.settings
    # a suppressed reader sees the grid's cells: per programme and calendar year
    key = "program" if ctx.viewer.suppress_k is not None else "provider_id"
    f = ctx.filters
    if ctx.viewer.suppress_k is not None and f.period_from and len(f.period_from) > 4:
        year = f.period_from[:4]  # a quarter or half-year: the calendar year it lies in
        f = replace(f, period_from=year, period_to=year)
        st.info(
            f"Prozessqualität wird je Kalenderjahr veröffentlicht: gezeigt wird {year}.",
            icon=":material/calendar_month:",
        )
    pq = ctx.run_if_published(Q["quality"], filters=f, group_by=(key,))
    if pq is None:
        return
    body = pq.table[pq.table[key] != "Gesamt"]
    if len(body):
        ui.figure(
            figures.process_shares(pq, group_col=key, title=None),
            key="pq",
            what="Anteil der Fälle mit dokumentiertem Schritt",
        )
    st.caption(
        "Case-Management-Fälle: Assessment dokumentiert; Hilfeplan (ein Ziel oder ein "
        "Hilfeplan-Schritt); Überprüfung (Reassessment oder Zielstatus nach Vereinbarung); "
        "Evaluation bei abgeschlossenen Fällen. Offene Fälle: Wiedervorlage nach mehr als "
        f"{s.review_due_days} Tagen ohne Kontakt, Abschluss überfällig nach mehr als "
        f"{s.close_due_days} Tagen. Abgeschlossene CM-Fälle älter als "
        f"{s.followup_conversation_days} Tage ohne Nachgespräch."
    )
    if ctx.viewer.suppress_k is not None and "open_cases" not in pq.table.columns:
        st.caption(
            "Offene, fällige und überfällige Fälle beschreiben den Datenstand: veröffentlicht"
            " für dessen Jahr."
        )
    by = "Programm" if key == "program" else "Träger"
    ui.table(ctx, pq, f"Regelkreis-Treue nach {by}", key="pq")
    herkunft.process_panel(ctx, Q["cases"])


VIEW = View("prozessqualitaet", "Prozessqualität", ":material/checklist:", 60, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
