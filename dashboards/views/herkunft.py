"""„Wie entsteht diese Zahl?“: a view opens one of its figures down to the rows it counts and
the deliveries they came from (read/lineage.py). Case level, so only for the roles that may
see cases (never a funder), loaded on demand and recorded in the access log as a drill-down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from dashboards import catalog, ui
from dashboards.read import gap_counts, lineage, process_cases
from dashboards.read.gate import CASE_LEVEL_ROLES
from dashboards.read.process import PROCESS_COUNTS

TITLE = "Wie entsteht diese Zahl?"
ICON = ":material/account_tree:"
OWN = " Nur Ihre eigenen Fälle."

GAP_COLUMNS = {
    "provider_id": "Träger",
    "case_id": "Fall (Pseudonym)",
    "goal_id": "Ziel",
    "domain": "Lebensbereich",
    "quarter": "Quartal",
    "set_on": "vereinbart am",
    "offer_available": "passendes Angebot",
    "delivery": "Lieferung",
    "snapshot_on": "Stand der Lieferung",
}


def lineage_shown(ctx: ui.Context) -> bool:
    """Whether this viewer gets lineage at all: case level, and never in the published view
    ("für Veröffentlichung": suppressed cells must not be recountable from case lists)."""
    return ctx.viewer.role in CASE_LEVEL_ROLES and ctx.viewer.suppress_k is None


def gap_panel(ctx: ui.Context, query, *, release_id: str | None = None) -> None:
    """Supply gaps of the page's selection, per domain: definition, the three counts
    recounted from their goals, the goals with case and delivery. `release_id`: `ctx` reads
    that release's rebuilt snapshot (its deliveries then, not today's)."""
    if not lineage_shown(ctx):
        return
    title = "Wie entsteht diese Zahl?" + (" (Versorgungslücken)" if release_id else "")
    with st.expander(title, icon=":material/account_tree:"):
        st.caption(
            "Lückenquote = Ziele ohne passendes Angebot / alle vereinbarten Ziele; Fälle mit"
            " Lücke = Fälle mit mindestens einem Ziel ohne passendes Angebot. Jede Zeile ist"
            " ein im Zeitraum vereinbartes Ziel aus der aktuellen Lieferung ihres Trägers."
            + (" Nur Ziele Ihrer eigenen Fälle." if ctx.viewer.role == "traeger" else "")
        )
        if not st.toggle("Ziele und Fälle laden", key="lineage_gaps"):
            return
        goals = ctx.run(query)
        if goals.empty:
            st.info("Im gewählten Zeitraum wurden keine Ziele vereinbart.")
            return
        domains = sorted(goals["domain"].dropna().unique())
        domain = st.selectbox(
            "Lebensbereich",
            domains,
            format_func=lambda d: catalog.code_label("domain", d),
            key="lineage_domain",
        )
        rows = goals[goals["domain"] == domain]
        where = f", Veröffentlichung {release_id}" if release_id else ""
        ui.drilldown(ctx, f"Herkunft Versorgungslücken ({domain}{where})")
        counts = gap_counts(rows)
        for col, (name, value) in zip(st.columns(3), counts.items(), strict=True):
            col.metric(catalog.label(name), value)
        shown = rows[list(GAP_COLUMNS)].rename(columns=GAP_COLUMNS)
        ui.frame(ctx, shown, f"Herkunft der Versorgungslücken – {domain}", key="lineage_gaps")


def cases_panel(ctx: ui.Context, query, *, release_id: str) -> None:
    """ "Fälle im Zeitraum" of a release, per provider, down to the cases and their delivery."""
    if not lineage_shown(ctx):
        return
    with st.expander(
        "Wie entsteht diese Zahl? (Fälle im Zeitraum)", icon=":material/account_tree:"
    ):
        st.caption(
            "Fälle im Zeitraum = Fälle, die an mindestens einem Tag des Quartals offen waren;"
            " jede Zeile ein Fall aus der Lieferung, auf der die Veröffentlichung beruht."
        )
        if not st.toggle("Fälle laden", key="lineage_cases"):
            return
        cases = ctx.run(query)
        ui.drilldown(ctx, f"Herkunft Fälle im Zeitraum (Veröffentlichung {release_id})")
        st.metric(catalog.label("cases_in_period"), len(cases))
        per_provider = cases.groupby("provider_id").size().rename("Fälle").reset_index()
        st.dataframe(per_provider, hide_index=True, key="lineage_cases_per_provider")
        shown = cases[["provider_id", "case_id", "program", "opened_on", "closed_on", "delivery"]]
        ui.frame(ctx, shown, f"Fälle im Zeitraum – {release_id}", key="lineage_cases")


def process_panel(ctx: ui.Context, query) -> None:
    """A process-quality count of the page's selection down to its cases (of the case table:
    the cases active in the span), each with its delivery."""
    with _drill(
        ctx,
        "process",
        "Prozessqualität",
        "Gezählt werden die im Zeitraum aktiven Fälle, die die Bedingung der Kennzahl"
        " erfüllen; jede Zeile ein Fall aus der aktuellen Lieferung seines Trägers.",
    ) as loaded:
        if not loaded:
            return
        count = st.selectbox(
            "Kennzahl", PROCESS_COUNTS, format_func=catalog.label, key="lineage_process_count"
        )
        cases = process_cases(ctx.run(query), count)
        ui.drilldown(ctx, f"Herkunft Prozessqualität ({count})")
        _recount({count: len(cases)})
        columns = {**CASE_COLUMNS, **DELIVERY_COLUMNS}
        _rows(ctx, cases, columns, f"Herkunft – {catalog.label(count)}", "process")


# ---------------------------------------------------------------------------------------------
# the other figure families: one skeleton (definition, rows on demand, recount, rows)


@contextmanager
def _drill(
    ctx: ui.Context, key: str, figure: str, definition: str, load: str = "Fälle laden"
) -> Iterator[bool]:
    """The expander "Wie entsteht diese Zahl? (figure)" with the figure's definition; yields
    True once the user loads the rows (case level: never for a funder, never in the published
    view)."""
    if not lineage_shown(ctx):
        yield False
        return
    with st.expander(f"{TITLE} ({figure})", icon=ICON):
        own = OWN if ctx.viewer.role == "traeger" else ""
        st.caption(definition + own)
        yield st.toggle(load, key=f"lineage_{key}")


def _of(release_id: str | None) -> str:
    """What the access log adds when the rows are those of a release's snapshot."""
    return f", Veröffentlichung {release_id}" if release_id else ""


