"""The dashboard's views: each module here declares one `View` — title, icon, the roles that
see it, the queries it runs — and renders it.

A new view is one module with a `VIEW` (found here by its `order`); the router (app.py), the
role checks and the dashboard benchmark read these declarations, so nothing is listed twice.
Streamlit runs a view's file as a page (`__name__ == "__main__"`); importing it only declares.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

from dashboards.read.scope import ROLES

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Query:
    """One query a view runs: a read-side function with its options."""

    label: str  # German, as the benchmark reports it
    func: Callable
    options: Mapping = field(default_factory=lambda: MappingProxyType({}))
    on_demand: bool = False  # loaded only when the user switches it on (case tables)
    program: str | None = None  # restrict the filters to one programme (e.g. relapses: pcve)
    sample: Callable | None = None  # (source, viewer) -> options a benchmark times it with

    def roles(self, view_roles: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(r for r in view_roles if r in self.func.spec.roles)


@dataclass(frozen=True)
class View:
    key: str  # url path and module name
    title: str
    icon: str
    order: int
    queries: Mapping[str, Query]
    roles: tuple[str, ...] = ROLES

    @property
    def page(self) -> Path:
        return HERE / f"{self.key}.py"


@cache
def all_views() -> tuple[View, ...]:
    """Every view of this package, in menu order."""
    found = []
    for info in pkgutil.iter_modules([str(HERE)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        view = getattr(module, "VIEW", None)
        if isinstance(view, View):
            found.append(view)
    return tuple(sorted(found, key=lambda v: v.order))


def views_for(role: str) -> tuple[View, ...]:
    return tuple(v for v in all_views() if role in v.roles)


def titles() -> dict[str, str]:
    return {v.key: v.title for v in all_views()}
