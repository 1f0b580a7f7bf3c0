"""How the `lagebild` program ends (pipelines.cli.command_line): without the interpreter's
teardown, but with everything a normal exit guarantees — the command's exit code, atexit
handlers, all output, and threads still at work finishing first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _program(body: str, *args: str) -> subprocess.CompletedProcess:
    """Run command_line() as the console script does (its result to sys.exit), in a fresh
    process with `main` replaced by `body`'s fake_main."""
    script = f"import atexit, sys, threading, time\nimport pipelines.cli as cli\n{body}\n"
    script += "cli.main = fake_main\ncode = cli.command_line()\nprint('zurück')\nsys.exit(code)\n"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_the_exit_code_output_and_atexit_handlers_survive_the_fast_exit():
    body = """
def fake_main():
    atexit.register(lambda: print('atexit gelaufen'))
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    sys.stdout.write('ohne Zeilenende')  # block-buffered into a pipe until flushed
    sys.stderr.write('Fehler: Beispiel')
    return 3
"""
    res = _program(body)
    assert res.returncode == 3
    assert res.stdout == "ohne Zeilenendeatexit gelaufen\n"  # and it did not return
    assert res.stderr == "Fehler: Beispiel"  # no teardown noise (DuckDB's leak warnings)


def test_a_thread_still_at_work_gets_the_normal_exit(tmp_path):
    done = tmp_path / "fertig.txt"
    body = """
def fake_main():
    def work():
        time.sleep(0.5)
        open(sys.argv[1], 'w').write('fertig')
    threading.Thread(target=work).start()  # not a daemon: the process waits for it
    return 4
"""
    res = _program(body, str(done))
    assert res.returncode == 4
    assert done.read_text() == "fertig"
    assert res.stdout == "zurück\n"  # returned to the console script's sys.exit
