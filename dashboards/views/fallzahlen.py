"""Fallzahlen & Personal: caseload per FTE against the benchmark bands, per quarter and per
caseworker."""

from __future__ import annotations

import streamlit as st

from dashboards import figures, ui

SCOPES = {"alle": "alle Intensitäten", "case_management": "nur Case Management"}


def render() -> None:
    ctx = ui.require("fallzahlen")
    st.caption(ui.filter_text(ctx))
    ui.suppression_note(ctx)
    v, f, s = ctx.viewer, ctx.filters, ctx.settings
    scope = st.radio("Umfang", list(SCOPES), format_func=SCOPES.get, horizontal=True, key="scope")
    st.caption(
        "Fälle je VZÄ = Falltage / VZÄ-Tage über die gezählten Tage des Zeitraums (bis zum "
        "Datenstand); Stichtag = aktive Fälle / VZÄ am letzten gezählten Tag. Richtwerte: "
        + "; ".join(b.label for b in s.benchmarks)
        + "."
    )
    by_provider = ctx.load(
        "caseload", v, f, group_by=("provider_id",), scope=scope, benchmarks=s.benchmarks
    )
    ui.figure(figures.caseload_benchmarks(by_provider, s.benchmarks, title=None), key="bench")
    missing = by_provider.table[by_provider.table["fte_missing"].astype(bool)]
    for p in missing["provider_id"]:
        st.warning(f"Träger {p}: Fälle, aber keine VZÄ gemeldet – Datenlücke, keine Quote.")
    ui.table(
        ctx,
        by_provider,
        "Fälle je VZÄ nach Träger",
        key="caseload_provider",
        drop=("case_days", "fte_days"),
    )

    st.subheader("Verlauf")
    trend = ctx.load("caseload", v, f, group_by=("provider_id",), scope=scope, by_period=True)
    ui.figure(figures.caseload_trend(trend, s.benchmarks, title=None), key="trend")
    with st.expander("Verlauf als Tabelle"):
        ui.table(ctx, trend, "Fälle je VZÄ nach Quartal und Träger", key="caseload_trend")

    by_program = ctx.load(
        "caseload",
        v,
        f,
        group_by=("program", "region_code"),
        scope=scope,
        benchmarks=s.benchmarks,
    )
    with st.expander("Nach Programm und Region"):
        ui.table(ctx, by_program, "Fälle je VZÄ nach Programm und Region", key="caseload_prog")

    if v.role != "foerderer":
        st.subheader("Je Fachkraft (pseudonym)")
        cw = ctx.load("caseload_by_caseworker", v, f, scope=scope)
        ui.table(ctx, cw, "Fälle je VZÄ nach Fachkraft", key="caseload_cw")


render()
