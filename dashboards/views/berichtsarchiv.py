"""Berichtsarchiv: the releases of the reports (`lagebild release`), their files, what each
rests on, and what changed between two releases of the same report.

Releases live in WORKSPACE/releases (dashboards/reports/release.py), not in the published
copy, so the view declares no read-side query; who sees which release is
`release.READERS`, what a release rests on only koordination and evaluation. Every download
is recorded in the access log."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboards import read, ui
from dashboards.markup import md_text
from dashboards.reports import release
from dashboards.reports.model import KINDS
from dashboards.views import Query, View, herkunft

MIME = {
    "bericht.pdf": "application/pdf",
    "bericht.html": "text/html",
    "bericht.xlsx": ui.XLSX,
}
CHANGE_COLUMNS = {
    "table": "Tabelle",
    "row": "Zeile",
    "column": "Spalte",
    "value_before": "vorher",
    "value_after": "nachher",
}


def register_frame(df: pd.DataFrame, internal: bool) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "Veröffentlichung": df["release_id"],
            "Bericht": df["kind"].map(KINDS),
            "Quartal": df["period"],
            "Datenstand": df["as_of"],
            "erstellt": df["created_at"].astype(str).str.replace("T", " ").str[:16],
            "Notiz": df["note"].fillna(""),
        }
    )
    if internal:
        out.insert(5, "von", df["created_by"].fillna(""))
    return out


def _details(ctx: ui.Context, release_id: str) -> None:
    manifest = release.load_manifest(ctx.workspace, release_id)
    problems = release.tampered_files(ctx.workspace, manifest)
    if problems:
        st.error(
            "Die Dateien dieser Veröffentlichung stimmen nicht mit ihrem Manifest überein: "
            + "; ".join(problems)
            + ". Bitte die Koordination informieren; `lagebild verify` prüft sie.",
            icon=":material/gpp_bad:",
        )
    else:
        st.success(
            "Alle Dateien unverändert (SHA-256 wie im Manifest).", icon=":material/verified:"
        )
    cols = st.columns(len(release.REPORT_FILES))
    for col, (name, label) in zip(cols, release.REPORT_FILES.items(), strict=True):
        if name not in manifest["files"]:
            continue
        with col:
            ui.file_button(
                ctx,
                label,
                lambda name=name: release.release_file(ctx.workspace, release_id, name),
                f"{release_id}.{name.rsplit('.', 1)[-1]}",
                MIME[name],
                title=f"Veröffentlichung {release_id}",
                k=manifest["suppression_k"],
                key=f"release_{name}",
            )
    if ctx.viewer.role not in release.MANIFEST_READERS:
        return
    with st.expander("Worauf die Veröffentlichung beruht (Manifest)"):
        used = [d for d in manifest["deliveries"] if d.get("current_tables")]
        code = manifest["code"]
        m = {k: md_text(v) for k, v in manifest.items() if not isinstance(v, (dict, list))}
        commit = md_text(code.get("git_commit", ""))[:12]
        st.markdown(
            f"- Datenstand: {m['as_of']} · Geheimhaltung k = {m['suppression_k']}\n"
            f"- Datenvertrag Version {md_text(manifest['contract']['version'])},"
            f" Kennzahlen-Definitionen Version {md_text(manifest['metrics']['version'])}\n"
            f"- Programmversion {md_text(code.get('package'))}"
            + (f" (Commit {commit})" if commit else "")
            + f"\n- {len(used)} Lieferungen tragen die Zahlen, {len(manifest['deliveries'])}"
            " waren insgesamt eingegangen"
        )
        deliveries = pd.DataFrame(manifest["deliveries"])
        if not deliveries.empty:
            shown = ["provider_id", "source_name", "received_at", "status", "sha256"]
            if ctx.viewer.role == "evaluation":  # evaluators see no file names
                shown.remove("source_name")
            st.dataframe(
                deliveries[shown].rename(
                    columns={
                        "provider_id": "Träger",
                        "source_name": "Lieferung",
                        "received_at": "eingegangen",
                        "status": "Status",
                        "sha256": "SHA-256",
                    }
                ),
                hide_index=True,
                key="release_deliveries",
            )


def _lineage(ctx: ui.Context, manifest: dict) -> None:
    """The cells of this release down to their cases, from the release's own snapshot."""
    if not herkunft.lineage_shown(ctx):
        return
    release_id = manifest["release_id"]
    snapshot = release.lineage_snapshot(ctx.workspace, release_id)
    if not (snapshot / "published" / "lagebild.duckdb").exists():
        if ctx.viewer.role == "koordination":
            st.caption(
                "Die Herkunft der Zahlen dieser Veröffentlichung (Stand ihrer Lieferungen) zeigt"
                f" diese Seite, sobald `lagebild verify {release_id} --keep` gelaufen ist."
            )
        return
    period = manifest["period"]
    at_release = replace(
        ctx,
        source=read.Source.of(snapshot),
        filters=read.Filters(period_from=period, period_to=period),
    )
    st.caption(
        f"Herkunft der Zahlen im Stand der Veröffentlichung (Quartal {period}, Lieferungen wie"
        " im Manifest), nicht der heutigen Daten."
    )
    herkunft.cases_panel(at_release, Q["cases"], release_id=release_id)
    herkunft.gap_panel(at_release, Q["lineage"], release_id=release_id)
    herkunft.waits_panel(at_release, Q["waits"], release_id=release_id)
    herkunft.closures_panel(at_release, Q["closures"], release_id=release_id)
    herkunft.caseload_panel(at_release, Q["caseload"], scope="alle", release_id=release_id)
    windows = at_release.settings.windows
    herkunft.reentry_panel(at_release, Q["reentry"], windows, release_id=release_id)


