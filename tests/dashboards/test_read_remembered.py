"""Inside one `one_connection(remember=True)` block (the three reports of a run, a release) a
query asked again with the same question is answered from the same snapshot without running
again (scope.remembered): the same answer, a copy of its own for every caller, never another
role's or another filter's answer, the role checked every time; outside such a block every
call reads afresh (a dashboard sees a new publication)."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboards import read
from dashboards.read import scope
from dashboards.read.gate import REGISTRY, query

CALLS: list[tuple] = []


@pytest.fixture
def counted():
    """A query of this test, registered for it only."""

    @query(roles=("koordination", "foerderer"))
    def counted_query(source, viewer, filters, *, label: str = "a", parts=("x",)):
        CALLS.append((viewer.role, filters.providers, label))
        return pd.DataFrame({"role": [viewer.role], "label": [label]})

    CALLS.clear()
    yield counted_query
    REGISTRY.pop(counted_query.spec.name, None)


def test_asked_twice_in_one_block_it_runs_once_and_each_caller_gets_its_own_copy(
    workspace, counted
):
    src = read.Source.of(workspace)
    viewer = src.viewer("koordination")
    with scope.one_connection(remember=True):
        first = counted(src, viewer)
        first.loc[0, "label"] = "geändert"  # one caller's change ...
        second = counted(src, viewer)
    assert len(CALLS) == 1
    assert second.loc[0, "label"] == "a"  # ... is not the other's


def test_another_role_filter_or_option_is_another_question(workspace, counted):
    src = read.Source.of(workspace)
    koordination, foerderer = src.viewer("koordination"), src.viewer("foerderer")
    with scope.one_connection(remember=True):
        counted(src, koordination)
        assert counted(src, foerderer).loc[0, "role"] == "foerderer"
        counted(src, koordination, read.Filters(providers=("jmd-essen",)))
        counted(src, koordination, label="b")
        counted(src, koordination, parts=["x"])  # a list: not part of a key, asked again
        counted(src, koordination, parts=["x"])
        counted(src, koordination, label=True)  # True is not 1
        counted(src, koordination, label=1)
        listed = read.Filters(providers=["jmd-essen"])  # a list in the filters: asked again
        counted(src, koordination, listed)
        counted(src, koordination, listed)
    assert len(CALLS) == 10


def test_a_role_the_query_is_not_for_is_refused_even_after_another_asked(workspace, counted):
    src = read.Source.of(workspace)
    with scope.one_connection(remember=True):
        counted(src, src.viewer("koordination"))
        with pytest.raises(read.AccessDenied):
            counted(src, src.viewer("evaluation"))


def test_outside_such_a_block_every_call_reads_afresh(workspace, counted):
    src = read.Source.of(workspace)
    counted(src, src.viewer("koordination"))
    counted(src, src.viewer("koordination"))
    with scope.one_connection():  # one connection only (the reader-attack walk's)
        counted(src, src.viewer("koordination"))
        counted(src, src.viewer("koordination"))
    assert len(CALLS) == 4


def test_a_real_query_gives_the_same_figures_remembered_as_read_afresh(workspace):
    src = read.Source.of(workspace)
    for role in ("koordination", "foerderer"):
        viewer = src.viewer(role)
        alone = read.caseload(src, viewer, group_by=("provider_id",))
        with scope.one_connection(remember=True):
            read.caseload(src, viewer, group_by=("provider_id",))
            again = read.caseload(src, viewer, group_by=("provider_id",))
        assert again.table.equals(alone.table), role
        assert again.flags.equals(alone.flags), role
