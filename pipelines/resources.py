"""The one Dagster resource: where the workspace is and how to write to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import duckdb

from kernel.settings import Settings, load_settings
from kernel.warehouse import writer
from kernel.workspace import Workspace


class LagebildResource(dg.ConfigurableResource):
    """Workspace, inbox and data cut-off of a run.

    In `dagster dev` these come from LAGEBILD_WORKSPACE / LAGEBILD_INBOX / LAGEBILD_AS_OF
    (read at launch through EnvVar, never at import); the command line passes them directly.
    """

    workspace: str
    inbox: str = ""
    as_of: str = ""  # YYYY-MM-DD or empty: derived from the deliveries
    report_pdf: bool = False  # asked for on the command line; else `report_pdf` in lagebild.yaml

    def settings(self) -> Settings:
        return load_settings(
            self.workspace, self.inbox or None, self.as_of or None, self.report_pdf or None
        )

    @property
    def ws(self) -> Workspace:
        return Workspace(self.settings().workspace)

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Write connection to the warehouse, under the workspace lock."""
        ws = self.ws.ensure()
        with writer(ws.db_path, ws.lock_file) as con:
            yield con
