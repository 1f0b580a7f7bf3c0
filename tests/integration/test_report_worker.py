"""The run's reports worker (pipelines.report_worker): two of the three reports written in a
process of its own, the same files as the run's process writes, and never a report missing
because of it."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from dashboards.reports import KINDS
from kernel.workspace import Workspace
from pipelines import report_worker
from tests.dashboards.fixture_warehouse import build
from tests.helper_processes import running

PERIOD = "2026-Q3"
ROOT = Path(__file__).resolve().parents[2]
FORMATS = (".html", ".xlsx")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d\d\.\d\d\.\d\d\d\d \d\d:\d\d")  # when a report was generated


@pytest.fixture(autouse=True)
def _helpers_on(monkeypatch):
    """The test suite runs without helpers (tests/conftest.py); these tests are about them."""
    monkeypatch.setenv("LAGEBILD_HELPERS", "1")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("built") / "ws"
    build(Workspace(root).published_db_path)
    return root


@pytest.fixture()
def ws(built, tmp_path):
    """A workspace of its own for each test (reports and access log), copied from one built
    published warehouse."""
    import shutil

    return Path(shutil.copytree(built, tmp_path / "ws", symlinks=True))


@pytest.fixture(autouse=True)
def _no_worker_left():
    yield
    report_worker.stop()
    assert workers_running() == []


def workers_running() -> list:
    return running("pipelines.report_worker")


def expected_files(root: Path) -> list[Path]:
    return sorted(Workspace(root).reports_dir / f"{k}_{PERIOD}{s}" for k in KINDS for s in FORMATS)


def content(path: Path) -> object:
    """What a reader gets from a report file, without what differs from one writing to the
    next: plotly's random element ids and the time the report was generated."""
    if path.suffix == ".html":
        return STAMP.sub("", UUID.sub("", path.read_text(encoding="utf-8")))
    with zipfile.ZipFile(path) as z:  # the data-basis sheet holds the time as a number
        return {
            n: re.sub(rb"<v>4\d{4}\.\d+</v>", b"", z.read(n))
            for n in z.namelist()
            if n != "docProps/core.xml"
        }


def report_lines(root: Path) -> list[dict]:
    log = Workspace(root).root / "audit" / "access.jsonl"
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x]
    return [x for x in lines if x["event"] == "report"]


def test_the_worker_writes_the_same_reports_as_the_run(ws, tmp_path, monkeypatch):
    import plotly.io as pio

    # as in a run's process: a test process that ran a dashboard test holds Streamlit's
    # plotly template (importing streamlit makes it the default)
    monkeypatch.setattr(pio.templates, "default", "plotly")
    report_worker.start()
    written, place = report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert place == report_worker.THERE
    assert sorted(written) == expected_files(ws)
    # the run's own way, in a process of its own as the run's is
    here = tmp_path / "here"
    code = f"from dashboards.reports import write_all; write_all({str(ws)!r}, {PERIOD!r},"
    code += f" out_dir={str(here)!r}, formats={FORMATS!r})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
    for path in written:
        assert content(path) == content(here / path.name), path.name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_each_report_is_on_the_access_log_once_as_the_pipelines(ws):
    report_worker.start()
    report_worker.write_reports(ws, PERIOD, FORMATS, None)
    logged = sorted((x["object"], x["format"], x["source"]) for x in report_lines(ws))
    assert logged == sorted((k, s[1:], "pipeline") for k in KINDS for s in FORMATS)


def test_without_a_worker_the_run_writes_all_three(ws):
    written, place = report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert place == report_worker.HERE and sorted(written) == expected_files(ws)


def fake_worker(says: str) -> report_worker.ReportWorker:
    """A ReportWorker whose process reads the request and then runs `says` (Python)."""
    worker = report_worker.ReportWorker.__new__(report_worker.ReportWorker)
    script = f"import sys, time, json; request = json.loads(sys.stdin.readline()); {says}"
    worker.proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    return worker


def answer(written, failed="[]") -> str:
    return f"print(json.dumps({{'written': {written}, 'pdf_failed': {failed}}}), flush=True)"


