"""A workspace built the real way: `lagebild generate` (demo size) + `lagebild run`.

Built once per test session under pytest's base temp folder and shared by the e2e tests and
the report integration tests (they only read it). The run starts under umask 022 with a
world-readable file already in the workspace (`vorher.txt`): tests/integration/
test_private_run.py checks the warning and that nothing is left readable for others.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

DEMO_CASES = 3000  # half the `lagebild demo` default: the same shape, a shorter build
DEMO_PROVIDERS = 8
DEMO_SEED = 7


def _lagebild(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lagebild")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "pipelines.cli", *args]
    # the real command: with its helper processes (the test suite switches them off)
    env = {**os.environ, "TQDM_DISABLE": "1", "LAGEBILD_HELPERS": "1"}
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=lambda: os.umask(0o022),  # a common default; lagebild must not rely on it
    )


PLANTED = "vorher.txt"  # world-readable before the run


def pipeline_workspace(base: Path) -> Path:
    """WORKSPACE with a published warehouse from generated demo exports (built once).

    LAGEBILD_TEST_WORKSPACE may name an already built workspace (saves the build while
    developing tests; it must have been built by this function)."""
    given = os.environ.get("LAGEBILD_TEST_WORKSPACE")
    if given and (Path(given) / ".built").exists():
        return Path(given)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one build for all workers of the session
        base = base.parent
    root = base / "lagebild-demo-ws"
    done = root / ".built"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "lagebild-demo-ws.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return root
        inbox = root / "inbox"
        gen = _lagebild(
            "generate",
            "--cases",
            str(DEMO_CASES),
            "--providers",
            str(DEMO_PROVIDERS),
            "--seed",
            str(DEMO_SEED),
            "--with-faults",
            "--out",
            str(inbox),
        )
        assert gen.returncode == 0, gen.stdout + gen.stderr
        planted = root / PLANTED
        planted.write_text("vor dem Lauf angelegt", encoding="utf-8")
        planted.chmod(0o644)
        # --pdf: tests/integration/test_reports.py checks the PDFs a run prints
        run = _lagebild("run", "--inbox", str(inbox), "--workspace", str(root), "--pdf")
        published = root / "published" / "lagebild.duckdb"
        # The run may report a failing check of another stage; what these tests need is the
        # published copy.
        assert published.exists(), run.stdout + run.stderr
        for name, text in (("run.log", run.stdout + run.stderr), (".built", "ok")):
            (root / name).write_text(text, encoding="utf-8")
            (root / name).chmod(0o600)
    return root


def providers(root: Path) -> list[str]:
    from kernel.warehouse import reader

    with reader(root / "published" / "lagebild.duckdb") as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT provider_id FROM mart.cases GROUP BY 1 ORDER BY count(*), 1"
            ).fetchall()
        ]
