"""Lagebild dashboards: the router.

    lagebild dashboard --workspace DIR [--demo]
    (= streamlit run dashboards/app.py -- --workspace DIR [--demo], headless, no usage stats)

Login first (no anonymous access), then one page per view in `views/` (not `pages/`: a
`pages/` folder next to the entry point breaks st.navigation under AppTest). The sidebar holds
the user, the filters and the logout; every view ends with the data-basis footer. Which views a
role gets, and what each query returns, is decided in `dashboards.access`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import access, ui

HERE = Path(__file__).resolve().parent

ICONS = {
    "ueberblick": ":material/dashboard:",
    "versorgungsluecken": ":material/grid_on:",
    "themen": ":material/topic:",
    "fallzahlen": ":material/groups:",
    "wiederaufnahme": ":material/replay:",
    "prozessqualitaet": ":material/checklist:",
    "lieferungen": ":material/inbox:",
}

st.set_page_config(page_title="Lagebild", page_icon=":material/insights:", layout="wide")

cfg = ui.config()
user = ui.current_user()

if user is None:
    # Deep links to a view show the login form and lead to that view after login.
    login = st.Page(ui.login_page, title="Anmelden", url_path="anmelden", default=True)
    deep = [
        st.Page(ui.login_for(view), title=title, url_path=view, visibility="hidden")
        for view, title in access.VIEWS.items()
    ]
    st.navigation([login, *deep], position="hidden").run()
    st.stop()

ui.sidebar_user(cfg, user)

if not access.has_data(access.published_path(cfg.workspace)):
    page = st.Page(lambda: ui.no_data(cfg), title="Keine Daten", url_path="keine-daten")
    st.navigation([page], position="hidden").run()
    st.stop()

viewer = ui.viewer(cfg, user)
filters = ui.sidebar_filters(cfg, viewer)
st.session_state["lagebild_context"] = ui.Context(
    cfg=cfg, user=user, viewer=viewer, filters=filters, settings=ui.settings(cfg)
)

pages = [
    st.Page(
        HERE / "views" / f"{view}.py",
        title=access.VIEWS[view],
        url_path=view,
        icon=ICONS[view],
        default=(i == 0),
    )
    for i, view in enumerate(viewer.views)
]
st.navigation(pages, position="sidebar").run()
ui.footer(cfg, viewer)
