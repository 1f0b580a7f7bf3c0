"""Prozessqualität: documented steps of the case management cycle, review and closure due."""

from __future__ import annotations

import streamlit as st

from dashboards import figures, ui


def render() -> None:
    ctx = ui.require("prozessqualitaet")
    st.caption(ui.filter_text(ctx) + " · Fälle, die im Zeitraum aktiv waren")
    ui.suppression_note(ctx)
    s = ctx.settings
    pq = ctx.load("process_quality", ctx.viewer, ctx.filters)
    body = pq.table[pq.table["provider_id"] != "Gesamt"]
    if len(body):
        ui.figure(figures.process_shares(pq, title=None), key="pq")
    st.caption(
        "Case-Management-Fälle: Assessment dokumentiert; Hilfeplan (ein Ziel oder ein "
        "Hilfeplan-Schritt); Überprüfung (Reassessment oder Zielstatus nach Vereinbarung); "
        "Evaluation bei abgeschlossenen Fällen. Offene Fälle: Wiedervorlage nach mehr als "
        f"{s.review_due_days} Tagen ohne Kontakt, Abschluss überfällig nach mehr als "
        f"{s.close_due_days} Tagen. Abgeschlossene CM-Fälle älter als "
        f"{s.followup_conversation_days} Tage ohne Nachgespräch."
    )
    ui.table(
        ctx,
        pq,
        "Regelkreis-Treue nach Träger",
        key="pq",
    )


render()