def _recount(counts: dict) -> None:
    """The figures recounted from the rows below, as metrics (labels from the catalogue)."""
    for col, (name, value) in zip(st.columns(len(counts)), counts.items(), strict=True):
        col.metric(catalog.label(name), _metric_text(value))


def _metric_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",")
    return f"{int(value):,}".replace(",", ".")


def _rows(ctx: ui.Context, rows: pd.DataFrame, columns: dict[str, str], title: str, key: str):
    shown = rows[[c for c in columns if c in rows.columns]].rename(columns=columns)
    ui.frame(ctx, shown, title, key=f"lineage_{key}")


CASE_COLUMNS = {
    "provider_id": "Träger",
    "case_id": "Fall (Pseudonym)",
    "program": "Programm",
    "opened_on": "eröffnet am",
    "closed_on": "abgeschlossen am",
}
DELIVERY_COLUMNS = {"delivery": "Lieferung", "snapshot_on": "Stand der Lieferung"}


def waits_panel(ctx: ui.Context, query, *, release_id: str | None = None) -> None:
    """Referral waits per service type down to the referrals."""
    with _drill(
        ctx,
        "waits",
        "Wartezeiten",
        "Vermittlungen = im Zeitraum angefragt; Wartezeit = Beginn − Anfrage über die im"
        " Zeitraum begonnenen; wartend = angefragt, am letzten gezählten Tag nicht begonnen und"
        " nicht ohne Beginn beendet. Jede Zeile eine Vermittlung aus der aktuellen Lieferung.",
        "Vermittlungen laden",
    ) as loaded:
        if not loaded:
            return
        rows = ctx.run(query)
        if rows.empty:
            st.info("Keine Vermittlungen im gewählten Zeitraum.")
            return
        service = st.selectbox(
            "Angebotsart",
            sorted(rows["service_type"].dropna().unique()),
            format_func=lambda c: catalog.code_label("service_type", c),
            key="lineage_service",
        )
        chosen = rows[rows["service_type"] == service]
        ui.drilldown(ctx, f"Herkunft Wartezeiten ({service}{_of(release_id)})")
        _recount(lineage.wait_counts(chosen))
        columns = {
            **{c: CASE_COLUMNS[c] for c in ("provider_id", "case_id")},
            "referral_id": "Vermittlung",
            "requested_on": "angefragt am",
            "started_on": "begonnen am",
            "outcome": "Ergebnis",
            "wait_days": "Wartezeit (Tage)",
            "requested_in_span": "im Zeitraum angefragt",
            "started_in_span": "im Zeitraum begonnen",
            "waiting_at_end": "wartend am Stichtag",
            **DELIVERY_COLUMNS,
        }
        _rows(ctx, chosen, columns, f"Herkunft der Wartezeiten – {service}", "waits")


