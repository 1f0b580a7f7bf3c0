"""Lagebild dashboards: the router.

    lagebild dashboard --workspace DIR [--demo]
    (= streamlit run dashboards/server.py -- --workspace DIR [--demo]: this app behind the
    download guard, headless, no usage stats)

Login first (no anonymous access), then one page per view in `views/` (not `pages/`: a
`pages/` folder next to the entry point breaks st.navigation under AppTest). The sidebar holds
the user, the filters and the logout; every view ends with the data-basis footer. Which views a
role gets is declared by each view (`dashboards.views`); what each query returns is decided by
the read side (`dashboards.read`). A session idle for `session_idle_minutes` ends (checked on
every run and once a minute); the page icon is an emoji, so the browser fetches nothing from
outside (a `:material/…:` page icon would load from fonts.gstatic.com).
"""

from __future__ import annotations

import streamlit as st

from dashboards import ui
from dashboards.filters import sidebar_filters
from dashboards.views import all_views, views_for

st.set_page_config(page_title="Lagebild", page_icon="📊", layout="wide")

cfg = ui.config()
user = ui.current_user()
if user is not None and ui.session_expired(cfg):
    user = None

if user is None:
    # Deep links to a view show the login form and lead to that view after login.
    login = st.Page(ui.login_page, title="Anmelden", url_path="anmelden", default=True)
    deep = [
        st.Page(ui.login_for(v.key), title=v.title, url_path=v.key, visibility="hidden")
        for v in all_views()
    ]
    st.navigation([login, *deep], position="hidden").run()
    st.stop()


@st.fragment(run_every=60)
def _idle_watch() -> None:
    if ui.idle_over(cfg):
        st.rerun(scope="app")


ui.sidebar_user(cfg, user)
with st.sidebar:
    _idle_watch()

if not ui.source(cfg).has_data():
    page = st.Page(lambda: ui.no_data(cfg), title="Keine Daten", url_path="keine-daten")
    st.navigation([page], position="hidden").run()
    st.stop()

viewer = ui.viewer(cfg, user)
filters = sidebar_filters(ui.source(cfg), viewer)
st.session_state["lagebild_context"] = ui.Context(
    cfg=cfg, user=user, viewer=viewer, filters=filters, source=ui.source(cfg)
)

pages = [
    st.Page(v.page, title=v.title, url_path=v.key, icon=v.icon, default=(i == 0))
    for i, v in enumerate(views_for(viewer.role))
]
st.navigation(pages, position="sidebar").run()
ui.footer(cfg, viewer)
