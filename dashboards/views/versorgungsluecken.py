"""Versorgungslücken: goals without a suitable offer (domain × region), waits by service type,
structural closures."""

from __future__ import annotations

import streamlit as st

from dashboards import figures, read, ui
from dashboards.views import Query, View, herkunft

Q = {
    "matrix": Query("Heatmap Lebensbereich × Region", read.gap_matrix),
    "by_domain": Query("Lücken je Lebensbereich", read.gaps, {"group_by": ("domain",)}),
    "waits": Query("Wartezeiten je Angebotsart", read.waits),
    "closures": Query(
        "strukturelle Abschlüsse je Quartal", read.structural_closures, {"group_by": ("period",)}
    ),
    "lineage": Query("Herkunft der Lücken (Ziele)", read.gap_lineage, on_demand=True),
    "waits_lineage": Query("Herkunft der Wartezeiten", read.referral_lineage, on_demand=True),
    "closures_lineage": Query("Herkunft der Abschlüsse", read.closure_lineage, on_demand=True),
}


def render(ctx: ui.Context) -> None:
    st.caption(ui.filter_text(ctx))
    ui.suppression_note(ctx)

    st.subheader("Ziele ohne passendes Angebot")
    st.caption(
        "Lückenquote = im Zeitraum vereinbarte Ziele ohne passendes Angebot / alle im Zeitraum "
        "vereinbarten Ziele, je Lebensbereich und Region (veröffentlichte Zahlen: je Programm)."
    )
    matrix = ctx.run_if_published(Q["matrix"])
    if matrix is None:  # not published for this selection (e.g. a region): nothing below is
        return
    across, across_name = read.matrix_across(matrix)
    if len(matrix.table):
        ui.figure(
            figures.gap_heatmap(matrix, col_col=across, title=None),
            key="gap_heatmap",
            what=f"Lückenquote nach Lebensbereich und {across_name}",
        )
    else:
        st.info("Im gewählten Zeitraum wurden keine Ziele vereinbart.")
    by_domain = ctx.run(Q["by_domain"])
    ui.table(ctx, by_domain, "Versorgungslücken nach Lebensbereich", key="gaps_domain")
    herkunft.gap_panel(ctx, Q["lineage"])
    with st.expander(f"Lebensbereich × {across_name} als Tabelle"):
        ui.table(
            ctx,
            matrix,
            f"Versorgungslücken nach Lebensbereich und {across_name}",
            key="gaps_matrix",
        )

    st.subheader("Wartezeiten nach Angebotsart")
    st.caption(
        "Anfragen, kein Angebot und Ablehnungen nach Anfragedatum im Zeitraum; Median und "
        "90. Perzentil der Wartezeit (Beginn − Anfrage) über die im Zeitraum begonnenen "
        "Vermittlungen; wartend am letzten gezählten Tag des Zeitraums."
    )
    waits = ctx.run(Q["waits"])
    if len(waits.table):
        ui.figure(
            figures.waits_by_service(waits, title=None),
            key="waits",
            what="Wartezeit in Tagen (Median und 90. Perzentil) nach Angebotsart",
        )
    ui.table(ctx, waits, "Vermittlungen und Wartezeiten nach Angebotsart", key="waits")
    herkunft.waits_panel(ctx, Q["waits_lineage"])

    st.subheader("Abschlüsse wegen struktureller Hindernisse")
    closures = ctx.run(Q["closures"])
    ui.table(ctx, closures, "Strukturelle Abschlüsse je Quartal", key="closures")
    herkunft.closures_panel(ctx, Q["closures_lineage"])


VIEW = View("versorgungsluecken", "Versorgungslücken", ":material/grid_on:", 20, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
