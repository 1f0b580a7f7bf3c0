"""What `lagebild run` loads in the background while it waits for its contract-suites worker
(pipelines.prewarm.PREWARM): simplemma's German dictionary and scikit-learn."""

from __future__ import annotations

import importlib
import threading
import time

from pipelines.prewarm import PREWARM
from transforms.themes import text


def test_every_item_of_the_prewarm_exists():
    """A failure in the background is ignored by design, so a renamed module or function
    would silently end the prewarm: each item must resolve."""
    assert "transforms.themes.text:load_dictionary" in PREWARM
    for item in PREWARM:
        name, _, func = item.partition(":")
        module = importlib.import_module(name)
        assert not func or callable(getattr(module, func))


def test_the_dictionary_is_decoded_once_however_many_threads_ask(monkeypatch):
    """The themes step asking while the background load runs waits for it (1.1 s of Python
    each time otherwise)."""
    decoded = []

    def slow_load():
        decoded.append("de")
        time.sleep(0.2)

    monkeypatch.setattr(text.lemmas, "load", slow_load)
    monkeypatch.setattr(text, "_dictionary_loaded", False)
    threads = [threading.Thread(target=text.load_dictionary) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text.load_dictionary()
    assert decoded == ["de"]


def _probe(tmp_path, monkeypatch) -> list:
    """A module `prewarm_probe` whose `load` records each call (as the prewarm's items do)."""
    (tmp_path / "prewarm_probe.py").write_text("CALLS = []\n\ndef load():\n    CALLS.append(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "prewarm_probe", raising=False)
    return importlib.import_module("prewarm_probe").CALLS


def _started(needed) -> threading.Thread:
    from pipelines import prewarm

    thread = prewarm.start(("prewarm_probe:load",), needed=needed)
    thread.join(10)
    return thread


def test_nothing_is_loaded_when_the_run_will_not_use_it(tmp_path, monkeypatch):
    """A re-delivery whose themes take the text model from the memo needs neither
    scikit-learn nor the lemmatiser: loading them took 0.4 s of such a run at 10,000 cases."""
    calls = _probe(tmp_path, monkeypatch)
    assert not _started(lambda: False).loading and calls == []
    assert _started(lambda: True).loading and calls == [1]
    assert _started(None).loading and calls == [1, 1]  # not asked: loaded, as before


def test_a_question_that_fails_loads_as_before(tmp_path, monkeypatch):
    calls = _probe(tmp_path, monkeypatch)

    def broken() -> bool:
        raise RuntimeError("Warehouse gesperrt")

    assert _started(broken).loading and calls == [1]


def test_the_question_is_answered_before_the_caller_goes_on(tmp_path, monkeypatch):
    """The question reads the warehouse; the step that asked it waits for the answer (not for
    the loads) before the next step opens the warehouse for writing."""
    calls = _probe(tmp_path, monkeypatch)
    from pipelines import prewarm

    answer = threading.Event()
    thread = prewarm.start(("prewarm_probe:load",), needed=lambda: answer.wait(10))
    assert not thread.asked.wait(0.2)  # still asking
    answer.set()
    assert thread.asked.wait(10) and thread.loading
    thread.join(10)
    assert calls == [1]
    assert prewarm.start((), needed=None).asked.is_set()  # nothing asked: nothing to wait for
