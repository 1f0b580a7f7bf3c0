"""Generative Themen: the theme register with trends, exemplary cases and (for the
coordinating office) status editing."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboards import data, read, ui
from dashboards import figures as fig
from dashboards.views import Query, View, herkunft
from transforms.themes.register import STATUS_LABELS, STATUSES
from transforms.themes.store import set_theme_status, theme_history


def _first_theme(source, viewer) -> dict:
    """A theme to time the exemplary cases with (the benchmark's sample)."""
    ids = read.themes(source, viewer).table["theme_id"].head(1).tolist()
    return {"theme_id": ids[0] if ids else ""}


Q = {
    "themes": Query("Themen", read.themes),
    "trend": Query("Themenverlauf", read.theme_trend),
    "cases": Query("exemplarische Fälle", read.theme_cases, sample=_first_theme),
    "lineage": Query(
        "Herkunft der Themenzahlen", read.theme_lineage, sample=_first_theme, on_demand=True
    ),
}


def render(ctx: ui.Context) -> None:
    v, s = ctx.viewer, ctx.settings
    st.caption(
        f"Ein kodiertes Thema ist ein Paar aus Hürde und Lebensbereich, das im Fenster der "
        f"letzten {s.theme_window_quarters} Quartale bis zum Datenstand in mindestens "
        f"{s.theme_min_cases} Fällen von mindestens {s.theme_min_providers} Trägern vorkommt; "
        "Textthemen gruppieren die anonymisierten Notizen nach Inhalt. Der Zeitraumfilter gilt "
        "hier nicht."
    )
    ui.suppression_note(ctx)
    themes = ctx.run(Q["themes"])
    if len(themes.table) == 0:
        st.info("Noch keine Themen erkannt.")
        return
    ui.table(ctx, themes, "Themenspeicher", key="themes", drop=("active",))

    trend = ctx.run(Q["trend"])
    if len(trend.table):
        ui.figure(
            fig.theme_trends(trend, title=None),
            key="theme_trend",
            what="Fälle je Thema nach Quartal der ersten Nennung",
            data=trend,
        )
        st.caption("Fälle je Thema nach dem Quartal ihrer ersten Nennung im Themenfenster.")

    st.subheader("Thema im Detail")
    options = list(themes.table["theme_id"])
    labels = dict(zip(themes.table["theme_id"], themes.table["label"], strict=True))
    theme_id = st.selectbox(
        "Thema", options, format_func=lambda t: f"{labels.get(t, t)} ({t})", key="theme_pick"
    )
    if v.case_level:
        cases = ctx.run(Q["cases"], theme_id=theme_id)
        title = "Exemplarische Fälle für die Fallrekonstruktion"
        if v.role == "traeger":
            title += " (eigene Fälle)"
        st.markdown(f"**{title}**")
        ui.drilldown(ctx, f"Exemplarische Fälle zum Thema {theme_id}")
        if len(cases):
            ui.frame(
                ctx,
                cases,
                title,
                key="theme_cases",
                caption="Nur pseudonyme Schlüssel; die typischsten Fälle zuerst.",
            )
        else:
            st.caption("Keine Fälle.")
        herkunft.theme_panel(ctx, Q["lineage"], theme_id)

    if v.edits_register:
        _history(ctx, theme_id)
        _edit(ctx, theme_id, themes.table)


def _history(ctx: ui.Context, theme_id: str) -> None:
    with st.expander("Verlauf und Beschlüsse"):
        try:
            hist = theme_history(ctx.workspace, theme_id)
        except Exception as exc:  # register missing or locked
            st.caption(f"Verlauf nicht verfügbar: {ui.md_text(exc)}")
            return
        if len(hist):
            columns = {
                "decided_on": "Datum",
                "entry_kind": "Art",
                "user_name": "von",
                "old_status": "Status vorher",
                "new_status": "Status",
                "new_owner": "Gremium",
                "note": "Notiz",
            }
            shown = hist[[c for c in columns if c in hist.columns]].rename(columns=columns)
            st.dataframe(shown, hide_index=True)


def _edit(ctx: ui.Context, theme_id: str, table) -> None:
    row = table[table["theme_id"] == theme_id].iloc[0]
    current = row["status"] if row["status"] in STATUSES else STATUSES[0]
    with st.form(f"edit_{theme_id}"):
        st.markdown("**Status im Themenspeicher ändern**")
        status = st.selectbox(
            "Status",
            STATUSES,
            index=STATUSES.index(current),
            format_func=lambda x: STATUS_LABELS.get(x, x),
        )
        owner = st.text_input("Zuständiges Gremium", value=row.get("owner") or "")
        note = st.text_area("Beschlussnotiz", placeholder="z. B. Beschluss der AG vom …")
        decided_on = st.date_input("Beschlossen am", value=date.today(), format="DD.MM.YYYY")
        saved = st.form_submit_button("Speichern", type="primary")
    if saved:
        try:
            change = set_theme_status(
                ctx.workspace,
                theme_id,
                status,
                owner=owner,
                note=note or None,
                decided_on=decided_on,
                user=ctx.user.name,
            )
        except Exception as exc:
            st.error(f"Nicht gespeichert: {ui.md_text(exc)}")
            return
        data.clear()
        old, new = (ui.md_text(change.get(k)) for k in ("old_status", "new_status"))
        st.success(f"Gespeichert: {VIEW.title} – {ui.md_text(theme_id)}: {old} → {new}.")


VIEW = View("themen", "Generative Themen", ":material/topic:", 30, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