def claimed(kinds=("evaluation", "foerderer"), formats=FORMATS) -> str:
    """The files the worker is asked for, as its answer would name them."""
    return (
        f"[request['workspace'] + '/reports/' + k + '_2026-Q3' + s for k in {list(kinds)}"
        f" for s in {list(formats)}]"
    )


NOT_AS_ASKED = [
    answer("[]"),  # nothing written
    answer("['/etc/passwd']"),  # not a report
    # the run's own report, claimed by the worker
    answer("[request['workspace'] + '/reports/lenkungsgruppe_2026-Q3.html']"),
    answer("[1, 2]"),
    answer(claimed()),  # the right names, but nothing written
    answer(claimed(formats=(".html",)), claimed(formats=(".xlsx",))),  # not PDFs
    "print(json.dumps({'written': " + claimed() + "}), flush=True)",  # no pdf_failed
    "print(json.dumps({'error': 'ReportError'}), flush=True)",
    "print('[' * 100000, flush=True)",  # nested too deep for Python's JSON
    "print('kein JSON', flush=True)",
    "sys.exit(3)",
]


def asked(root: Path, says: str):
    """What the run takes of a worker that answers by running `says`: the request and the
    files expected as `write_reports` makes them."""
    from dashboards.reports import report_file

    root = root.resolve()  # as `write_reports` names the files
    reports = Workspace(root).reports_dir
    expected = [
        report_file(reports, k, PERIOD, s) for k in report_worker.KINDS_HERE for s in FORMATS
    ]
    worker = fake_worker(says)
    try:
        return worker.ask({"workspace": str(Workspace(root).root)}, expected)
    finally:
        worker.stop()


@pytest.mark.parametrize("says", NOT_AS_ASKED)
def test_an_answer_not_as_asked_is_not_taken(tmp_path, says):
    """Only exactly the files asked for, each written, is an answer the run takes: anything
    else leaves those reports to the run (below)."""
    assert asked(tmp_path, says) is None


def test_an_answer_as_asked_is_taken(tmp_path):
    """The control for the cases above: the files asked for, written, are taken."""
    reports = Workspace(tmp_path.resolve()).reports_dir
    reports.mkdir(parents=True)
    for k in report_worker.KINDS_HERE:
        for s in FORMATS:
            (reports / f"{k}_{PERIOD}{s}").write_text("x", encoding="utf-8")
    theirs, not_printed = asked(tmp_path, answer(claimed()))
    assert sorted(theirs) == sorted(reports.iterdir()) and not_printed == []


# whole: the run writes the reports it does not take, each once (the answers above decide by
# `ask` alone, so two of them stand for all here: 1.6 CPU-s each)
@pytest.mark.parametrize("says", [answer(claimed()), "sys.exit(3)"])
def test_a_worker_that_does_not_answer_as_asked_leaves_its_reports_to_the_run(ws, says):
    report_worker._worker = fake_worker(says)
    written, place = report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert place == report_worker.HERE
    assert sorted(written) == expected_files(ws)
    assert all(p.exists() for p in written)


