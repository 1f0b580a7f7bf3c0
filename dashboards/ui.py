"""Shared Streamlit pieces: configuration, login, sidebar filters, tables with downloads,
figures and the data-basis footer. Views call these; no view talks to DuckDB itself."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import catalog, data, exports, read
from dashboards.auth import DEMO_PASSWORD, DEMO_USERS, ROLES, User, authenticate
from dashboards.disclosure import Published
from data_contracts import region_label
from kernel.settings import load_settings
from kernel.workspace import Workspace

USER_KEY = "lagebild_user"
PUBLICATION_KEY = "lagebild_publication"
FILTER_KEYS = (
    "f_period",
    "f_programs",
    "f_regions",
    "f_providers",
    "g_period",
    "g_kind",
    "g_program",
    "g_region",
    "g_provider",
)

PLOTLY_CONFIG = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
    "locale": "de",
}


@dataclass(frozen=True)
class AppConfig:
    workspace: Path
    demo: bool


def config() -> AppConfig:
    """Workspace and demo flag: `streamlit run app.py -- --workspace DIR [--demo]`, else the
    environment (LAGEBILD_WORKSPACE, LAGEBILD_DEMO) — read on every run, never at import."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--workspace")
    parser.add_argument("--demo", action="store_true")
    args, _ = parser.parse_known_args(sys.argv[1:])
    workspace = args.workspace or os.environ.get("LAGEBILD_WORKSPACE") or "demo-workspace"
    demo = args.demo or os.environ.get("LAGEBILD_DEMO", "") in ("1", "true", "ja")
    return AppConfig(Path(workspace).resolve(), demo)


@st.cache_resource(show_spinner=False)
def _source(workspace: str, mtime: int) -> read.Source:
    return read.Source.of(workspace, load_settings(workspace))


def source(cfg: AppConfig) -> read.Source:
    """The published copy and settings of the workspace (re-read when lagebild.yaml changes)."""
    override = cfg.workspace / "lagebild.yaml"
    mtime = override.stat().st_mtime_ns if override.exists() else 0
    return _source(str(cfg.workspace), mtime)


# ---------------------------------------------------------------------------------------------
# login


def current_user() -> User | None:
    return st.session_state.get(USER_KEY)


def login_page() -> None:
    cfg = config()
    st.title("Lagebild")
    st.caption("Systemsicht für das Case-Management-Netzwerk – bitte anmelden.")
    if cfg.demo:
        st.warning(
            "**Demo-Modus** mit synthetischen Daten. Vorbereitete Demo-Nutzer (Passwort jeweils "
            f"`{DEMO_PASSWORD}`):",
            icon=":material/science:",
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {"Nutzername": name, "Rolle": ROLES[role], "Bezeichnung": label}
                    for name, role, label in DEMO_USERS
                ]
            ),
            hide_index=True,
            width="content",
        )
    with st.form("login", clear_on_submit=False):
        name = st.text_input("Nutzername", key="login_name")
        password = st.text_input("Passwort", type="password", key="login_password")
        submitted = st.form_submit_button("Anmelden", type="primary")
    if submitted:
        user = authenticate(
            Workspace(cfg.workspace).users_file, name, password, allow_demo=cfg.demo
        )
        if user is None:
            st.error("Anmeldung fehlgeschlagen: Nutzername oder Passwort falsch.")
        else:
            st.session_state[USER_KEY] = user
            for k in FILTER_KEYS:
                st.session_state.pop(k, None)
            st.rerun()


def login_for(view: str):
    """A distinct login page callable per view URL (Streamlit keys function pages by name)."""

    def page() -> None:
        login_page()

    page.__name__ = f"login_{view}"
    page.__qualname__ = page.__name__
    return page


def logout() -> None:
    for k in (USER_KEY, PUBLICATION_KEY, *FILTER_KEYS):
        st.session_state.pop(k, None)
    data.clear()


