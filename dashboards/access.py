"""What the dashboard writes to the access log, and downloads made on click.

The views call `ui.page` (view opened), `ui.drilldown` (case-level data shown) and offer
downloads through `ui.downloads`/`ui.frame`; those call here. The access log records per page
view, download and drill-down — not per query: queries are cached and shared between views,
so a query-level record would be neither complete nor meaningful. A view is recorded again
when its filters or suppression change (the session remembers the last record).

`on_click` wraps a file's producer: the bytes are made when the button is clicked (Streamlit
runs the callable then, in a worker thread), granted to the clicking browser for
`download_link_seconds` (`dashboards/media_guard.py`) and recorded with their format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dashboards import media_guard
from dashboards.read import Filters, Viewer, effective_providers
from kernel import access_log


def filters_of(viewer: Viewer, filters: Filters) -> dict:
    return {
        "period_from": filters.period_from,
        "period_to": filters.period_to,
        "programs": list(filters.programs),
        "regions": list(filters.regions),
        "providers": list(effective_providers(viewer, filters)),
    }


@dataclass(frozen=True)
class Who:
    """The session asking: what the access log and the download guard need."""

    workspace: Path
    user: str
    role: str
    provider: str | None
    filters: dict = field(default_factory=dict)
    view: str | None = None
    client: str | None = None
    token: str | None = None  # the browser token (media_guard.COOKIE)
    link_seconds: float = 30.0

    def record(self, event: str, **fields) -> dict:
        return access_log.record(
            self.workspace,
            event,
            user=self.user,
            role=self.role,
            provider=self.provider,
            view=self.view,
            filters=self.filters or None,
            client=self.client,
            source="dashboard",
            **fields,
        )


def on_click(
    produce: Callable[[], bytes], who: Who, *, fmt: str, title: str, k: int | None
) -> Callable[[], bytes]:
    """The callable for `st.download_button(data=…)`: made on click, granted, recorded."""

    def make() -> bytes:
        data = produce()
        media_guard.grant(who.token, data, who.link_seconds)
        who.record("download", format=fmt, object=title, suppression=access_log.suppression(k))
        return data

    return make