@pytest.mark.timeout(120)
def test_a_silent_worker_is_given_up_and_the_run_writes_its_reports(ws, monkeypatch):
    monkeypatch.setattr(report_worker, "SILENCE_SECONDS", 2.0)
    report_worker.start()
    proc = report_worker._worker.proc
    os.kill(proc.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    written, place = report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert place == report_worker.HERE and time.monotonic() - t0 < 60
    assert sorted(written) == expected_files(ws)
    assert proc.returncode == -signal.SIGKILL


def test_a_pdf_the_worker_cannot_print_is_reported_by_the_run(ws, monkeypatch):
    """No Chromium for either process: the worker still writes its HTML and XLSX, names the
    PDFs it could not print, and the run reports them as its own (not printed twice, each
    written file on record once)."""
    monkeypatch.setenv("LAGEBILD_CHROMIUM", "/bin/false")
    report_worker.start()
    failed = []
    written, place = report_worker.write_reports(
        ws, PERIOD, (*FORMATS, ".pdf"), lambda path, exc: failed.append(path.name)
    )
    assert place == report_worker.THERE
    assert sorted(failed) == sorted(f"{k}_{PERIOD}.pdf" for k in KINDS)
    assert sorted(written) == expected_files(ws)
    logged = sorted((x["object"], x["format"]) for x in report_lines(ws))
    assert logged == sorted((k, s[1:]) for k in KINDS for s in FORMATS)


def test_a_failure_of_the_runs_own_report_stops_the_worker(ws, monkeypatch):
    import dashboards.reports as reports

    report_worker.start()
    proc = report_worker._worker.proc

    def fails(*args, kinds=tuple(KINDS), **kwargs):
        raise reports.ReportError("kaputt")

    monkeypatch.setattr(reports, "write_all", fails)
    with pytest.raises(reports.ReportError):
        report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert proc.poll() is not None and workers_running() == []


def test_the_worker_starts_once_the_contract_suites_are_done(monkeypatch):
    """One helper at a time on the second core: `then` runs when the suites' worker has
    answered, not when the run ends without asking it."""
    from pipelines import suite_worker

    started = []
    suite_worker.start(then=lambda: started.append("berichte"))
    suite_worker.stop()
    assert started == []
    monkeypatch.setattr(suite_worker.SuiteWorker, "ask", lambda self, request: None)
    monkeypatch.setattr(suite_worker, "validate_tables", lambda *a, **k: {})
    suite_worker.start(then=lambda: started.append("berichte"))
    suite_worker.validate(Path("/nicht/da.duckdb"), [], "true", [])
    assert started == ["berichte"]


def test_a_report_stopped_halfway_leaves_the_file_before_it(ws, monkeypatch):
    """A writer killed mid-file (the worker given up, the run stopped) must not leave a
    truncated report where the last complete one was."""
    from dashboards import reports
    from dashboards.reports import render

    report = reports.build(ws, "foerderer", PERIOD)
    out = Workspace(ws).reports_dir / f"foerderer_{PERIOD}.html"
    reports.write(report, out)
    before = out.read_bytes()

    def halfway(report, path):
        path.write_text("<!doctype html><html><body>Fälle je", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "write_html", halfway)
    with pytest.raises(KeyboardInterrupt):
        reports.write(report, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary left


def test_a_link_in_a_reports_place_is_replaced_not_written_through(ws, tmp_path):
    from dashboards import reports

    elsewhere = tmp_path / "fremd.html"
    elsewhere.write_text("fremd", encoding="utf-8")
    out = Workspace(ws).reports_dir / f"foerderer_{PERIOD}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.symlink_to(elsewhere)
    reports.write(reports.build(ws, "foerderer", PERIOD), out)
    assert elsewhere.read_text(encoding="utf-8") == "fremd"
    assert not out.is_symlink() and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_pdf_copied_halfway_leaves_the_file_before_it(tmp_path, monkeypatch):
    """The PDF comes from Chromium's temporary folder, often on another file system, so it
    is copied: a copy that fails halfway (a full disk) must leave the last complete PDF."""
    import shutil

    from dashboards.reports import render

    monkeypatch.setattr(render, "print_pdf", lambda page, pdf: pdf.write_bytes(b"%PDF-1.7 neu"))

    def full_disk(src, dst):
        Path(dst).write_bytes(b"%PDF-1.7 ne")
        raise OSError(28, "No space left on device")

    out = tmp_path / "reports" / "foerderer_2026-Q3.pdf"
    out.parent.mkdir()
    out.write_bytes(b"%PDF-1.7 alt, vollstaendig")
    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises(OSError):
        render.write_pdf_page("<html></html>", out)
    assert out.read_bytes() == b"%PDF-1.7 alt, vollstaendig"
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    monkeypatch.undo()
    monkeypatch.setattr(render, "print_pdf", lambda page, pdf: pdf.write_bytes(b"%PDF-1.7 neu"))
    render.write_pdf_page("<html></html>", out)
    assert out.read_bytes() == b"%PDF-1.7 neu" and stat.S_IMODE(out.stat().st_mode) == 0o600


def chromium_stand_in(tmp_path: Path, in_worker: str) -> Path:
    """An executable standing in for Chromium: in the reports' worker (its TMPDIR is the
    helper's folder) it runs `in_worker` (Python), in the run's process it fails at once."""
    script = tmp_path / "chromium"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "pdf = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--print-to-pdf='))\n"
        "if 'lagebild-helper-' not in os.environ.get('TMPDIR', ''):\n"
        "    sys.exit(1)\n"
        f"{in_worker}\n"
    )
    script.chmod(0o700)
    return script


@pytest.mark.timeout(120)
def test_a_hung_chromium_ends_with_the_given_up_worker(ws, tmp_path, monkeypatch):
    """A print that hangs without working: the worker falls silent, the run gives it up, and
    the hung process and the worker's temporary folder (the report's print page) go with it."""
    monkeypatch.setattr(report_worker, "SILENCE_SECONDS", 3.0)
    stand_in = chromium_stand_in(tmp_path, "time.sleep(300)")
    monkeypatch.setenv("LAGEBILD_CHROMIUM", str(stand_in))
    report_worker.start()
    folder = Path(report_worker._worker.tmp)
    failed = []
    written, place = report_worker.write_reports(
        ws, PERIOD, (*FORMATS, ".pdf"), lambda path, exc: failed.append(path.name)
    )
    assert place == report_worker.HERE and sorted(written) == expected_files(ws)
    assert sorted(failed) == sorted(f"{k}_{PERIOD}.pdf" for k in KINDS)  # the run's own try
    assert not folder.exists()
    hung = [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if str(stand_in) in " ".join(p.info["cmdline"] or [])
        and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    assert hung == []


@pytest.mark.timeout(120)
def test_a_slow_print_that_works_keeps_the_worker_alive(ws, tmp_path, monkeypatch):
    """Chromium working longer than the silence limit: its CPU time counts as the worker's
    sign of life, so the worker is not given up and nothing is printed twice."""
    monkeypatch.setattr(report_worker, "SILENCE_SECONDS", 2.0)
    busy = (
        "t = time.process_time()\n"
        "while time.process_time() - t < 4: pass\n"
        "open(pdf, 'wb').write(b'%PDF-1.7 langsam')"
    )
    monkeypatch.setenv("LAGEBILD_CHROMIUM", str(chromium_stand_in(tmp_path, busy)))
    report_worker.start()
    failed = []
    written, place = report_worker.write_reports(
        ws, PERIOD, (*FORMATS, ".pdf"), lambda path, exc: failed.append(path.name)
    )
    assert place == report_worker.THERE and len(written) == 8
    assert failed == [f"lenkungsgruppe_{PERIOD}.pdf"]  # the run's own print fails at once
    reports_dir = Workspace(ws).reports_dir
    assert (reports_dir / f"evaluation_{PERIOD}.pdf").read_bytes() == b"%PDF-1.7 langsam"


def test_what_a_killed_writer_left_is_swept_by_the_next_reports_step(ws):
    reports_dir = Workspace(ws).reports_dir
    reports_dir.mkdir(parents=True, exist_ok=True)
    left = reports_dir / f".evaluation_{PERIOD}.html.k3x9q1.tmp"
    left.write_text("<!doctype html><html><body>Fälle je")
    other = reports_dir / ".notizen.tmp"  # not a report's: stays
    other.write_text("eigene Notiz")
    report_worker.write_reports(ws, PERIOD, FORMATS, None)
    assert not left.exists() and other.exists()
    assert sorted(p.name for p in reports_dir.iterdir() if p.name.startswith(".")) == [other.name]


def test_a_next_helper_that_cannot_start_does_not_fail_the_checks(monkeypatch):
    from pipelines import suite_worker

    def broken():
        raise RuntimeError("kein Prozess")

    monkeypatch.setattr(suite_worker.SuiteWorker, "ask", lambda self, request: None)
    monkeypatch.setattr(suite_worker, "validate_tables", lambda *a, **k: {"cases": "ok"})
    suite_worker.start(then=broken)
    assert suite_worker.validate(Path("/nicht/da.duckdb"), [], "true", []) == (
        {"cases": "ok"},
        "Lauf-Prozess",
    )
