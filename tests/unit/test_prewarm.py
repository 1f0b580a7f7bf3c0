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