def closures_panel(ctx: ui.Context, query, *, release_id: str | None = None) -> None:
    """Closures per quarter down to the closed cases."""
    with _drill(
        ctx,
        "closures",
        "strukturelle Abschlüsse",
        "Abschlüsse = Fälle mit Abschlussdatum im Quartal (bis zum Datenstand); strukturelle"
        " Abschlüsse = Abschlussgrund „strukturelle Hindernisse“. Jede Zeile ein Fall aus der"
        " aktuellen Lieferung seines Trägers.",
    ) as loaded:
        if not loaded:
            return
        rows = ctx.run(query)
        if rows.empty:
            st.info("Keine Abschlüsse im gewählten Zeitraum.")
            return
        quarter = st.selectbox(
            "Quartal", sorted(rows["quarter"].unique()), key="lineage_closure_quarter"
        )
        chosen = rows[rows["quarter"] == quarter]
        ui.drilldown(ctx, f"Herkunft strukturelle Abschlüsse ({quarter}{_of(release_id)})")
        _recount(lineage.closure_counts(chosen))
        chosen = chosen.assign(
            close_reason=chosen["close_reason"].map(lambda c: catalog.code_label("close_reason", c))
        )
        columns = {
            **CASE_COLUMNS,
            "close_reason": "Abschlussgrund",
            "structural": "strukturell",
            **DELIVERY_COLUMNS,
        }
        _rows(ctx, chosen, columns, f"Herkunft der Abschlüsse – {quarter}", "closures")


def caseload_panel(ctx: ui.Context, query, *, scope: str, release_id: str | None = None) -> None:
    """Caseload per FTE of one provider down to its cases' days and its caseworkers' FTE."""
    with _drill(
        ctx,
        "caseload",
        "Fälle je VZÄ",
        "Fälle je VZÄ = Falltage / VZÄ-Tage. Falltage = Summe der Tage, an denen jeder Fall im"
        " Zeitraum offen war (bis zum Datenstand); VZÄ-Tage = Summe über die Fachkräfte von"
        " VZÄ × gültige Tage. Zeilen: die Fälle und die Fachkräfte (pseudonym) des Trägers.",
    ) as loaded:
        if not loaded:
            return
        rows = ctx.run(query, scope=scope)
        cases, staffing = rows["cases"], rows["staffing"]
        providers = sorted(set(cases["provider_id"]) | set(staffing["provider_id"]))
        if not providers:
            st.info("Keine Fälle und kein Personal im gewählten Zeitraum.")
            return
        provider = st.selectbox("Träger", providers, key="lineage_caseload_provider")
        cases = cases[cases["provider_id"] == provider]
        staffing = staffing[staffing["provider_id"] == provider]
        ui.drilldown(ctx, f"Herkunft Fälle je VZÄ ({provider}{_of(release_id)})")
        _recount(lineage.caseload_counts(cases, staffing))
        columns = {**CASE_COLUMNS, "active_days": "Tage im Zeitraum"}
        columns |= {"active_at_end": "aktiv am Stichtag", **DELIVERY_COLUMNS}
        _rows(ctx, cases, columns, f"Falltage – {provider}", "caseload_cases")
        staff_columns = {
            "provider_id": "Träger",
            "caseworker_id": "Fachkraft (Pseudonym)",
            "program": "Programm",
            "region_code": "Region",
            "fte_days": "VZÄ-Tage",
            "fte_end": "VZÄ am Stichtag",
            **DELIVERY_COLUMNS,
        }
        _rows(ctx, staffing, staff_columns, f"VZÄ-Tage – {provider}", "caseload_staff")