def viewer(cfg: AppConfig, user: User) -> read.Viewer:
    publication = bool(st.session_state.get(PUBLICATION_KEY, False))
    return source(cfg).viewer(user.role, user.provider, publication=publication)


# ---------------------------------------------------------------------------------------------
# sidebar


def sidebar_user(cfg: AppConfig, user: User) -> None:
    with st.sidebar:
        who = user.display_name
        role = f"Träger {user.provider}" if user.provider else ROLES[user.role]
        st.markdown(f"**{who}**  \n{role}")
        if user.demo:
            st.caption("Demo-Nutzer (nur im Demo-Modus gültig)")
        if user.role in ("koordination", "evaluation"):
            st.toggle(
                "Für Veröffentlichung (Geheimhaltung anwenden)",
                key=PUBLICATION_KEY,
                help="Zeigt und exportiert alle Tabellen so, wie sie die Koordinierungsstelle "
                "verlassen dürfen: kleine Fallzahlen unterdrückt.",
            )
        if st.button("Abmelden", key="logout", icon=":material/logout:"):
            logout()
            st.rerun()


def _period_label(options: dict):
    partial = set(options.get("partial", []))
    return lambda p: f"{p} (unvollständig)" if p in partial else p


def sidebar_filters(cfg: AppConfig, v: read.Viewer) -> read.Filters:
    """Period, program, region and provider filters; a provider sees only itself."""
    options = data.load(read.filter_options, source(cfg), v)
    if v.suppress_k is not None:
        return grid_filters(v, options)
    default = read.default_filters(options)
    periods = options["periods"]
    with st.sidebar:
        st.subheader("Filter")
        if len(periods) >= 2:
            value = st.session_state.get("f_period") or (default.period_from, default.period_to)
            if value[0] not in periods or value[1] not in periods:
                value = (default.period_from, default.period_to)
            lo, hi = st.select_slider(
                "Zeitraum (Quartale)",
                options=periods,
                value=value,
                format_func=_period_label(options),
                key="f_period",
            )
        else:
            lo = hi = periods[0] if periods else None
        programs = st.multiselect(
            "Programm",
            options["programs"],
            format_func=lambda c: catalog.code_label("program", c),
            placeholder="alle",
            key="f_programs",
        )
        regions = st.multiselect(
            "Region",
            options["regions"],
            format_func=region_label,
            placeholder="alle",
            key="f_regions",
        )
        if v.role == "traeger":
            st.multiselect(
                "Träger", [v.provider], default=[v.provider], disabled=True, key="f_providers"
            )
            providers: list[str] = [v.provider]
        else:
            providers = st.multiselect(
                "Träger", options["providers"], placeholder="alle", key="f_providers"
            )
    return read.Filters(
        period_from=lo,
        period_to=hi,
        programs=tuple(programs),
        regions=tuple(regions),
        providers=tuple(providers),
    )


def grid_filters(v: read.Viewer, options: dict) -> read.Filters:
    """A suppressed reader's filters choose cells of the publication grid: one quarter,
    half-year or year, and one programme, one region or one provider (or all)."""
    partial = set(options["partial"])
    choices = [
        *reversed(options["years"]),
        *reversed(options["halves"]),
        *reversed(options["periods"]),
    ]
    complete = [p for p in reversed(options["periods"]) if p not in partial]
    default = complete[0] if complete else (choices[0] if choices else None)
    with st.sidebar:
        st.subheader("Filter")
        st.caption(
            "Veröffentlichte Zahlen: ein Zeitraum des Veröffentlichungsrasters und höchstens"
            " eine Gliederung (Programm, Region oder Träger)."
        )
        period = st.selectbox(
            "Zeitraum",
            choices,
            index=choices.index(default) if default in choices else 0,
            format_func=lambda p: (
                f"{_grid_period_text(p)} (unvollständig)" if p in partial else _grid_period_text(p)
            ),
            key="g_period",
        )
        if v.role == "traeger":
            st.selectbox("Träger", [v.provider], disabled=True, key="g_provider_fixed")
            return read.Filters(period, period, providers=(v.provider,))
        kinds = {
            "alle": "Netzwerk gesamt",
            "program": "Programm",
            "region": "Region",
            "provider": "Träger",
        }
        kind = st.radio("Gliederung", list(kinds), format_func=kinds.get, key="g_kind")
        pick: dict[str, tuple[str, ...]] = {"program": (), "region": (), "provider": ()}
        if kind == "program":
            pick["program"] = (
                st.selectbox(
                    "Programm",
                    options["programs"],
                    key="g_program",
                    format_func=lambda c: catalog.code_label("program", c),
                ),
            )
        elif kind == "region":
            pick["region"] = (
                st.selectbox(
                    "Region", options["regions"], key="g_region", format_func=region_label
                ),
            )
        elif kind == "provider":
            pick["provider"] = (st.selectbox("Träger", options["providers"], key="g_provider"),)
    return read.Filters(
        period,
        period,
        programs=pick["program"],
        regions=pick["region"],
        providers=pick["provider"],
    )


