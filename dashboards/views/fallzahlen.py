"""Fallzahlen & Personal: caseload per FTE against the benchmark bands, per quarter and per
caseworker."""

from __future__ import annotations

import streamlit as st

from dashboards import figures, read, ui
from dashboards.views import Query, View, herkunft

SCOPES = {"alle": "alle Intensitäten", "case_management": "nur Case Management"}

Q = {
    "by_provider": Query(
        "Fälle je VZÄ je Träger", read.caseload, {"group_by": ("provider_id",), "benchmarks": True}
    ),
    "trend": Query(
        "Verlauf je Quartal", read.caseload, {"group_by": ("provider_id",), "by_period": True}
    ),
    "by_program": Query(
        "Fälle je VZÄ je Programm und Region",
        read.caseload,
        {"group_by": ("program", "region_code"), "benchmarks": True},
    ),
    "caseworkers": Query("je Fachkraft", read.caseload_by_caseworker),
    "lineage": Query("Herkunft Fälle je VZÄ", read.caseload_lineage, on_demand=True),
}


def render(ctx: ui.Context) -> None:
    st.caption(ui.filter_text(ctx))
    ui.suppression_note(ctx)
    v, s = ctx.viewer, ctx.settings
    scope = "alle"  # published figures: all intensities (the grid has no scope breakdown)
    if v.suppress_k is None:
        scope = st.radio(
            "Umfang", list(SCOPES), format_func=SCOPES.get, horizontal=True, key="scope"
        )
    st.caption(
        "Fälle je VZÄ = Falltage / VZÄ-Tage über die gezählten Tage des Zeitraums (bis zum "
        "Datenstand); Stichtag = aktive Fälle / VZÄ am letzten gezählten Tag. Richtwerte: "
        + "; ".join(ui.md_text(b.label) for b in s.benchmarks)
        + "."
    )
    by_provider = ctx.run(Q["by_provider"], scope=scope)
    ui.figure(
        figures.caseload_benchmarks(by_provider, s.benchmarks, title=None),
        key="bench",
        what="Fälle je Vollzeitstelle nach Träger, mit den Richtwerten als Bänder",
    )
    missing = by_provider.table[by_provider.table["fte_missing"].astype(bool)]
    for p in missing["provider_id"]:
        st.warning(
            f"Träger {ui.md_text(p)}: Fälle, aber keine VZÄ gemeldet – Datenlücke, keine Quote."
        )
    ui.table(
        ctx,
        by_provider,
        "Fälle je VZÄ nach Träger",
        key="caseload_provider",
        drop=("case_days", "fte_days"),
    )
    herkunft.caseload_panel(ctx, Q["lineage"], scope=scope)

    st.subheader("Verlauf")
    trend = ctx.run(Q["trend"], scope=scope)
    ui.figure(
        figures.caseload_trend(trend, s.benchmarks, title=None),
        key="trend",
        what="Fälle je Vollzeitstelle nach Quartal und Träger",
    )
    with st.expander("Daten als Tabelle: Verlauf"):
        ui.table(ctx, trend, "Fälle je VZÄ nach Quartal und Träger", key="caseload_trend")

    if v.role != "traeger":  # a provider's figures are its own; no programme × region grid
        with st.expander("Nach Programm und Region"):
            by_program = ctx.run_if_published(Q["by_program"], scope=scope)
            if by_program is not None:
                ui.table(
                    ctx, by_program, "Fälle je VZÄ nach Programm und Region", key="caseload_prog"
                )

    if v.role in Q["caseworkers"].func.spec.roles:
        st.subheader("Je Fachkraft (pseudonym)")
        cw = ctx.run(Q["caseworkers"], scope=scope)
        ui.table(ctx, cw, "Fälle je VZÄ nach Fachkraft", key="caseload_cw")


VIEW = View("fallzahlen", "Fallzahlen & Personal", ":material/groups:", 40, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
