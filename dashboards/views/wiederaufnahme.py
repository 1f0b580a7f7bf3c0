"""Wiederaufnahme & Rückfall: observed rates with Wilson intervals, Kaplan–Meier curves with
intervals and numbers at risk, each with its full definition."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboards import catalog, figures, read, ui
from dashboards.disclosure import format_percent
from dashboards.views import Query, View, herkunft
from data_contracts import load_contract

Q = {
    "reentry": Query("Quoten Wiederaufnahme", read.reentry),
    "relapse": Query("Quoten Rückfall (pcve)", read.reentry, program="pcve"),
    "km_reentry": Query("Kaplan–Meier Wiederaufnahme", read.km_curve, {"event": "reentry"}),
    "km_relapse": Query(
        "Kaplan–Meier Rückfall", read.km_curve, {"event": "relapse"}, program="pcve"
    ),
    "cases": Query("abgeschlossene Fälle", read.reentry_cases, on_demand=True),
    "lineage": Query("Herkunft der Quoten", read.reentry_lineage, on_demand=True),
}
EVENTS = {"reentry": "Wiederaufnahme", "relapse": "Rückfall"}


def km_table(km: dict):
    """The curve's numbers as shown: day, cumulative incidence and its 95 % interval (a
    suppressed reader gets the incidence in whole percent and no interval, `curves.coarse`)."""
    curve = km["curve"][["horizon", "cumulative_incidence", "ci_low", "ci_high"]]
    interval = curve["ci_low"].notna().any()
    if not interval:
        curve = curve.drop(columns=["ci_low", "ci_high"])
    shown = curve.rename(
        columns={
            "horizon": "Tage seit Fallabschluss",
            "cumulative_incidence": "kumulierte Inzidenz",
            "ci_low": "95 %-KI unten",
            "ci_high": "95 %-KI oben",
        }
    )
    for col in list(shown.columns)[1:]:
        shown[col] = shown[col].map(lambda x: format_percent(x, 1 if interval else 0))
    return shown


def render(ctx: ui.Context) -> None:
    v, f = ctx.viewer, ctx.filters
    st.caption(
        ui.filter_text(ctx, periods=False)
        + " · Grundgesamtheit: alle bis zum Datenstand abgeschlossenen Fälle (der Zeitraumfilter "
        "gilt hier nicht; das Fenster beginnt mit dem Fallabschluss)."
    )
    ui.suppression_note(ctx)
    kw = {}
    if v.network_k is None:  # published figures: the grid has no such breakdown
        codes = load_contract().codes
        c1, c2 = st.columns(2)
        intensities = c1.multiselect(
            "Intensität",
            list(codes["intensity"].values),
            format_func=lambda c: catalog.code_label("intensity", c),
            placeholder="alle",
            key="re_intensity",
        )
        reasons = c2.multiselect(
            "Abschlussgrund",
            list(codes["close_reason"].values),
            format_func=lambda c: catalog.code_label("close_reason", c),
            placeholder="alle",
            key="re_reason",
        )
        kw = {"intensities": tuple(intensities), "close_reasons": tuple(reasons)}
    # relapses are documented in exit and distancing work: that is their base population
    pcve = not f.programs and "pcve" in ctx.run_options()["programs"]
    if v.network_k is not None:  # a published figure has one breakdown: the grid's cells
        pcve = pcve and not f.regions and not read.effective_providers(v, f)
    queries = {
        "reentry": (Q["reentry"], Q["km_reentry"]),
        "relapse": tuple(
            q if pcve else replace(q, program=None) for q in (Q["relapse"], Q["km_relapse"])
        ),
    }
    rates = ctx.run(Q["reentry"], **kw)
    share = rates.table["person_key_share"].iloc[0] if len(rates.table) else None
    share_text = share if isinstance(share, str) else format_percent(share)
    st.info(
        f"Anteil der abgeschlossenen Fälle mit Personen-Pseudonym: **{share_text}**. Ohne "
        "Pseudonym sind nur Wiedereröffnungen über „vorheriger Fall“ beim selben Träger sichtbar.",
        icon=":material/info:",
    )
    for event, title in EVENTS.items():
        st.subheader(title)
        rates_q, km_q = queries[event]
        if not read.event_published(v, f, event):
            st.info(read.NOT_PUBLISHED_NOTE, icon=":material/info:")
            continue
        if event == "relapse" and rates_q.program:
            st.caption(
                "Grundgesamtheit: abgeschlossene Fälle der "
                f"{catalog.code_label('program', 'pcve')}, wo Rückfälle dokumentiert werden "
                "(mit dem Programmfilter änderbar)."
            )
        table = ctx.run(rates_q, **kw)
        sub = table.rows((table.table["event"] == event).to_numpy())
        km = ctx.run(km_q, **kw)
        if km["withheld"]:
            st.caption(
                f"Kurve nicht ausgewiesen: weniger als {km['k']} Fälle oder Ereignisse, oder die"
                " Zahlen unter Risiko sind zum Schutz kleiner Zahlen verborgen."
            )
        else:
            ui.figure(
                figures.km_curves([km], title=None),
                key=f"km_{event}",
                what=f"{title}: kumulierte Inzidenz nach Tagen seit Fallabschluss",
                data=km_table(km),
            )
        ui.table(
            ctx,
            sub,
            f"{title}: Quoten je Fenster",
            key=f"rates_{event}",
            drop=("event", "definition", "person_key_share", "with_person_key"),
        )
        with st.expander(f"Definition „{title}“ (vollständig)"):
            for rec in sub.table.itertuples(index=False):
                st.markdown(f"**{rec.window_days} Tage:** {ui.md_text(rec.definition)}")

    herkunft.reentry_panel(ctx, Q["lineage"], ctx.settings.windows)
    if v.case_level:
        with st.expander("Abgeschlossene Fälle (pseudonym, eine Zeile je Fall)"):
            if st.toggle("Falltabelle laden", key="load_reentry_cases"):
                ui.drilldown(ctx, "Abgeschlossene Fälle")
                ui.frame(ctx, ctx.run(Q["cases"]), "Abgeschlossene Fälle", key="reentry_cases")


VIEW = View("wiederaufnahme", "Wiederaufnahme & Rückfall", ":material/replay:", 50, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
