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
    remembered,
    remembering,
)

CASE_LEVEL_DENIED = "Fallbezogene Daten sind für diese Rolle nicht freigegeben."
PUBLISHED_DENIED = (
    "Fallbezogene Daten gibt es nur in der internen Ansicht, nicht „für Veröffentlichung“."
)


@dataclass(frozen=True)
class QuerySpec:
    name: str  # module.function, stable: cache keys and the access log use it
    roles: tuple[str, ...]
    denied: str
    case_level: bool = False  # rows of cases: never for a suppressed viewer


REGISTRY: dict[str, Callable] = {}


def query(
    *, roles: tuple[str, ...] = ROLES, denied: str = CASE_LEVEL_DENIED, case_level: bool = False
):
    """Declare a read-side query and the roles it serves. `case_level`: it returns case rows
    (case tables, lineage), refused to a suppressed viewer ("für Veröffentlichung"): a case
    list would recount every suppressed cell."""

    def declare(func: Callable) -> Callable:
        name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        spec = QuerySpec(name, roles, denied, case_level)

        @functools.wraps(func)
        def gated(source: Source, viewer: Viewer, filters: Filters = ALL, **options):
            if viewer.role not in spec.roles:
                raise AccessDenied(spec.denied)
            if spec.case_level and viewer.suppress_k is not None:
                raise AccessDenied(PUBLISHED_DENIED)
            if not remembering() or not _plain(options):  # nothing to reuse
                with one_connection():  # all reads of the call (and of queries it calls): one
                    return func(source, viewer, filters, **options)
            # inside a report's or release's block: asked again, answered again from
            # the same snapshot; the source's settings are part of the question (by identity:
            # the source in the key keeps them alive)
            key = (spec.name, source, id(source.settings), viewer, filters)
            return remembered(
                (*key, tuple(sorted(options.items()))),
                lambda: func(source, viewer, filters, **options),
            )

        gated.spec = spec  # type: ignore[attr-defined]
        REGISTRY[spec.name] = gated
        return gated

    return declare


def _plain(options: dict) -> bool:
    """Options that can be part of a key as they are (a frame or a list cannot)."""

    def plain(value) -> bool:
        if isinstance(value, tuple):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    return all(plain(v) for v in options.values())


CASE_LEVEL_ROLES = ("koordination", "evaluation", "traeger")
