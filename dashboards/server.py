"""The dashboard server: the Streamlit app (`app.py`) behind Lagebild's download guard.

    streamlit run dashboards/server.py -- --workspace DIR     (what `lagebild dashboard` runs)

Streamlit finds the `st.App` below and serves `app.py` with the guard of
`dashboards/media_guard.py` in front of its routes: downloads only for the browser that
clicked them. Running `streamlit run dashboards/app.py` directly works too, without that guard.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

from dashboards.media_guard import MediaGuard

app = st.App("app.py", middleware=[Middleware(MediaGuard)])