def _comparison(ctx: ui.Context, visible: pd.DataFrame, release_id: str) -> None:
    kind = visible.loc[visible["release_id"] == release_id, "kind"].iloc[0]
    others = [r for r in visible.loc[visible["kind"] == kind, "release_id"] if r != release_id]
    st.subheader("Was hat sich geändert?")
    if not others:
        st.info("Von diesem Bericht gibt es noch keine zweite Veröffentlichung zum Vergleich.")
        return
    other = st.selectbox("verglichen mit", others, key="release_other")
    made = dict(zip(visible["release_id"], visible["created_at"].astype(str), strict=True))
    earlier, later = sorted([release_id, other], key=made.get)
    change = release.compare_releases(ctx.workspace, earlier, later)
    st.caption(f"von {earlier} zu {later}")
    reasons = change.reasons()
    if ctx.viewer.role in release.MANIFEST_READERS and reasons:
        st.markdown(
            "**Was sich an den Grundlagen geändert hat:** "
            + "; ".join(md_text(r) for r in reasons)
            + "."
        )
    if change.cells.empty:
        st.success("Alle veröffentlichten Zellen sind gleich geblieben.")
        return
    st.markdown(f"**{len(change.cells)} Zellen** haben sich geändert:")
    st.dataframe(
        change.cells[list(CHANGE_COLUMNS)].rename(columns=CHANGE_COLUMNS).fillna("–"),
        hide_index=True,
        key="release_changes",
    )


def render(ctx: ui.Context) -> None:
    st.caption(
        "Veröffentlichte Berichte bleiben unverändert: jede Veröffentlichung trägt ihre Kennung"
        " auf jeder Seite, ihre Dateien sind mit SHA-256 im Manifest festgehalten und lassen"
        " sich mit `lagebild verify` aus den damaligen Lieferungen nachbauen."
    )
    visible = release.releases_for(ctx.workspace, ctx.viewer.role)
    if visible.empty:
        st.info(
            "Noch keine Veröffentlichung für Ihre Rolle. Die Koordination erstellt sie mit"
            " `lagebild release`.",
            icon=":material/inventory_2:",
        )
        return
    internal = ctx.viewer.role in release.MANIFEST_READERS
    st.dataframe(register_frame(visible, internal), hide_index=True, key="release_register")
    chosen = st.selectbox("Veröffentlichung", list(visible["release_id"]), key="release_chosen")
    _details(ctx, chosen)
    _lineage(ctx, release.load_manifest(ctx.workspace, chosen))
    _comparison(ctx, visible, chosen)


Q = {
    "cases": Query("Fälle einer Veröffentlichung", read.cases, on_demand=True),
    "lineage": Query(
        "Herkunft der Lücken einer Veröffentlichung", read.gap_lineage, on_demand=True
    ),
    "waits": Query("Herkunft der Wartezeiten", read.referral_lineage, on_demand=True),
    "closures": Query("Herkunft der Abschlüsse", read.closure_lineage, on_demand=True),
    "caseload": Query("Herkunft Fälle je VZÄ", read.caseload_lineage, on_demand=True),
    "reentry": Query("Herkunft der Quoten", read.reentry_lineage, on_demand=True),
}
VIEW = View("berichtsarchiv", "Berichtsarchiv", ":material/inventory_2:", 75, Q)

if __name__ == "__main__":
    ui.page(VIEW, render)
