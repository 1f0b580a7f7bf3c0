"""Wiederaufnahme & Rückfall: observed rates with Wilson intervals, Kaplan–Meier curves with
intervals and numbers at risk, each with its full definition."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboards import access, figures, ui
from pipelines.disclosure import format_percent


def render() -> None:
    ctx = ui.require("wiederaufnahme")
    v, f, s = ctx.viewer, ctx.filters, ctx.settings
    st.caption(
        ui.filter_text(ctx, periods=False)
        + " · Grundgesamtheit: alle bis zum Datenstand abgeschlossenen Fälle (der Zeitraumfilter "
        "gilt hier nicht; das Fenster beginnt mit dem Fallabschluss)."
    )
    ui.suppression_note(ctx)
    c1, c2 = st.columns(2)
    intensities = c1.multiselect(
        "Intensität",
        ["information", "verweisberatung", "case_management"],
        format_func=lambda c: access.code_label("intensity", c),
        placeholder="alle",
        key="re_intensity",
    )
    reasons = c2.multiselect(
        "Abschlussgrund",
        [
            "ziel_erreicht",
            "beendigung_klient",
            "mangelnde_kooperation",
            "strukturelle_hindernisse",
            "kein_kontakt",
            "weitervermittlung",
            "sonstiges",
        ],
        format_func=lambda c: access.code_label("close_reason", c),
        placeholder="alle",
        key="re_reason",
    )
    kw = dict(intensities=tuple(intensities), close_reasons=tuple(reasons))
    rates = ctx.load(
        "reentry", v, f, windows=tuple(s.windows), transfer_max_days=s.transfer_max_days, **kw
    )
    share = rates.table["person_key_share"].iloc[0] if len(rates.table) else None
    share_text = share if isinstance(share, str) else format_percent(share)
    st.info(
        f"Anteil der abgeschlossenen Fälle mit Personen-Pseudonym: **{share_text}**. Ohne "
        "Pseudonym sind nur Wiedereröffnungen über „vorheriger Fall“ beim selben Träger sichtbar.",
        icon=":material/info:",
    )
    options = ctx.load("filter_options", v)
    relapse_f = f
    relapse_note = ""
    if not f.programs and "pcve" in options["programs"]:
        # relapses are documented in exit and distancing work: that is the base population
        relapse_f = replace(f, programs=("pcve",))
        relapse_note = (
            "Grundgesamtheit: abgeschlossene Fälle der "
            f"{access.code_label('program', 'pcve')}, wo Rückfälle dokumentiert werden "
            "(mit dem Programmfilter änderbar)."
        )
        rel = ctx.load(
            "reentry",
            v,
            relapse_f,
            windows=tuple(s.windows),
            transfer_max_days=s.transfer_max_days,
            **kw,
        )
        rates = access.Published(
            pd.concat(
                [
                    rates.table[rates.table["event"] == "reentry"],
                    rel.table[rel.table["event"] == "relapse"],
                ],
                ignore_index=True,
            ),
            pd.concat(
                [
                    rates.flags[rates.table["event"] == "reentry"],
                    rel.flags[rel.table["event"] == "relapse"],
                ],
                ignore_index=True,
            ),
            rates.k,
        )
    for event, title in (("reentry", "Wiederaufnahme"), ("relapse", "Rückfall")):
        st.subheader(title)
        ef = relapse_f if event == "relapse" else f
        if event == "relapse" and relapse_note:
            st.caption(relapse_note)
        sub = access.subset(rates, rates.table["event"] == event)
        km = ctx.load("km_curve", v, ef, event=event, horizon=max(s.windows), **kw)
        if km["withheld"]:
            st.caption(f"Kurve nicht ausgewiesen: weniger als {km['k']} Fälle oder Ereignisse.")
        else:
            ui.figure(
                figures.km_curves([km], title=None, windows=tuple(s.windows)), key=f"km_{event}"
            )
        ui.table(
            ctx,
            sub,
            f"{title}: Quoten je Fenster",
            key=f"rates_{event}",
            drop=("event", "definition", "person_key_share"),
        )
        with st.expander(f"Definition „{title}“ (vollständig)"):
            for rec in sub.table.itertuples(index=False):
                st.markdown(f"**{rec.window_days} Tage:** {rec.definition}")

    if v.case_level:
        with st.expander("Abgeschlossene Fälle (pseudonym, eine Zeile je Fall)"):
            if st.toggle("Falltabelle laden", key="load_reentry_cases"):
                ui.frame(
                    ctx,
                    ctx.load("reentry_cases", v, f),
                    "Abgeschlossene Fälle",
                    key="reentry_cases",
                )


render()
