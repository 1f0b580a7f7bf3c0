"""The one gate of the read side: every query a view, download or report runs passes here.

A query is a function `(source, viewer, filters, **options)` declared with `@query`: the gate
refuses a role the query is not for before anything is read. Queries scope their SQL to the
viewer (scope.py) and suppress what leaves the office (dashboards.disclosure); views and
reports call nothing else to reach the published copy. A query call opens one connection to
the published copy, shared by all its reads (scope.one_connection).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from dashboards.read.scope import (
    ALL,
    ROLES,
    AccessDenied,
    Filters,
    Source,
    Viewer,
    one_connection,
)

CASE_LEVEL_DENIED = "Fallbezogene Daten sind für diese Rolle nicht freigegeben."


@dataclass(frozen=True)
class QuerySpec:
    name: str  # module.function, stable: cache keys and the access log use it
    roles: tuple[str, ...]
    denied: str


REGISTRY: dict[str, Callable] = {}


def query(*, roles: tuple[str, ...] = ROLES, denied: str = CASE_LEVEL_DENIED):
    """Declare a read-side query and the roles it serves."""

    def declare(func: Callable) -> Callable:
        spec = QuerySpec(f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}", roles, denied)

        @functools.wraps(func)
        def gated(source: Source, viewer: Viewer, filters: Filters = ALL, **options):
            if viewer.role not in spec.roles:
                raise AccessDenied(spec.denied)
            with one_connection():  # all reads of the call (and of queries it calls): one
                return func(source, viewer, filters, **options)

        gated.spec = spec  # type: ignore[attr-defined]
        REGISTRY[spec.name] = gated
        return gated

    return declare


CASE_LEVEL_ROLES = ("koordination", "evaluation", "traeger")
