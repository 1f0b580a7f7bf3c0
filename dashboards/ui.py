"""Shared Streamlit pieces: configuration, login, tables with downloads,
figures and the data-basis footer. Views call these; no view talks to DuckDB itself.

Text from the data enters Markdown only through `md_text` (keys, codes, region and theme
labels); downloads are made on click and bound to the browser (`dashboards/access.py`); the
login is throttled (`dashboards/throttle.py`); an idle session ends after
`session_idle_minutes`; views, downloads and drill-downs go to the access log.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import access, catalog, chart_text, data, exports, filters, media_guard, read
from dashboards.auth import DEMO_PASSWORD, DEMO_USERS, ROLES, User, login
from dashboards.disclosure import Published
from dashboards.markup import md_text
from data_contracts import region_label
from kernel.access_log import suppression as suppression_state
from kernel.settings import load_settings

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
SEEN_KEY = "lagebild_last_seen"  # time of the last run the user caused (idle timeout)
EXPIRED_KEY = "lagebild_expired"
LOGGED_KEY = "lagebild_logged"  # what this session last wrote to the access log, per kind
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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


def client_address(settings) -> str | None:
    """The client's address: the connection's, or behind a configured reverse proxy its
    header (rightmost entry of X-Forwarded-For); None on loopback."""
    address = st.context.ip_address
    header = getattr(settings, "proxy_client_header", None)
    if header:
        value = st.context.headers.get(header)
        value = value.split(",")[-1].strip() if isinstance(value, str) else ""
        address = value or address
    return address if isinstance(address, str) else None


def browser_token() -> str | None:
    """This browser's download token (set by the guard in front of Streamlit)."""
    token = st.context.cookies.get(media_guard.COOKIE)
    return token if isinstance(token, str) else None


def login_page() -> None:
    cfg = config()
    settings = source(cfg).settings
    st.set_page_config(page_title="Anmelden – Lagebild")
    st.title("Lagebild")
    st.caption("Systemsicht für das Case-Management-Netzwerk – bitte anmelden.")
    if st.session_state.pop(EXPIRED_KEY, False):
        st.info(
            f"Ihre Sitzung wurde nach {settings.session_idle_minutes:g} Minuten ohne Aktivität"
            " beendet. Bitte melden Sie sich erneut an.",
            icon=":material/timer_off:",
        )
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
        result = login(
            cfg.workspace, name, password, client_address(settings), settings, allow_demo=cfg.demo
        )
        if result.user is None:
            st.error(result.message)
        else:
            st.session_state[USER_KEY] = result.user
            st.session_state[SEEN_KEY] = time.time()
            for k in (*FILTER_KEYS, LOGGED_KEY):
                st.session_state.pop(k, None)
            st.rerun()


def login_for(view: str):
    """A distinct login page callable per view URL (Streamlit keys function pages by name)."""

    def page() -> None:
        login_page()

    page.__name__ = f"login_{view}"
    page.__qualname__ = page.__name__
    return page


def _who(cfg: AppConfig, user: User, **extra) -> access.Who:
    settings = source(cfg).settings
    return access.Who(
        cfg.workspace,
        user.name,
        user.role,
        user.provider,
        client=client_address(settings) or "lokal",
        token=browser_token(),
        link_seconds=settings.download_link_seconds,
        **extra,
    )


def logout(event: str = "logout") -> None:
    """End the session: access-log entry, download grants revoked, session state cleared."""
    cfg, user = config(), current_user()
    if user is not None:
        _who(cfg, user).record(event)
    media_guard.revoke(browser_token())
    for k in (USER_KEY, PUBLICATION_KEY, SEEN_KEY, LOGGED_KEY, *FILTER_KEYS):
        st.session_state.pop(k, None)
    data.clear()


def idle_over(cfg: AppConfig) -> bool:
    """Idle too long? (app.py also asks every minute, which does not count as activity.)"""
    last = st.session_state.get(SEEN_KEY)
    limit = source(cfg).settings.session_idle_minutes * 60
    return last is not None and limit > 0 and time.time() - last > limit


def session_expired(cfg: AppConfig) -> bool:
    """True (and the session ended) when the user was idle too long; else note the activity."""
    if idle_over(cfg):
        logout("session_expired")
        st.session_state[EXPIRED_KEY] = True
        return True
    st.session_state[SEEN_KEY] = time.time()
    return False


