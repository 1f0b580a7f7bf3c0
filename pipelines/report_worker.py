"""Two of a run's three reports, written in a process of their own (issue 15).

Building a report is Python work (the read side's tables, plotly's figures, the HTML and the
XLSX): in the run's process the three took 1.5 s at every size, one after the other on one
core while the other had nothing to do. The run starts this worker once its contract-suites
worker is done (`suite_worker.start(then=start)`, one helper at a time on the second core): it
loads the report modules while the run builds the marts, the themes and the published copy,
and when the `reports` step comes it writes the evaluation report and the funders' statistics
while the run's process writes the steering group's report, both from the same published copy
with the same code (`dashboards.reports.write_all`, which also puts each file on the access
log).

The request names the workspace, the quarter, the formats and the run's DuckDB settings; the
answer the files written. Whenever the worker cannot answer (it did not start, died, failed, a
PDF it could not print included, fell silent, or named other files than those asked for), the
run writes those reports itself: the reports never depend on the worker, and its failure text
is not passed on. Runs not started by `lagebild` write all three in their own process.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipelines import helper_process
from pipelines.helper_process import serve

KINDS_HERE = ("evaluation", "foerderer")  # about half of the three reports' work at any size
HERE, THERE = "Lauf-Prozess", "eigener Berichtsprozess"  # where KINDS_HERE were written
SILENCE_SECONDS = 60.0  # as the contract suites' worker (pipelines.helper_process)
log = logging.getLogger("lagebild.reports")


class ReportWorker(helper_process.Helper):
    def __init__(self) -> None:
        super().__init__("pipelines.report_worker")

    def ask(self, request: dict, expected: list[Path]) -> list[Path] | None:
        """The files the worker wrote for `request`, or None unless they are exactly
        `expected` (and whenever it gives no answer)."""
        answer = self.answer(request, SILENCE_SECONDS, log)
        written = answer.get("written") if isinstance(answer, dict) else None
        if not isinstance(written, list) or not all(isinstance(p, str) for p in written):
            return None
        if sorted(written) != sorted(str(p) for p in expected):
            return None
        return [Path(p) for p in written]


_worker: ReportWorker | None = None


def start() -> None:
    """Start the worker for the run's reports (called once the contract suites are done)."""
    global _worker
    stop()
    _worker = helper_process.start(ReportWorker)


def stop() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def write_reports(
    workspace: Path, period: str, formats: tuple[str, ...], on_pdf_error
) -> tuple[list[Path], str]:
    """The three reports of `period` in `formats` into WORKSPACE/reports/ (as `write_all`),
    and where KINDS_HERE were written: by the run's worker when it answers, else here."""
    from dashboards.reports import KINDS, report_file, write_all
    from kernel.warehouse import DUCKDB_CONFIG
    from kernel.workspace import Workspace

    global _worker
    worker, _worker = _worker, None
    if worker is None:
        return write_all(workspace, period, formats=formats, on_pdf_error=on_pdf_error), HERE
    ws = Workspace(Path(workspace).resolve())
    request = {
        "workspace": str(ws.root),
        "period": period,
        "formats": list(formats),
        "kinds": list(KINDS_HERE),
        "duckdb_config": dict(DUCKDB_CONFIG),
    }
    expected = [report_file(ws.reports_dir, k, period, s) for k in KINDS_HERE for s in formats]
    own = tuple(k for k in KINDS if k not in KINDS_HERE)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="lagebild-reports") as pool:
            beside = pool.submit(worker.ask, request, expected)
            try:
                written = write_all(
                    ws.root, period, formats=formats, on_pdf_error=on_pdf_error, kinds=own
                )
            except BaseException:
                worker.stop()  # the answer is not waited for
                raise
            theirs = beside.result()
    finally:
        worker.stop()
    if theirs is not None:
        return [*written, *theirs], THERE
    log.info("Der Berichtsprozess hat nicht geantwortet; die Berichte entstehen im Lauf.")
    theirs = write_all(
        ws.root, period, formats=formats, on_pdf_error=on_pdf_error, kinds=KINDS_HERE
    )
    return [*written, *theirs], HERE


def _prepare() -> None:
    """Load what the reports need, and what each does only once per process: plotly's
    validators of the trace types drawn, the report template, the plotly.js bundle, pandas'
    string type."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    import dashboards.reports  # noqa: F401  (the read side, the report builders)
    from dashboards.reports import render

    fig = make_subplots(rows=2, cols=1)
    fig.add_trace(go.Bar(x=[1], y=[1], orientation="h"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[1], y=[1]), row=2, col=1)
    fig.add_trace(go.Heatmap(z=[[1]]))
    fig.add_vline(x=1)
    fig.add_vrect(x0=0, x1=1)
    fig.to_dict()
    render._env().get_template("report.html.j2")
    render._plotly_js()
    pd.array(["x"], dtype="string")


def _answer(request: dict, _prepared) -> dict:
    from dashboards.reports import write_all
    from kernel.warehouse import DUCKDB_CONFIG

    DUCKDB_CONFIG.update(request["duckdb_config"])
    written = write_all(
        request["workspace"],
        request["period"],
        formats=tuple(request["formats"]),
        kinds=tuple(request["kinds"]),
    )
    return {"written": [str(p) for p in written]}


def main() -> None:
    serve(_prepare, _answer)


if __name__ == "__main__":
    main()
