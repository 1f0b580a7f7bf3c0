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
answer the files written and the PDFs that could not be printed. The run puts the files on the
access log when it takes them (once each). It takes them only if written and not printed are
exactly the files asked for; whenever the worker cannot answer so (it did not start, died,
failed, fell silent, or named other files), the run writes those reports itself: the reports
never depend on the worker, and its failure text is not passed on (a PDF it could not print is
reported as such, the run's own way). Runs not started by `lagebild` write all three in their
own process. What a worker stopped halfway leaves in the reports folder is removed by the next
reports step (`sweep_unfinished`), what it leaves elsewhere with its temporary folder
(`pipelines.helper_process`).
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
    name = "Berichtsprozess"

    def __init__(self) -> None:
        super().__init__("pipelines.report_worker")

    def ask(self, request: dict, expected: list[Path]) -> tuple[list[Path], list[Path]] | None:
        """The files the worker wrote for `request` and the PDFs it could not print, or None
        unless together they are exactly `expected` (and whenever it gives no answer)."""
        answer = self.answer(request, SILENCE_SECONDS, log)
        if not isinstance(answer, dict):
            return None
        written, failed = answer.get("written"), answer.get("pdf_failed")
        lists = (written, failed)
        if not all(isinstance(x, list) and all(type(p) is str for p in x) for x in lists):
            return None
        if not all(p.endswith(".pdf") for p in failed) or set(written) & set(failed):
            return None
        if sorted(written + failed) != sorted(str(p) for p in expected):
            return None
        theirs = [Path(p) for p in written]
        if not all(p.is_file() and not p.is_symlink() for p in theirs):
            return None  # claimed, not there: nothing goes on record that was not written
        return theirs, [Path(p) for p in failed]


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
    from dashboards.reports import KINDS, ReportError, record_written, report_file, write_all
    from dashboards.reports.files import sweep_unfinished
    from kernel.warehouse import DUCKDB_CONFIG
    from kernel.workspace import Workspace

    global _worker
    worker, _worker = _worker, None
    ws = Workspace(Path(workspace).resolve())
    if ws.reports_dir.is_dir():
        sweep_unfinished(ws.reports_dir)  # what a writer killed halfway left
    if worker is None:
        return write_all(ws.root, period, formats=formats, on_pdf_error=on_pdf_error), HERE
    request = {
        "workspace": str(ws.root),
        "period": period,
        "formats": list(formats),
        "kinds": list(KINDS_HERE),
        "duckdb_config": dict(DUCKDB_CONFIG),
    }
    kind_of = {report_file(ws.reports_dir, k, period, s): k for k in KINDS_HERE for s in formats}
    own = tuple(k for k in KINDS if k not in KINDS_HERE)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="lagebild-reports") as pool:
            beside = pool.submit(worker.ask, request, list(kind_of))
            try:
                written = write_all(
                    ws.root, period, formats=formats, on_pdf_error=on_pdf_error, kinds=own
                )
                answer = beside.result()
            except BaseException:
                worker.kill()  # its answer is not waited for; the thread sees the pipe end
                raise
    finally:
        worker.stop()
    if answer is None:
        log.info("Der Berichtsprozess hat die Berichte nicht geliefert; sie entstehen im Lauf.")
        theirs = write_all(
            ws.root, period, formats=formats, on_pdf_error=on_pdf_error, kinds=KINDS_HERE
        )
        return [*written, *theirs], HERE
    theirs, not_printed = answer
    for path in theirs:
        record_written(ws.root, kind_of[path], period, path)
    for path in not_printed:
        error = ReportError("Chromium konnte das PDF im Berichtsprozess nicht schreiben.")
        if on_pdf_error is None:
            raise error
        on_pdf_error(path, error)
    return [*written, *theirs], THERE


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
    failed: list[str] = []  # PDFs Chromium could not print: the run reports them its own way
    written = write_all(
        request["workspace"],
        request["period"],
        formats=tuple(request["formats"]),
        kinds=tuple(request["kinds"]),
        on_pdf_error=lambda path, exc: failed.append(str(path)),
        record=False,  # the run records what it takes (`record_written`)
    )
    return {"written": [str(p) for p in written], "pdf_failed": failed}


def main() -> None:
    serve(_prepare, _answer)


if __name__ == "__main__":
    main()