def viewer(cfg: AppConfig, user: User) -> read.Viewer:
    publication = bool(st.session_state.get(PUBLICATION_KEY, False))
    return source(cfg).viewer(user.role, user.provider, publication=publication)


# ---------------------------------------------------------------------------------------------
# sidebar


def sidebar_user(cfg: AppConfig, user: User) -> None:
    with st.sidebar:
        who = md_text(user.display_name)
        role = f"Träger {md_text(user.provider)}" if user.provider else ROLES[user.role]
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


# ---------------------------------------------------------------------------------------------
# view context


@dataclass(frozen=True)
class Context:
    cfg: AppConfig
    user: User
    viewer: read.Viewer
    filters: read.Filters
    source: read.Source
    view: str | None = field(default=None)  # set by `page`

    @property
    def who(self) -> access.Who:
        """The session for the access log and the download guard, with this page's filters."""
        filters = access.filters_of(self.viewer, self.filters)
        return _who(self.cfg, self.user, filters=filters, view=self.view)

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

    def run_if_published(self, q, *, note: bool = True, **options):
        """`run`, or None (with a note unless `note=False`) when the selection is no cell of
        the publication grid (a suppressed reader sees only grid cells)."""
        try:
            return self.run(q, **options)
        except read.NotInGrid as exc:
            if note:
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
        return filters.grid_period_text(f.period_from)
    return f"{f.period_from} bis {f.period_to}"


def filter_text(ctx: Context, *, periods: bool = True, markdown: bool = True) -> str:
    """The page's filters in words; data values escaped for Markdown unless `markdown=False`."""
    esc = md_text if markdown else str
    f = ctx.filters
    parts = [esc(period_text(f))] if periods else []
    if f.programs:
        parts.append(", ".join(esc(catalog.code_label("program", p)) for p in f.programs))
    if f.regions:
        parts.append(", ".join(esc(region_label(r)) for r in f.regions))
    provs = read.effective_providers(ctx.viewer, f)
    parts.append("Träger " + ", ".join(esc(p) for p in provs) if provs else "alle Träger")
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
    pub = read.with_trust(pub, ctx.basis())
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
    basis = ctx.basis()

    def xlsx() -> bytes:
        return exports.workbook_bytes(
            [
                exports.Sheet(
                    title[:31],
                    pub,
                    title=title,
                    caption=filter_text(ctx, markdown=False),
                    percent=catalog.percent_columns(pub.table.columns),
                )
            ],
            basis=basis,
            suppressed_k=pub.k,
            role_label=ctx.viewer.role_label,
        )

    _buttons(ctx, title, key, lambda: exports.table_csv(pub), xlsx, pub.k)


def _buttons(ctx: Context, title: str, key: str, csv, xlsx, k: int | None) -> None:
    """CSV and XLSX buttons: each file is made when its button is clicked (not on every run),
    only for this browser, and recorded in the access log."""
    name = _slug(title)
    c1, c2, _ = st.columns([1, 1, 4])
    for col, fmt, produce, mime in ((c1, "csv", csv, "text/csv"), (c2, "xlsx", xlsx, XLSX)):
        with col:
            file_button(ctx, fmt.upper(), produce, f"{name}.{fmt}", mime, title=title, k=k, key=key)


