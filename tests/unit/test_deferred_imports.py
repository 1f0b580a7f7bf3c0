"""Modules the contract suites' worker loads only when something reads from them
(`pipelines.suite_worker.defer_imports`): scipy.stats, which Great Expectations imports and no
suite uses, was 0.8 s of the worker's start. The stand-in must never answer differently from
the real module, load it twice, or make two threads wait for each other."""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
import types

import pytest

from pipelines.suite_worker import _Deferred, defer_imports


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh package `deferpkg` with a submodule `slow` that counts its executions, sleeps a
    little while it loads (so that two readers meet), whose own part imports it back
    (`from deferpkg import slow`, as scipy.stats' parts do), and which calls the package's
    `HOOK` while it loads, if a test set one."""
    root = tmp_path / "deferpkg"
    (root / "slow").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "slow" / "__init__.py").write_text(
        "import time\n"
        "import deferpkg\n"
        "deferpkg.RUNS = getattr(deferpkg, 'RUNS', 0) + 1\n"
        "EARLY = 21\n"
        "AGAIN = deferpkg.HOOK() if hasattr(deferpkg, 'HOOK') else None\n"
        "time.sleep(0.2)\n"
        "from . import part\n"
        "VALUE = part.value()\n"
    )
    (root / "slow" / "part.py").write_text(
        "import deferpkg\n"
        "from deferpkg import slow\n"
        "deferpkg.PART_RUNS = getattr(deferpkg, 'PART_RUNS', 0) + 1\n"
        "def value():\n    return 42 if slow.__name__ else 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferpkg.slow"
    for name in [m for m in sys.modules if m == "deferpkg" or m.startswith("deferpkg.")]:
        del sys.modules[name]


def _read_in_threads(module, n: int) -> list:
    """`module.VALUE` read by n threads at once; a reader still waiting after 30 s counts as
    hung (a re-entrant read must not wait for itself)."""
    start = threading.Barrier(n)
    got: list = []

    def read() -> None:
        start.wait()
        got.append(module.VALUE)

    threads = [threading.Thread(target=read, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a reader of the deferred module hangs"
    return got


def test_a_deferred_module_is_not_executed_until_something_reads_from_it(package):
    defer_imports((package,))
    import deferpkg
    from deferpkg import slow

    assert isinstance(slow, _Deferred) and not hasattr(deferpkg, "RUNS")
    assert package not in sys.modules  # `import deferpkg.slow` would load the real one
    assert slow.VALUE == 42
    assert deferpkg.RUNS == 1
    real = sys.modules[package]
    assert type(real) is types.ModuleType and deferpkg.slow is real and real.VALUE == 42


def test_readers_at_once_load_it_once_and_all_get_the_real_value(package):
    defer_imports((package,))
    from deferpkg import slow

    assert _read_in_threads(slow, 4) == [42] * 4
    assert sys.modules["deferpkg"].RUNS == 1


def test_a_read_of_the_stand_in_while_the_module_loads_gets_what_is_loaded_so_far(
    package, tmp_path
):
    """Code that kept the stand-in (as Great Expectations keeps `stats`) and is called while
    the real module loads reads through the stand-in again: it must not wait for itself. In a
    process of its own: a reader that hangs holds the module's import lock."""
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from pipelines.suite_worker import defer_imports\n"
        f"defer_imports(({package!r},))\n"
        "import deferpkg\n"
        "from deferpkg import slow\n"
        "deferpkg.HOOK = lambda: slow.EARLY\n"
        "print(slow.VALUE, sys.modules['deferpkg.slow'].AGAIN)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a read of the stand-in while the module loads waits for itself")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", "21"]


def test_a_submodule_imported_first_is_loaded_once_and_is_the_packages_own(package):
    """`import deferpkg.slow.part` before any read loads the real package through the import
    system, not a second copy of the part beside it (found by a review: pickling failed)."""
    defer_imports((package,))
    importlib.import_module("deferpkg.slow.part")

    assert sys.modules["deferpkg"].PART_RUNS == 1 and sys.modules["deferpkg"].RUNS == 1
    assert sys.modules[package].part is sys.modules["deferpkg.slow.part"]
    assert sys.modules["deferpkg"].slow is sys.modules[package]


def test_two_threads_importing_each_others_modules_do_not_wait_for_each_other(tmp_path):
    """Thread B reads the stand-in, whose module imports `common`; thread A meanwhile imports
    `common`, whose body reads the stand-in. Python resolves such a cycle between its own
    module locks; a lock of the stand-in's own would hang both (found by a review)."""
    root = tmp_path / "dlpkg"
    (root / "slow").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "holder.py").write_text(
        "from dlpkg import slow\n\ndef early():\n    return slow.EARLY\n"
    )
    (root / "common.py").write_text(
        "import time\nfrom dlpkg import holder\ntime.sleep(0.1)\nE = holder.early()\n"
    )
    (root / "slow" / "__init__.py").write_text(
        "import time\nEARLY = 1\ntime.sleep(0.3)\nfrom dlpkg import common\nVALUE = 42\n"
    )
    script = (
        f"import sys, threading, time; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from pipelines.suite_worker import defer_imports\n"
        "defer_imports(('dlpkg.slow',))\n"
        "import dlpkg.holder as holder\n"
        "got = {}\n"
        "def b():\n    got['B'] = holder.slow.VALUE\n"
        "def a():\n    time.sleep(0.05)\n    import dlpkg.common\n    got['A'] = dlpkg.common.E\n"
        "ts = [threading.Thread(target=f, daemon=True) for f in (b, a)]\n"
        "[t.start() for t in ts]; [t.join(20) for t in ts]\n"
        "print('hang' if any(t.is_alive() for t in ts) else sorted(got.items()), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('A', 1), ('B', 42)]"


def test_a_module_already_loaded_is_left_as_it_is(package):
    import deferpkg.slow

    loaded = sys.modules[package]
    defer_imports((package,))
    assert sys.modules[package] is loaded and deferpkg.slow is loaded
    assert deferpkg.RUNS == 1
