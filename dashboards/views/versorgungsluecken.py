"""Versorgungslücken: goals without a suitable offer (domain × region), waits by service type,
structural closures."""

from __future__ import annotations

import streamlit as st

from dashboards import figures, ui


def render() -> None:
    ctx = ui.require("versorgungsluecken")
    st.caption(ui.filter_text(ctx))
    ui.suppression_note(ctx)
    v, f = ctx.viewer, ctx.filters

    st.subheader("Ziele ohne passendes Angebot")
    st.caption(
        "Lückenquote = im Zeitraum vereinbarte Ziele ohne passendes Angebot / alle im Zeitraum "
        "vereinbarten Ziele, je Lebensbereich und Region."
    )
    matrix = ctx.load("gap_matrix", v, f)
    if len(matrix.table):
        ui.figure(figures.gap_heatmap(matrix, title=None), key="gap_heatmap")
    else:
        st.info("Im gewählten Zeitraum wurden keine Ziele vereinbart.")
    by_domain = ctx.load("gaps", v, f, group_by=("domain",))
    ui.table(ctx, by_domain, "Versorgungslücken nach Lebensbereich", key="gaps_domain")
    with st.expander("Lebensbereich × Region als Tabelle"):
        ui.table(ctx, matrix, "Versorgungslücken nach Lebensbereich und Region", key="gaps_matrix")

    st.subheader("Wartezeiten nach Angebotsart")
    st.caption(
        "Anfragen, kein Angebot und Ablehnungen nach Anfragedatum im Zeitraum; Median und "
        "90. Perzentil der Wartezeit (Beginn − Anfrage) über die im Zeitraum begonnenen "
        "Vermittlungen; wartend am letzten gezählten Tag des Zeitraums."
    )
    waits = ctx.load("waits", v, f)
    if len(waits.table):
        ui.figure(figures.waits_by_service(waits, title=None), key="waits")
    ui.table(ctx, waits, "Vermittlungen und Wartezeiten nach Angebotsart", key="waits")

    st.subheader("Abschlüsse wegen struktureller Hindernisse")
    closures = ctx.load("structural_closures", v, f, group_by=("period",))
    ui.table(ctx, closures, "Strukturelle Abschlüsse je Quartal", key="closures")


render()