def file_button(
    ctx: Context,
    label: str,
    produce,
    file_name: str,
    mime: str,
    *,
    title: str,
    k: int | None,
    key: str,
) -> None:
    """One download: made on click, only for this browser, recorded in the access log."""
    fmt = file_name.rsplit(".", 1)[-1]
    st.download_button(
        label,
        access.on_click(produce, ctx.who, fmt=fmt, title=title, k=k),
        file_name=file_name,
        mime=mime,
        key=f"{fmt}_{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def frame(ctx: Context, df: pd.DataFrame, title: str, *, key: str, caption: str | None = None):
    """A case-level or audit table (not aggregated, so no suppression) with downloads."""
    shown = catalog.display_frame(df)
    st.dataframe(shown, hide_index=True, key=f"df_{key}")
    if caption:
        st.caption(caption)
    basis, role = ctx.basis(), ctx.viewer.role_label
    sheet = exports.Sheet(title[:31], df, title=title)

    def xlsx() -> bytes:
        return exports.workbook_bytes([sheet], basis=basis, suppressed_k=None, role_label=role)

    _buttons(ctx, title, key, lambda: exports.frame_csv(df), xlsx, None)


def figure(
    fig, key: str, *, what: str | None = None, data: pd.DataFrame | Published | None = None
) -> None:
    """A chart with its short text (what it shows, highest and lowest value) and its numbers
    as a table next to it: `data` in an expander „Daten als Tabelle“, else the view shows the
    table right below the chart."""
    st.plotly_chart(fig, config=PLOTLY_CONFIG, key=f"fig_{key}", width="stretch")
    where = "in der Tabelle „Daten als Tabelle“" if data is not None else "in der Tabelle darunter"
    st.caption(f"**Grafik:** {md_text(chart_text.describe(fig, what))} Die Zahlen stehen {where}.")
    if data is not None:
        with st.expander("Daten als Tabelle"):
            shown = catalog.show(data) if isinstance(data, Published) else data
            st.dataframe(shown, hide_index=True, key=f"df_fig_{key}")


def suppression_note(ctx: Context) -> None:
    k = ctx.viewer.suppress_k
    if ctx.viewer.role == "traeger":
        st.info(
            "Ihre eigenen Fälle sehen Sie vollständig. Zahlen, die auch auf Daten anderer Träger"
            " beruhen (netzwerkweite Themen, Wiederaufnahmen), stehen unter statistischer"
            f" Geheimhaltung (k = {ctx.viewer.network_k}); Rückfallquoten werden nur je"
            " Programm und für das ganze Netzwerk veröffentlicht, Ihre eigenen Rückfälle"
            " stehen in Ihrer Falltabelle.",
            icon=":material/visibility_off:",
        )
    elif k:
        st.info(
            f"Statistische Geheimhaltung (k = {k}): Fallzahlen von 1 bis {k - 1}, Werte, aus"
            " denen ein geheim gehaltener Wert errechnet werden könnte, und Quoten mit Zähler"
            f" oder Nenner unter {k} erscheinen als „x“ (1 oder mehr; 0 wird gezeigt).",
            icon=":material/visibility_off:",
        )


def footer(cfg: AppConfig, v: read.Viewer) -> None:
    basis = data.load(read.data_basis, source(cfg), v)
    st.divider()
    st.caption(f"**Datenbasis:** {basis.text(v.network_k)}")
    if cfg.demo:
        st.caption("Demo-Modus: synthetische Daten, keine echten Fälle.")


def no_data(cfg: AppConfig) -> None:
    st.title("Lagebild")
    st.info(read.NO_DATA_MESSAGE, icon=":material/hourglass_empty:")
    st.caption(f"Arbeitsbereich: {md_text(cfg.workspace)}")


def _once(kind: str, key: tuple) -> bool:
    """True the first time this session reaches `key` for `kind` (then remembered)."""
    logged = st.session_state.setdefault(LOGGED_KEY, {})
    if logged.get(kind) == key:
        return False
    logged[kind] = key
    return True


def drilldown(ctx: Context, what: str) -> None:
    """Case-level data is being shown: one access-log entry per drill-down and filter state."""
    k = suppression_state(ctx.viewer.suppress_k)
    if _once(f"drilldown:{ctx.view}:{what}", (ctx.filters, k)):
        ctx.who.record("drilldown", object=what, suppression=k)


def page(view, render) -> None:
    """Run a view as the current page: check the role may see it, write the title, record the
    view in the access log (again when filters or suppression change), render."""
    ctx = replace(context(), view=view.key)
    if ctx.viewer.role not in view.roles:
        st.error("Diese Ansicht ist für Ihre Rolle nicht freigegeben.")
        st.stop()
    # a provider's own figures are not suppressed, what rests on others' records is: the log
    # names the k that protects the page's figures beyond the reader's own cases
    k = suppression_state(ctx.viewer.network_k)
    if _once("view", (view.key, ctx.filters, k)):
        ctx.who.record("view", suppression=k)
    st.set_page_config(page_title=f"{view.title} – Lagebild")  # the tab says where one is
    st.title(view.title)
    if ctx.user.demo:
        st.caption(f"Demo-Modus · angemeldet als {md_text(ctx.user.display_name)}")
    try:
        render(ctx)
    except read.NotInGrid as exc:  # a figure this selection has no grid cell for: say so
        st.info(str(exc), icon=":material/grid_off:")
