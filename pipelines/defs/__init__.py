"""The pipeline's stage modules in data-flow order, and what they define for Dagster.

Kept apart from definitions.py so the command line can collect the assets without building
the code location (and tests can narrow the stages).
"""

from __future__ import annotations

import importlib

import dagster as dg

# ingest -> marts -> themes -> publish -> reports
STAGE_MODULES = [
    "pipelines.defs.ingest",
    "pipelines.defs.marts",
    "pipelines.defs.themes",
    "pipelines.defs.publish",
    "pipelines.defs.reports",
]


def stage_modules():
    return [importlib.import_module(m) for m in STAGE_MODULES]


def all_assets() -> list:
    return list(dg.load_assets_from_modules(stage_modules()))


def all_asset_checks() -> list:
    return list(dg.load_asset_checks_from_modules(stage_modules()))


def all_sensors() -> list:
    return [s for m in stage_modules() for s in getattr(m, "SENSORS", [])]
