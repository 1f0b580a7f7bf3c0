"""Datenlieferungen: status of every delivery, reconciliation per table and every rejection
reason, downloadable in one file."""

from __future__ import annotations

import streamlit as st

from dashboards import access, figures, ui


def render() -> None:
    ctx = ui.require("lieferungen")
    v = ctx.viewer
    if v.role == "traeger":
        st.caption(f"Nur die Lieferungen von Träger {v.provider}.")
    deliveries = ctx.load("deliveries", v)
    rejections = ctx.load("rejections", v)

    c1, c2, c3 = st.columns(3)
    c1.metric("Lieferungen", len(deliveries))
    c2.metric("in Quarantäne", int((deliveries["status"] == "in Quarantäne").sum()))
    c3.metric("abgewiesene Zeilen", int(deliveries["rows_rejected"].sum()))

    st.download_button(
        "Lieferstatus mit allen Zurückweisungsgründen (XLSX, eine Datei)",
        lambda: access.deliveries_workbook(access.published_path(ctx.workspace), v),
        file_name="lieferstatus.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="deliveries_workbook",
        icon=":material/download:",
        type="primary",
        on_click="ignore",
    )
    if len(deliveries):
        ui.figure(figures.delivery_status(deliveries), key="status")
    ui.frame(
        ctx,
        deliveries,
        "Lieferungen",
        key="deliveries",
        caption="Abgleich: erhaltene Zeilen = geladene + abgewiesene Zeilen.",
    )
    st.subheader("Zeilen je Tabelle")
    ui.frame(
        ctx,
        ctx.load("delivery_tables", v),
        "Zeilen je Lieferung und Tabelle",
        key="delivery_tables",
    )
    st.subheader("Zurückweisungsgründe")
    if v.rejection_lines:
        st.caption(
            "Jede abgewiesene Zeile und jede Quarantäne-Ursache mit Datei, Zeile und "
            "Spalte; Werte werden nie wiederholt."
        )
    else:
        st.caption("Zurückweisungsgründe gezählt je Lieferung, Tabelle, Spalte und Grund.")
    ui.frame(ctx, rejections, "Zurückweisungsgründe", key="rejections")


render()
