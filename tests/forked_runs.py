"""`lagebild` commands in processes of their own that start with the product already loaded.

A command in a new interpreter first loads Dagster, pandas and Great Expectations: about 4
CPU-s before its first step, most of what a small test run costs. The crash and concurrency
tests start fourteen of them. Here each command is forked from a server process that loaded
those modules once (the standard library's forkserver with preloaded modules). From
`pipelines.cli.command_line` on, it is the real command in a process of its own: its own
exit code, output, lock and end (os._exit at a crash point ends it as a kill -9 would).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# loaded once by the server. Not pipelines.definitions: a test narrows the stage modules
# (pipelines.defs.STAGE_MODULES) before the command collects its assets
PRELOAD = [
    "pipelines.cli",
    "pipelines.runner",
    "pipelines.defs.ingest",
    "pipelines.defs.marts",
    "pipelines.defs.themes",
    "pipelines.defs.publish",
    "data_contracts.suites",
    "great_expectations",
]
CRASH_ON_REPLACE = "publish.replace"  # LAGEBILD_CRASH_AT: end where the copy is published


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # before the server's start, the first command's
    return context


def _command(argv: list[str], env: dict, stages: list[str] | None, out: str, err: str) -> None:
    """In the forked process: its environment, output files and stage modules, then the
    `lagebild` program."""
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    from pipelines import defs

    if stages is not None:
        defs.STAGE_MODULES[:] = stages
    if env.get("LAGEBILD_CRASH_AT") == CRASH_ON_REPLACE:
        import pipelines.defs.publish as publish

        real = publish.os

        class _Os:  # the publish step's os, ending the process instead of replacing the copy
            def __getattr__(self, name):
                return getattr(real, name)

            def replace(self, src, dst):
                real._exit(86)

        publish.os = _Os()
    from pipelines.cli import command_line

    sys.argv = ["lagebild", *argv]
    sys.exit(command_line())  # command_line ends the process itself, as the console script


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


class Command:
    """A started command; `wait` gives its exit code (negative: the signal that ended it) and
    what it wrote."""

    def __init__(self, process, out: Path, err: Path) -> None:
        self.process, self.out, self.err = process, out, err

    def wait(self, timeout: float = 300) -> Done:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise TimeoutError(f"lagebild did not end within {timeout} s")
        code = self.process.exitcode
        self.process.close()
        read = [
            p.read_text(encoding="utf-8", errors="replace") if p.exists() else ""
            for p in (self.out, self.err)
        ]
        return Done(code, *read)


def start(
    argv: list[str], folder: Path, *, env: dict | None = None, stages: list[str] | None = None
) -> Command:
    """Start `lagebild argv` with `env` (default: this process's), its output in files in
    `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, out = tempfile.mkstemp(".out", dir=folder)  # made here: one pair per command
    os.close(fd)
    out = Path(out)
    err = out.with_suffix(".err")
    env = dict(os.environ if env is None else env)
    process = _context().Process(target=_command, args=(argv, env, stages, str(out), str(err)))
    process.start()
    return Command(process, out, err)


def run(argv: list[str], folder: Path, **kwargs) -> Done:
    return start(argv, folder, **kwargs).wait()
