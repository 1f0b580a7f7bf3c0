"""Memory that pandas and Arrow freed in a worker thread goes back to the system (issue 15:
at 10,000,000 cases the contract suites' frames stayed with the process through the marts).

Measured in a fresh interpreter, so the resident size is this work's alone. Without the call
the process mostly keeps the memory (seven of eight tries here still held it a second later;
Arrow's allocator sometimes purges on its own), so no test asserts that half."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading, psutil, pyarrow as pa, pandas as pd
from pipelines.observe import give_back_memory
rss = lambda: psutil.Process().memory_info().rss >> 20

def work():
    for _ in range(3):  # as the suites: Arrow-backed string frames, regexes, in a thread
        t = pa.table({"s": pa.array([f"wert-{i}" for i in range(3_000_000)])})
        df = t.to_pandas(types_mapper=pd.ArrowDtype)
        matched = df["s"].str.match(r"wert-\\d+$")
        del t, df, matched

worker = threading.Thread(target=work)
worker.start()
worker.join()
held = rss()
give_back_memory()
print(held, rss())
"""


def test_freed_frames_are_given_back_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    held, after = map(int, out.split())
    assert held - after >= 50, (held, after)  # ~90–130 MB of ~170 MB here
