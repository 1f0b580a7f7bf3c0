"""Datenlieferungen: status of every delivery, reconciliation per table and every rejection
reason, downloadable in one file."""

from __future__ import annotations

import streamlit as st

from dashboards import access, data, exports, figures, read, ui
from dashboards.decide import decide_delivery
from dashboards.views import Query, View

Q = {
    "deliveries": Query("Lieferungen", read.deliveries),
    "rejections": Query("Ablehnungen", read.rejections),
    "tables": Query("Zeilen je Tabelle", read.delivery_tables),
    "holds": Query("Zurückgehaltene Lieferungen", read.holds),
}
HOLD_ROLES = read.holds.spec.roles


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
    if v.role in HOLD_ROLES:
        _holds(ctx)
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


def _holds(ctx: ui.Context) -> None:
    """Deliveries an import threshold held: reasons, decision; koordination decides."""
    held = ctx.run(Q["holds"])
    st.subheader("Zurückgehaltene Lieferungen")
    st.caption(
        "Eine neue Lieferung, die sich gegenüber dem aktuellen Stand des Trägers stärker ändert"
        " als die Importschwellen erlauben, wird zurückgehalten: der bisherige Stand bleibt in"
        " den Zahlen, bis die Koordination freigibt oder verwirft (wirkt im nächsten Lauf)."
    )
    if held.empty:
        st.info("Keine zurückgehaltenen Lieferungen.", icon=":material/check_circle:")
        return
    ui.frame(ctx, held, "Zurückgehaltene Lieferungen", key="holds")
    open_ids = held.loc[held["status"] == "zurückgehalten", "delivery_id"].tolist()
    if ctx.viewer.role != "koordination" or not open_ids:
        return
    names = dict(zip(held["delivery_id"], held["source_name"], strict=True))
    with st.form("delivery_decision"):
        st.markdown("**Zurückgehaltene Lieferung entscheiden**")
        did = st.selectbox("Lieferung", open_ids, format_func=lambda d: f"{names[d]} ({d})")
        action = st.radio(
            "Entscheidung",
            ["release", "reject"],
            format_func={"release": "freigeben", "reject": "verwerfen"}.get,
            horizontal=True,
        )
        reason = st.text_area("Begründung", placeholder="z. B. Altfälle wurden anonymisiert")
        saved = st.form_submit_button(
            "Entscheidung speichern", type="primary", key="decision_submit"
        )
    if saved:
        try:
            message = decide_delivery(
                ctx.source, ctx.viewer, did, action, reason, ctx.user.name, via="dashboard"
            )
        except (ValueError, read.AccessDenied) as exc:
            st.error(f"Nicht gespeichert: {ui.md_text(exc)}")
            return
        data.clear()
        st.success(ui.md_text(message))


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
