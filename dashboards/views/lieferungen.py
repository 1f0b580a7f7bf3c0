"""Datenlieferungen: status of every delivery, reconciliation per table and every rejection
reason, downloadable in one file."""

from __future__ import annotations

import streamlit as st

from dashboards import access, data, exports, figures, read, ui
from dashboards.decide import decide_delivery, review_flag
from dashboards.views import Query, View
from kernel.decisions import FLAG_STATES

Q = {
    "deliveries": Query("Lieferungen", read.deliveries),
    "rejections": Query("Ablehnungen", read.rejections),
    "tables": Query("Zeilen je Tabelle", read.delivery_tables),
    "holds": Query("Zurückgehaltene Lieferungen", read.holds),
    "scorecard": Query("Scorecard Datenqualität", read.scorecard),
    "flags": Query("Hinweise zur Datenqualität", read.flags),
    "trust": Query("Status je Träger", read.trust),
    "calendar": Query("Lieferkalender", read.calendar),
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
    _calendar(ctx)
    if v.role in HOLD_ROLES:
        _holds(ctx)
        _quality(ctx)
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


def _calendar(ctx: ui.Context) -> None:
    """Trust status per provider and the delivery calendar (expected vs received)."""
    trust = ctx.run(Q["trust"])
    st.subheader("Status je Träger und Lieferkalender")
    st.caption(
        "Erwartet wird je Träger ein vollständiger Stand je Zeitraum (Standard: quartalsweise,"
        " fällig am 15. Tag nach Quartalsende). „veraltet“: die Zahlen des Trägers beruhen auf"
        " einem älteren Stand, als der Kalender verlangt."
    )
    if len(trust):
        c1, c2, c3 = st.columns(3)
        c1.metric("veraltete Träger", int(trust["stale"].sum()))
        c2.metric("zurückgehaltene Lieferungen", int(trust["held_pending"].sum()))
        rate = trust["on_time"].sum() / max(int(trust["expected"].sum()), 1)
        c3.metric("pünktlich geliefert", f"{rate:.0%}".replace(".", ","))
    ui.frame(ctx, trust, "Status je Träger", key="trust")
    with st.expander("Lieferkalender je Zeitraum"):
        ui.frame(ctx, ctx.run(Q["calendar"]), "Lieferkalender", key="calendar")


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


def _quality(ctx: ui.Context) -> None:
    """Scorecard and flags: the provider's round of explaining and correcting."""
    v = ctx.viewer
    flags, card = ctx.run(Q["flags"]), ctx.run(Q["scorecard"])
    st.subheader("Datenqualität je Träger")
    st.caption(
        "Hinweise aus der Scorecard des aktuellen Stands (Füllgrad, Abweisungen, Aktualität der"
        " Dokumentation, Plausibilität gegenüber dem Netzwerk). Ein geprüfter Hinweis bleibt"
        " geprüft, solange der Befund gleich bleibt, und ist wieder offen, wenn er sich"
        " verschlechtert."
    )
    c1, c2 = st.columns(2)
    c1.metric("offene Hinweise", int((flags["state"] == "offen").sum()) if len(flags) else 0)
    c2.metric("Hinweise insgesamt", len(flags))
    ui.frame(ctx, flags, "Hinweise zur Datenqualität", key="quality_flags")
    if len(flags):
        _review_form(ctx, flags)
    with st.expander("Scorecard (alle Regeln)"):
        ui.frame(ctx, card, "Scorecard Datenqualität", key="scorecard")
    providers = sorted(card["provider_id"].dropna().unique()) if len(card) else []
    if not providers:
        return
    pid = (
        v.provider
        if v.role == "traeger"
        else st.selectbox("Träger für die Datei der Quartalsrunde", providers, key="round_pid")
    )
    basis = ctx.basis()

    def xlsx() -> bytes:
        own = read.Viewer("traeger", pid, k=v.k)
        current = read.deliveries(ctx.source, own)
        current = current.loc[
            current["status"].isin(["angenommen", "teilweise angenommen"]), "delivery_id"
        ]
        rejections = read.rejections(ctx.source, own)
        return exports.quality_workbook(
            pid,
            read.flags(ctx.source, own),
            read.scorecard(ctx.source, own),
            rejections[rejections["delivery_id"].isin(current)],
            basis=basis,
            role_label=v.role_label,
        )

    st.download_button(
        "Datenqualität des Trägers für die Quartalsrunde (XLSX)",
        access.on_click(xlsx, ctx.who, fmt="xlsx", title="Datenqualität Träger", k=None),
        file_name=f"datenqualitaet_{pid}.xlsx",
        mime=ui.XLSX,
        key="quality_workbook",
        icon=":material/download:",
        on_click="ignore",
    )


def _review_form(ctx: ui.Context, flags) -> None:
    keys = list(flags.index)

    def label(i) -> str:
        r = flags.loc[i]
        col = f" · {r['column_name']}" if r["column_name"] else ""
        return f"{r['provider_id']} · {r['rule_label']} · {r['table_label']}{col} ({r['state']})"

    with st.form("flag_review"):
        st.markdown("**Hinweis prüfen**")
        i = st.selectbox("Hinweis", keys, format_func=label)
        state = st.radio(
            "Prüfstatus", list(FLAG_STATES), format_func=FLAG_STATES.get, horizontal=True
        )
        reason = st.text_area("Erklärung", placeholder="z. B. Merkmal wird erst ab 2027 erhoben")
        saved = st.form_submit_button("Prüfstatus speichern", key="flag_submit")
    if saved:
        r = flags.loc[i]
        key = {k: r[k] for k in ("provider_id", "rule", "table_name", "column_name")}
        try:
            message = review_flag(ctx.source, ctx.viewer, key, state, reason, ctx.user.name)
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
