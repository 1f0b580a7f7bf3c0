"""Cached queries for the Streamlit views.

Every call goes through the read side's gate (`dashboards.read`: role scoping and suppression
happen there) and is cached with `st.cache_data`, keyed by the query's name, the identity of
the published copy (path, mtime, size), of the theme register and of the settings file, and
the viewer, filters and options: a new publication by the pipeline is a new key, so an open
dashboard shows the new figures on its next rerun and never reads a half-written file (the
pipeline swaps the copy atomically).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboards.read import ALL, REGISTRY, Filters, Source, Viewer


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, identity: tuple, viewer: Viewer, filters: Filters, options: tuple, _source):
    return REGISTRY[name](_source, viewer, filters, **dict(options))


def load(func: Callable, source: Source, viewer: Viewer, filters: Filters = ALL, **options):
    """`func(source, viewer, filters, **options)`, cached per published copy."""
    return _cached(
        func.spec.name, source.identity(), viewer, filters, tuple(sorted(options.items())), source
    )


def clear() -> None:
    _cached.clear()
