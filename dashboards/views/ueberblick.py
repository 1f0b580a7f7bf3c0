"""Überblick: key figures, what needs a decision, cases per quarter."""

from __future__ import annotations

import streamlit as st

from dashboards import catalog, figures, read, ui
from dashboards.disclosure import format_number, format_percent
from dashboards.views import Query, View

Q = {
    "total": Query("Fälle je VZÄ gesamt", read.caseload, {"group_by": (), "benchmarks": True}),
    "gaps": Query("Versorgungslücken gesamt", read.gaps, {"group_by": ()}),
    "closures": Query("strukturelle Abschlüsse", read.structural_closures, {"group_by": ()}),
    "themes": Query("Themen", read.themes),
    "decisions": Query("Was eine Entscheidung braucht", read.decisions),
    "counts": Query("Fälle je Quartal", read.case_counts),
    "cases": Query("Falltabelle", read.cases, on_demand=True),
}


def _value(pub, col: str, fmt) -> str:
    if pub is None or len(pub.table) == 0:
        return "–"
    v = pub.table[col].iloc[-1]
    return v if isinstance(v, str) else fmt(v)


def render(ctx: ui.Context) -> None:
    st.caption(ui.filter_text(ctx))
    ui.suppression_note(ctx)
    s, v = ctx.settings, ctx.viewer
    total = ctx.run_if_published(Q["total"], note=False)  # a funder's year: per quarter only
    # supply gaps are published per programme: for a region or provider the tiles say "–"
    gaps_total = ctx.run_if_published(Q["gaps"], note=False)
    closures = ctx.run_if_published(Q["closures"], note=False)

    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Fälle im Zeitraum", _value(total, "cases_in_period", format_number))
    c2.metric(
        "Fälle je Vollzeitstelle",
        _value(total, "avg_caseload", lambda x: format_number(x, 1)),
        help="Durchschnitt über die Tage des Zeitraums: Falltage / VZÄ-Tage (alle Intensitäten).",
    )
    c3.metric(
        "Ziele ohne passendes Angebot",
        _value(gaps_total, "gap_rate", format_percent),
        help="Anteil der im Zeitraum vereinbarten Ziele, für die kein passendes Angebot "
        "vorhanden war (Lückenquote).",
    )
    if v.suppress_k is None:
        c4.metric(
            "Strukturelle Abschlüsse",
            _value(closures, "structural_share", format_percent),
            help="Anteil der im Zeitraum abgeschlossenen Fälle mit Abschlussgrund "
            "„strukturelle Hindernisse“.",
        )
    else:  # the grid holds structural closures, not all closures (no share)
        c4.metric(
            "Strukturelle Abschlüsse",
            _value(closures, "structural_closures", format_number),
            help="Im Zeitraum abgeschlossene Fälle mit Abschlussgrund „strukturelle Hindernisse“.",
        )

    st.subheader("Was eine Entscheidung braucht")
    dec = ctx.run(Q["decisions"])
    d1, d2, d3 = st.columns(3)
    with d1:
        st.markdown("**Größte Versorgungslücken**")
        if dec["gaps"] is None:
            st.caption(
                "Versorgungslücken werden für abgeschlossene Zeiträume veröffentlicht: bitte"
                " einen abgeschlossenen Zeitraum wählen."
            )
        elif len(dec["gaps"].table):
            for rec in catalog.show(dec["gaps"]).itertuples(index=False):
                domain, region, share = (ui.md_text(x) for x in (rec[0], rec[1], rec[-1]))
                st.markdown(f"- {domain} · {region}: **{share}** der Ziele ohne Angebot")
        else:
            st.caption("Keine ausweisbare Lücke (mind. 10 Ziele je Zelle).")
    with d2:
        st.markdown("**Neue und steigende Themen**")
        t = dec["themes"].table
        if len(t):
            for rec in t.head(6).itertuples(index=False):
                label, status, trend = (ui.md_text(x) for x in (rec.label, rec.status, rec.trend))
                st.markdown(f"- {label} ({status}, {trend})")
            if len(t) > 6:
                st.caption(f"… und {len(t) - 6} weitere unter „Generative Themen“.")
        else:
            st.caption("Keine neuen oder steigenden Themen.")
    with d3:
        st.markdown(
            f"**Über {format_number(s.overload_threshold)} Fälle je VZÄ (Durchschnitt oder "
            "Stichtag) oder ohne VZÄ**"
        )
        o = None if dec["overloaded"] is None else dec["overloaded"].table
        if o is None:
            st.caption("Fallzahlen werden je Quartal veröffentlicht: bitte ein Quartal wählen.")
        elif len(o):
            for rec in o.itertuples(index=False):
                avg, end = (
                    ui.md_text(x if isinstance(x, str) else format_number(x, 1))
                    for x in (rec.avg_caseload, getattr(rec, "caseload_end", None))
                )
                provider = ui.md_text(rec.provider_id)
                if rec.fte_missing:
                    st.markdown(f"- {provider}: keine VZÄ gemeldet – Datenlücke")
                else:
                    at_end = f", {end} am Stichtag" if hasattr(rec, "caseload_end") else ""
                    st.markdown(f"- {provider}: {avg} Fälle je VZÄ (Durchschnitt){at_end}")
        else:
            st.caption("Kein Träger über der Schwelle.")

    st.subheader("Fälle je Quartal")
    counts = ctx.run(Q["counts"])
    ui.figure(figures.cases_per_quarter(counts, title=None), key="cases_q", what="Fälle je Quartal")
    ui.table(ctx, counts, "Fälle je Quartal", key="cases_q", drop=("partial",))
    themes = ctx.run(Q["themes"])
    if len(themes.table):
        st.caption(
            f"{len(themes.table)} Themen im Themenspeicher; Details unter „Generative Themen“."
        )

    if v.case_level:
        with st.expander("Falldaten (pseudonym) für Fallrekonstruktion und Auswertung"):
            st.caption(
                "Eine Zeile je Fall, der im Zeitraum aktiv war (mart.cases): nur pseudonyme "
                "Schlüssel und Codes, keine Freitexte."
                + (" Nur Fälle Ihres Trägers." if v.role == "traeger" else "")
            )
            if st.toggle("Falltabelle laden", key="load_cases"):
                ui.drilldown(ctx, "Fälle im Zeitraum")
                ui.frame(ctx, ctx.run(Q["cases"]), "Fälle im Zeitraum", key="cases")


VIEW = View("ueberblick", "Überblick", ":material/dashboard:", 10, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
