"""The dashboard server: the Streamlit app (`app.py`) behind Lagebild's download guard.

    streamlit run dashboards/server.py -- --workspace DIR     (what `lagebild dashboard` runs)

Streamlit finds the `st.App` below and serves `app.py` with the guard of
`dashboards/media_guard.py` in front of its routes: downloads only for the browser that
clicked them; `dashboards/page_shell.py` makes the served page German (`lang="de"`) and adds
the accessibility style sheet (caption contrast, visible keyboard focus).
Running `streamlit run dashboards/app.py` directly works too, without them.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

from dashboards.media_guard import MediaGuard
from dashboards.page_shell import GermanPage
from dashboards.read.scope import keep_copies_open

keep_copies_open()  # this process only reads: published copies stay open (read/scope.py)

# the page in German with the accessibility style sheet (page_shell.py), downloads guarded
app = st.App("app.py", middleware=[Middleware(GermanPage), Middleware(MediaGuard)])
