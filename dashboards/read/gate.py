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
            key = _question(spec.name, source, viewer, filters, options)
            if key is None:  # outside a report's or release's block: nothing to reuse
                with one_connection():  # all reads of the call (and of queries it calls): one
                    return func(source, viewer, filters, **options)
            return remembered(key, lambda: func(source, viewer, filters, **options))

        gated.spec = spec  # type: ignore[attr-defined]
        REGISTRY[spec.name] = gated
        return gated

    return declare


def _question(name: str, source: Source, viewer: Viewer, filters: Filters, options: dict):
    """The key of a call inside a report's or release's block (`scope.remembered`), or None:
    outside such a block, or a call that cannot be keyed as it is (an option or filter that
    is a list or a frame). The source's settings count by identity (the source in the key
    keeps them alive); an option by its type as well (True is not 1)."""
    if not remembering():
        return None

    def plain(value) -> bool:
        if isinstance(value, tuple):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    if not all(plain(v) for v in options.values()):
        return None
    typed = tuple(sorted((k, type(v).__name__, v) for k, v in options.items()))
    key = (name, source, id(source.settings), viewer, filters, typed)
    try:
        hash(key)
    except TypeError:  # filters of lists (`Filters(providers=[...])`)
        return None
    return key


CASE_LEVEL_ROLES = ("koordination", "evaluation", "traeger")
