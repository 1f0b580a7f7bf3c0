"""Zugriffsprotokoll (koordination only): who logged in, opened which view, downloaded,
drilled down or wrote a report — with role, provider scope, filters and suppression, never a
data value. Read from WORKSPACE/audit/access.jsonl (kernel/access_log.py), not from the
published copy, so it declares no read-side query; the role check is the view's own."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboards import ui
from dashboards.views import View
from kernel import access_log

COLUMNS = {
    "ts": "Zeit",
    "event": "Ereignis",
    "user": "Nutzer",
    "role": "Rolle",
    "provider": "Träger (Bindung)",
    "view": "Ansicht",
    "object": "Inhalt",
    "period": "Quartal",
    "format": "Format",
    "suppression": "Geheimhaltung",
    "filters": "Filter",
    "reason": "Grund",
    "client": "Client",
    "source": "über",
}


def _filters_text(f) -> str:
    if not isinstance(f, dict):
        return ""
    parts = []
    if f.get("period_from"):
        parts.append(f"{f['period_from']} bis {f.get('period_to') or f['period_from']}")
    for key, label in (("programs", "Programm"), ("regions", "Region"), ("providers", "Träger")):
        if f.get(key):
            parts.append(f"{label} {', '.join(f[key])}")
    return " · ".join(parts)


def frame(entries: list[dict]) -> pd.DataFrame:
    rows = []
    for e in reversed(entries):  # newest first
        row = {label: e.get(key) for key, label in COLUMNS.items()}
        row["Zeit"] = str(e.get("ts", "")).replace("T", " ")
        row["Ereignis"] = access_log.EVENTS.get(e.get("event"), e.get("event"))
        row["Filter"] = _filters_text(e.get("filters"))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS.values()))


def render(ctx: ui.Context) -> None:
    days = ctx.settings.access_log_retention_days
    st.caption(
        "Jede Anmeldung und jeder Fehlversuch, jede geöffnete Ansicht, jeder Download, jeder "
        "Drill-down in Falldaten und jeder Bericht – mit Rolle, Träger-Bindung, Filtern und "
        f"Geheimhaltung, ohne Datenwerte. Aufbewahrung {days} Tage."
    )
    c1, c2 = st.columns(2)
    since = c1.date_input(
        "ab", value=date.today() - timedelta(days=30), format="DD.MM.YYYY", key="log_since"
    )
    events = c2.multiselect(
        "Ereignis",
        list(access_log.EVENTS),
        format_func=access_log.EVENTS.get,
        placeholder="alle",
        key="log_events",
    )
    entries = access_log.read(ctx.workspace, since)
    if events:
        entries = [e for e in entries if e.get("event") in events]
    if not entries:
        st.info("Keine Einträge im gewählten Zeitraum.", icon=":material/policy:")
        return
    ui.frame(ctx, frame(entries), "Zugriffsprotokoll", key="access_log")


VIEW = View("zugriffe", "Zugriffsprotokoll", ":material/policy:", 80, {}, roles=("koordination",))

if __name__ == "__main__":
    ui.page(VIEW, render)