def _grid_period_text(p: str) -> str:
    if len(p) == 4:
        return f"Jahr {p}"
    if p[5] == "H":
        return f"{p[-1]}. Halbjahr {p[:4]}"
    return f"{p[-1]}. Quartal {p[:4]}"


# ---------------------------------------------------------------------------------------------
# view context


@dataclass(frozen=True)
class Context:
    cfg: AppConfig
    user: User
    viewer: read.Viewer
    filters: read.Filters
    source: read.Source

    @property
    def workspace(self) -> Path:
        return self.cfg.workspace

    @property
    def settings(self):
        return self.source.settings

    def run(self, q, *, filters: read.Filters | None = None, **options):
        """Run a view's declared query (cached), with the page's filters unless given."""
        f = filters or self.filters
        if q.program and not f.programs:
            f = replace(f, programs=(q.program,))
        return data.load(q.func, self.source, self.viewer, f, **{**q.options, **options})

    def run_if_published(self, q, **options):
        """`run`, or None with a note when the selection is no cell of the publication grid
        (a suppressed reader sees only grid cells)."""
        try:
            return self.run(q, **options)
        except read.NotInGrid as exc:
            st.info(str(exc), icon=":material/grid_off:")
            return None

    def run_options(self) -> dict:
        """The filter choices of this viewer (periods, programmes, regions, providers)."""
        return data.load(read.filter_options, self.source, self.viewer)

    def basis(self) -> read.DataBasis:
        return data.load(read.data_basis, self.source, self.viewer)


def context() -> Context:
    """The current view's context, prepared by app.py (login and filters)."""
    ctx = st.session_state.get("lagebild_context")
    if ctx is None:  # a view run without the router (should not happen)
        st.error("Bitte über die Startseite anmelden.")
        st.stop()
    return ctx


def period_text(f: read.Filters) -> str:
    if not f.period_from:
        return "alle Quartale"
    if f.period_from == f.period_to:
        return _grid_period_text(f.period_from)
    return f"{f.period_from} bis {f.period_to}"


def filter_text(ctx: Context, *, periods: bool = True) -> str:
    f = ctx.filters
    parts = [period_text(f)] if periods else []
    if f.programs:
        parts.append(", ".join(catalog.code_label("program", p) for p in f.programs))
    if f.regions:
        parts.append(", ".join(region_label(r) for r in f.regions))
    provs = read.effective_providers(ctx.viewer, f)
    parts.append("Träger " + ", ".join(provs) if provs else "alle Träger")
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------------
# tables, downloads, figures


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", text.translate(str.maketrans("äöüÄÖÜß", "aouAOUs")))
    return s.strip("_").lower() or "tabelle"


def table(
    ctx: Context,
    pub: Published,
    title: str,
    *,
    key: str,
    drop: tuple[str, ...] = (),
    caption: str | None = None,
    height: int | str = "auto",
) -> None:
    """A published table with CSV and XLSX download (exactly what is shown, with its note)."""
    shown = catalog.show(pub, drop=drop)
    st.dataframe(shown, hide_index=True, height=height, key=f"df_{key}")
    if caption:
        st.caption(caption)
    downloads(ctx, pub, title, key=key, drop=drop)