def reentry_panel(ctx: ui.Context, query, windows, *, release_id: str | None = None) -> None:
    """Re-entry and relapse counts of one window down to the closed cases."""
    own = ctx.viewer.role == "traeger"
    with _drill(
        ctx,
        "reentry",
        "Wiederaufnahme und Rückfall",
        "Grundgesamtheit: alle bis zum Datenstand abgeschlossenen Fälle; mit voller"
        " Nachbeobachtung = seit mindestens Fensterlänge Tagen abgeschlossen; Ereignis im Fenster"
        " = Wiederaufnahme bzw. Rückfall innerhalb der Fensterlänge."
        + (
            " Ereignisse, die andere Träger dokumentiert haben, erscheinen nicht je Fall; sie"
            " gehen nur in die geschützten Quoten ein."
            if own
            else ""
        ),
    ) as loaded:
        if not loaded:
            return
        rows = ctx.run(query)
        c1, c2 = st.columns(2)
        names = {"reentry": "Wiederaufnahme", "relapse": "Rückfall"}
        event = c1.selectbox("Ereignis", list(names), format_func=names.get, key="lineage_event")
        window = c2.selectbox("Fenster (Tage)", list(windows), key="lineage_window")
        what = f"{names[event]} {window} Tage"
        ui.drilldown(ctx, f"Herkunft {what}{_of(release_id)}")
        _recount(lineage.reentry_counts(rows, event, window, events=not own))
        masks = lineage.window_masks(rows, event, window)
        rows = rows.assign(eligible=masks["eligible"], observed=masks["observed"])
        days = f"{event}_days"
        columns = {**CASE_COLUMNS, "followup_days": "Tage seit Abschluss"}
        columns |= {
            days: "Tage bis zum Ereignis" + (" (eigene Aufzeichnungen)" if own else ""),
            "eligible": "volle Nachbeobachtung",
            "observed": "Ereignis im Fenster",
            **DELIVERY_COLUMNS,
        }
        _rows(ctx, rows, columns, f"Herkunft {what}", "reentry")


def theme_panel(ctx: ui.Context, query, theme_id: str) -> None:
    """A theme's case counts down to its cases."""
    with _drill(
        ctx,
        "theme",
        "Themenzahlen",
        "Fälle eines Themas = Fälle, in denen das Thema im Themenfenster vorkommt; erste /"
        " zweite Fensterhälfte nach der Nennung. Jede Zeile ein Fall aus der aktuellen"
        " Lieferung seines Trägers.",
    ) as loaded:
        if not loaded:
            return
        rows = ctx.run(query, theme_id=theme_id)
        ui.drilldown(ctx, f"Herkunft Thema {theme_id}")
        if rows.empty:
            st.info("Keine Fälle.")
            return
        counts = lineage.theme_counts(rows)
        if ctx.viewer.role == "traeger":
            counts = {"own_cases": counts["cases"]}
        _recount(counts)
        columns = {
            "provider_id": "Träger",
            "case_id": "Fall (Pseudonym)",
            "first_noted": "erste Nennung",
            "last_noted": "letzte Nennung",
            "in_prev": "erste Fensterhälfte",
            "in_recent": "zweite Fensterhälfte",
            **DELIVERY_COLUMNS,
        }
        _rows(ctx, rows, columns, f"Herkunft Thema {theme_id}", "theme")
