"""Shared test fixtures."""

from __future__ import annotations

import gc
import os
import signal

import pytest

# GX and tqdm progress bars would clutter test output.
os.environ.setdefault("TQDM_DISABLE", "1")
# No helper processes beside a run (pipelines.helper_process): `make test` keeps both cores busy
# with its two workers, so a helper finds no free core, and each whole run paid 2-3 CPU
# seconds for its start (five pipeline test files: 141 s with helpers, 84 s without). The
# helpers' own tests switch them on (tests/integration/test_suite_worker.py,
# test_report_worker.py), and so does the e2e workspace's `lagebild run` (the real command).
os.environ.setdefault("LAGEBILD_HELPERS", "0")


class _Thaw:
    """Whether the heap was unfrozen since the worker last froze it. Asking Python instead
    (`gc.get_freeze_count`) walks the whole frozen heap, 10-27 ms after every test: 46 CPU-s
    over the 1,709 tests. So the session's `gc.unfreeze` (also the product's, in
    data_contracts.suites.frozen_heap) notes it here."""

    seen = False


_UNFREEZE = gc.unfreeze


def _unfreeze_noted() -> None:
    _Thaw.seen = True
    _UNFREEZE()


gc.unfreeze = _unfreeze_noted


def pytest_collection_finish(session):
    """The modules every test file imported (Dagster, Great Expectations, pandas, Streamlit)
    leave Python's cyclic collections (`gc.freeze`): each full collection of a test worker
    otherwise walked that heap anew. The dashboard tests: 153/145 s -> 139/133 s wall in two
    interleaved pairs; the integration and hostile tests within the noise (their runs unfreeze
    the heap, see below: 43 refreezes, 15 CPU-s). docs/performance-notes.md. Test processes
    only; `lagebild` itself measured no gain from it (pipelines/cli.py)."""
    gc.collect()
    gc.freeze()
    _Thaw.seen = False


_SIGTERM = signal.getsignal(signal.SIGTERM)  # as the test process started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A run's contract checks unfreeze the whole heap after their suites
    (data_contracts.suites.frozen_heap): frozen again after such a test, its garbage first.
    SIGTERM as the process started: a test's own Dagster run points it at SIGINT's handler
    and leaves it there (pipelines.interrupts); where SIGINT is ignored, every process a later
    test started ignored SIGTERM too (Dagster's `tail`s outlived the suite)."""
    try:
        return (yield)
    finally:
        if _Thaw.seen:
            gc.collect()
            gc.freeze()
            _Thaw.seen = False
        if _SIGTERM is not None and signal.getsignal(signal.SIGTERM) is not _SIGTERM:
            signal.signal(signal.SIGTERM, _SIGTERM)


def pytest_unconfigure(config):
    gc.unfreeze()  # collectable at the end as usual (nanobind reports objects left over)


@pytest.fixture
def unfrozen_heap():
    """The heap as a `lagebild` process has it: nothing frozen by the test session."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    yield


@pytest.fixture
def staging_con():
    """In-memory warehouse with the staging, audit and meta schemas (empty tables).

    Metric tests insert hand-made rows into staging.* and run the SQL models on it.
    """
    from data_contracts.schema import AUDIT_DDL, META_DDL, staging_ddl
    from kernel.warehouse import connect

    con = connect()
    con.execute(staging_ddl())
    con.execute(AUDIT_DDL)
    con.execute(META_DDL)
    yield con
    con.close()


# The longest files first, then the slow folders, the many quick unit tests last: `make test`
# hands whole files to two workers in collection order (pytest-xdist, `--dist loadfile
# --no-loadscope-reorder`; without the latter xdist orders files by their number of tests, and
# a long file of one test, test_releases.py, started last and ran alone at the end). The report
# tests second: they wait for the e2e workspace the first file's fixture builds (that build
# keeps both cores busy meanwhile). Seconds of one worker per file, `make test` on the 2-core
# VM, 2026-12-07: 119, 66, 74, 70, 69, 61, 57, 47, 45, 35, 29, 26, 26, 25, 22, 22, 21, 21, 20,
# 16, 16, 16, 14, 12, 12, 11, 8. A file missing here costs balance, nothing else.
LONGEST_FIRST = (
    "e2e/test_dashboard_roles.py",
    "integration/test_reports.py",
    "e2e/test_security_browser.py",
    "hostile/test_crash.py",
    "e2e/test_published_cells_browser.py",
    "integration/test_suite_worker.py",
    "integration/test_releases.py",
    "integration/test_report_worker.py",
    "hostile/test_concurrency.py",
    "dashboards/test_reader_attack.py",
    "integration/test_ingest_pipeline.py",
    "dashboards/test_views.py",
    "hostile/test_corpus_pipeline.py",
    "unit/test_marts_partial.py",
    "unit/test_publish_update.py",
    "dashboards/test_grid_memo.py",
    "unit/test_together.py",
    "integration/test_dagster_home.py",
    "dashboards/test_lineage.py",
    "hostile/test_newcomer_differencing.py",
    "hostile/test_corpus.py",
    "dashboards/test_hostile.py",
    "integration/test_themes_e2e.py",
    "integration/test_cli_ingest.py",
    "unit/test_marts_gaps.py",
    "hostile/test_parallel_ingest.py",
    "e2e/test_quality_flags_browser.py",
)
SLOW_FOLDERS = ("e2e", "integration", "hostile", "dashboards")


def collection_rank(path) -> int:
    """Where a test file goes in the order above."""
    parts = path.parts
    inner = parts[parts.index("tests") + 1 :] if "tests" in parts else parts[-1:]
    name = "/".join(inner)
    if name in LONGEST_FIRST:
        return LONGEST_FIRST.index(name)
    folder = inner[0] if len(inner) > 1 else ""
    return len(LONGEST_FIRST) + (
        SLOW_FOLDERS.index(folder) if folder in SLOW_FOLDERS else len(SLOW_FOLDERS)
    )


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: collection_rank(item.path))  # stable within a file