def downloads(
    ctx: Context, pub: Published, title: str, *, key: str, drop: tuple[str, ...] = ()
) -> None:
    if drop:
        keep = [c for c in pub.table.columns if c not in drop]
        pub = Published(pub.table[keep], pub.flags[keep], pub.k)
    name = _slug(title)
    basis = ctx.basis()

    def xlsx() -> bytes:
        return exports.workbook_bytes(
            [
                exports.Sheet(
                    title[:31],
                    pub,
                    title=title,
                    caption=filter_text(ctx),
                    percent=catalog.percent_columns(pub.table.columns),
                )
            ],
            basis=basis,
            suppressed_k=pub.k,
            role_label=ctx.viewer.role_label,
        )

    c1, c2, _ = st.columns([1, 1, 4])
    with c1:
        st.download_button(
            "CSV",
            exports.table_csv(pub),
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"csv_{key}",
            icon=":material/download:",
            on_click="ignore",
        )
    with c2:
        st.download_button(
            "XLSX",
            xlsx,
            file_name=f"{name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"xlsx_{key}",
            icon=":material/download:",
            on_click="ignore",
        )


def frame(ctx: Context, df: pd.DataFrame, title: str, *, key: str, caption: str | None = None):
    """A case-level or audit table (not aggregated, so no suppression) with downloads."""
    shown = catalog.display_frame(df)
    st.dataframe(shown, hide_index=True, key=f"df_{key}")
    if caption:
        st.caption(caption)
    basis = ctx.basis()
    name = _slug(title)
    c1, c2, _ = st.columns([1, 1, 4])
    with c1:
        st.download_button(
            "CSV",
            exports.frame_csv(df),
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"csv_{key}",
            icon=":material/download:",
            on_click="ignore",
        )
    with c2:
        st.download_button(
            "XLSX",
            lambda: exports.workbook_bytes(
                [exports.Sheet(title[:31], df, title=title)],
                basis=basis,
                suppressed_k=None,
                role_label=ctx.viewer.role_label,
            ),
            file_name=f"{name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"xlsx_{key}",
            icon=":material/download:",
            on_click="ignore",
        )


def figure(fig, key: str) -> None:
    st.plotly_chart(fig, config=PLOTLY_CONFIG, key=f"fig_{key}", width="stretch")


def suppression_note(ctx: Context) -> None:
    k = ctx.viewer.suppress_k
    if k:
        st.info(
            f"Statistische Geheimhaltung (k = {k}): Fallzahlen von 1 bis {k - 1} erscheinen als "
            f"„<{k}“; Quoten mit Zähler oder Nenner unter {k} und Werte, aus denen ein geheim "
            "gehaltener Wert errechnet werden könnte, als „x“.",
            icon=":material/visibility_off:",
        )


def footer(cfg: AppConfig, v: read.Viewer) -> None:
    basis = data.load(read.data_basis, source(cfg), v)
    st.divider()
    st.caption(f"**Datenbasis:** {basis.text(v.suppress_k)}")
    if cfg.demo:
        st.caption("Demo-Modus: synthetische Daten, keine echten Fälle.")


def no_data(cfg: AppConfig) -> None:
    st.title("Lagebild")
    st.info(read.NO_DATA_MESSAGE, icon=":material/hourglass_empty:")
    st.caption(f"Arbeitsbereich: {cfg.workspace}")


def page(view, render) -> None:
    """Run a view as the current page: check the role may see it, write the title, render."""
    ctx = context()
    if ctx.viewer.role not in view.roles:
        st.error("Diese Ansicht ist für Ihre Rolle nicht freigegeben.")
        st.stop()
    st.title(view.title)
    if ctx.user.demo:
        st.caption(f"Demo-Modus · angemeldet als {ctx.user.display_name}")
    render(ctx)
