"""The sidebar filters. Internal readers filter freely; a suppressed reader's filters choose
one cell of the publication grid (one period, at most one of programme, region, provider)."""

from __future__ import annotations

import streamlit as st

from dashboards import catalog, data, read
from dashboards.markup import md_text
from data_contracts import region_label


def _period_label(options: dict):
    partial = set(options.get("partial", []))
    return lambda p: f"{p} (unvollständig)" if p in partial else p


def sidebar_filters(source: read.Source, v: read.Viewer) -> read.Filters:
    """Period, program, region and provider filters; a provider sees only itself."""
    options = data.load(read.filter_options, source, v)
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
        if v.role == "traeger":  # fixed: text, not a disabled control (keyboard, contrast)
            _fixed_provider(v.provider)
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
                f"{grid_period_text(p)} (unvollständig)" if p in partial else grid_period_text(p)
            ),
            key="g_period",
        )
        if v.role == "traeger":
            _fixed_provider(v.provider)
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


def _fixed_provider(provider: str) -> None:
    st.markdown(f"**Träger**  \n{md_text(provider)}")


def grid_period_text(p: str) -> str:
    return read.grid_period_text(p)
