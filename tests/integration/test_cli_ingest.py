"""`lagebild check` and `lagebild run` as a user meets them: output, exit codes, messages."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.fixtures import messy
from tests.workspace_lock import lock_held_elsewhere

LAGEBILD = Path(sys.executable).parent / "lagebild"


def test_check_lists_row_faults_in_german_and_loads_nothing(tmp_path, capsys):
    path = messy.mbe_essen_faults(tmp_path / "inbox")
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "faelle.csv, Zeile 3: ungültiges Datum in ‚beginn‘" in out
    assert "stellen.csv, Zeile 3: ‚vzae‘ muss größer als 0 und höchstens 1 sein" in out
    assert "würde teilweise angenommen (10 Zeilen abgelehnt). Es wurde nichts geladen." in out
    assert "Great Expectations auf den gültigen Zeilen: 4 Suiten" in out
    assert not list(tmp_path.glob("**/*.duckdb"))


def test_check_of_a_clean_delivery(tmp_path, capsys):
    assert main(["check", str(messy.kim_koeln_new(tmp_path / "inbox"))]) == 0
    assert "fehlerfrei, würde vollständig angenommen" in capsys.readouterr().out


def test_check_of_an_identifier_delivery_never_prints_the_value(tmp_path, capsys):
    code = main(["check", str(messy.pcve_email_in_note(tmp_path / "inbox"))])
    out = capsys.readouterr().out
    assert code == 3
    assert "käme vollständig in Quarantäne" in out
    assert "barriers.csv, Zeile 3: E-Mail-Adresse in Spalte ‚note‘ gefunden" in out
    assert messy.EMAIL not in out and messy.PHONE not in out


def test_check_of_a_missing_path(tmp_path, capsys):
    assert main(["check", str(tmp_path / "gibtsnicht")]) == 2
    assert "Fehler: Lieferung nicht gefunden" in capsys.readouterr().err


def test_run_without_inbox_says_so_and_fails(tmp_path, capsys):
    assert main(["run", "--inbox", str(tmp_path / "fehlt"), "--workspace", str(tmp_path)]) == 2
    assert "Fehler: Posteingang nicht gefunden" in capsys.readouterr().err


def test_bad_as_of_is_explained(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            ["run", "--inbox", str(tmp_path), "--workspace", str(tmp_path), "--as-of", "30.09.2026"]
        )
    assert exc.value.code == 2
    assert "kein Datum im Format JJJJ-MM-TT" in capsys.readouterr().err


def test_run_on_a_busy_workspace_fails_fast_with_a_clear_message(tmp_path):
    """A second process holding the workspace lock: the run waits `lock_wait_seconds` (here 1),
    then stops with exit 2, no traceback."""
    (tmp_path / "inbox").mkdir()
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "lagebild.yaml").write_text("lock_wait_seconds: 1\n")
    with lock_held_elsewhere(tmp_path / "ws"):
        res = subprocess.run(
            [
                str(LAGEBILD),
                "run",
                "--inbox",
                str(tmp_path / "inbox"),
                "--workspace",
                str(tmp_path / "ws"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert res.returncode == 2
    assert "wird gerade von einem anderen Lauf beschrieben" in res.stderr
    assert "Traceback" not in res.stderr


def test_check_names_each_violated_suite_once_however_many_batches_it_took():
    from data_contracts.suites import SuiteResult
    from pipelines.commands.check import suite_summary

    unique = {"expectation": "expect_compound_columns_to_be_unique", "unexpected_count": 2}
    in_set = {"expectation": "expect_column_values_to_be_in_set", "unexpected_count": 1}
    results = [
        SuiteResult("cases", 1_000_000, False, 25, [unique]),
        SuiteResult("cases", 400_000, False, 25, [unique, in_set]),
        SuiteResult("goals", 10, True, 14, []),
    ]
    assert suite_summary(results) == (
        "1 von 2 Suiten verletzt: cases: expect_compound_columns_to_be_unique,"
        " expect_column_values_to_be_in_set"
    )
    assert suite_summary(results[2:]) == "1 Suite, 14 Erwartungen, alle erfüllt"
    assert suite_summary([]) == ""


def test_check_validates_its_suites_with_the_loaded_heap_frozen(
    tmp_path, capsys, monkeypatch, unfrozen_heap
):
    """`lagebild check` collects each validated frame (`validate_frames`) with the heap loaded
    before frozen, so a collection goes over what the validation made; unfrozen afterwards."""
    import gc

    from data_contracts import suites

    seen: list[int] = []
    validate_frame = suites.validate_frame

    def counting(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        return validate_frame(*args, **kwargs)

    monkeypatch.setattr(suites, "validate_frame", counting)
    assert main(["check", str(messy.kim_koeln_new(tmp_path / "inbox"))]) == 0
    assert "Great Expectations auf den gültigen Zeilen" in capsys.readouterr().out
    assert seen and min(seen) > 100_000
    assert gc.get_freeze_count() == 0


@pytest.mark.slow
def test_a_run_says_every_so_often_which_step_is_at_work(tmp_path, capsys, monkeypatch):
    """A run of minutes (10,000,000 cases: the checks 73 s, the marts 79 s) is not silent
    meanwhile; here the interval is shortened so that a small run meets it, and the marts
    are made to take a while, as they do at that size."""
    import pipelines.defs.marts as marts_step
    import pipelines.runner as runner
    from generator import generate_inbox

    build_marts = marts_step.build_marts

    def slow_marts(*args, **kwargs):
        time.sleep(0.8)
        return build_marts(*args, **kwargs)

    monkeypatch.setattr(marts_step, "build_marts", slow_marts)
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.25)
    inbox = tmp_path / "inbox"
    generate_inbox(inbox, cases=40, providers=2, seed=3, plain=True)
    assert main(["run", "--inbox", str(inbox), "--workspace", str(tmp_path / "ws")]) == 0
    out = capsys.readouterr().out.splitlines()
    beats = [line for line in out if line.startswith("  … ")]
    labels = "|".join(re.escape(label) for label in runner.STAGE_LABELS.values())
    time_ = r"(?:\d+ s|\d+:\d\d min|\d+:\d\d:\d\d h)"  # a loaded machine may take a minute
    one = rf"(?:{labels}) seit {time_}"
    pattern = re.compile(
        rf"  … (?:läuft: {one}(?:; {one})* \(Lauf seit {time_}\)|der Lauf arbeitet seit {time_})"
    )
    assert beats and all(pattern.fullmatch(line) for line in beats), beats
    named = {label for label in runner.STAGE_LABELS.values() for b in beats if label in b}
    assert "Marts" in named and len(named) >= 2  # it follows the run from step to step
    assert out.index(beats[-1]) < next(i for i, line in enumerate(out) if "Laufzeit" in line)
