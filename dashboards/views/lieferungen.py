"""Datenlieferungen: status of every delivery, reconciliation per table and every rejection
reason, downloadable in one file."""

from __future__ import annotations

import streamlit as st

from dashboards import access, exports, figures, read, ui
from dashboards.views import Query, View

Q = {
    "deliveries": Query("Lieferungen", read.deliveries),
    "rejections": Query("Ablehnungen", read.rejections),
    "tables": Query("Zeilen je Tabelle", read.delivery_tables),
}


def workbook(source: read.Source, viewer: read.Viewer) -> bytes:
    """Delivery status with every rejection reason in one XLSX file (made on click)."""
    sheets = [
        exports.Sheet(
            "Lieferungen",
            read.deliveries(source, viewer),
            "Alle Lieferungen mit Status und Abgleich",
        ),
        exports.Sheet(
            "Tabellen", read.delivery_tables(source, viewer), "Zeilen je Lieferung und Tabelle"
        ),
        exports.Sheet(
            "Zurückweisungen", read.rejections(source, viewer), "Alle Zurückweisungsgründe"
        ),
    ]
    basis = read.data_basis(source, viewer)
    return exports.workbook_bytes(
        sheets, basis=basis, suppressed_k=None, role_label=viewer.role_label
    )


def status_counts(deliveries):
    """What the status chart shows: deliveries per status."""
    counts = deliveries.groupby("status").size().reset_index(name="n")
    return counts.rename(columns={"status": "Status", "n": "Lieferungen"})


def render(ctx: ui.Context) -> None:
    v = ctx.viewer
    if v.role == "traeger":
        st.caption(f"Nur die Lieferungen von Träger {ui.md_text(v.provider)}.")
    deliveries = ctx.run(Q["deliveries"])
    rejections = ctx.run(Q["rejections"])

    c1, c2, c3 = st.columns(3)
    c1.metric("Lieferungen", len(deliveries))
    c2.metric("in Quarantäne", int((deliveries["status"] == "in Quarantäne").sum()))
    c3.metric("abgewiesene Zeilen", int(deliveries["rows_rejected"].sum()))

    st.download_button(
        "Lieferstatus mit allen Zurückweisungsgründen (XLSX, eine Datei)",
        access.on_click(
            lambda: workbook(ctx.source, v), ctx.who, fmt="xlsx", title="Lieferstatus", k=None
        ),
        file_name="lieferstatus.xlsx",
        mime=ui.XLSX,
        key="deliveries_workbook",
        icon=":material/download:",
        type="primary",
        on_click="ignore",
    )
    if len(deliveries):
        ui.figure(
            figures.delivery_status(deliveries),
            key="status",
            what="Lieferungen nach Status",
            data=status_counts(deliveries),
        )
    ui.frame(
        ctx,
        deliveries,
        "Lieferungen",
        key="deliveries",
        caption="Abgleich: erhaltene Zeilen = geladene + abgewiesene Zeilen.",
    )
    st.subheader("Zeilen je Tabelle")
    ui.frame(ctx, ctx.run(Q["tables"]), "Zeilen je Lieferung und Tabelle", key="delivery_tables")
    st.subheader("Zurückweisungsgründe")
    if v.rejection_lines:
        st.caption(
            "Jede abgewiesene Zeile und jede Quarantäne-Ursache mit Datei, Zeile und "
            "Spalte; Werte werden nie wiederholt."
        )
    else:
        st.caption("Zurückweisungsgründe gezählt je Lieferung, Tabelle, Spalte und Grund.")
    ui.frame(ctx, rejections, "Zurückweisungsgründe", key="rejections")


VIEW = View(
    "lieferungen",
    "Datenlieferungen",
    ":material/inbox:",
    70,
    Q,
    roles=("koordination", "traeger", "evaluation"),
)

if __name__ == "__main__":
    ui.page(VIEW, render)
