"""The inbox scan hashes its deliveries side by side (pipelines/ingest/landing.scan_inbox):
the same candidates, in the same order, with the same hashes as one after the other, and
nothing that is not a regular file or folder is opened for it."""

from __future__ import annotations

import itertools
import os
import threading
import zipfile

import pytest

from pipelines.ingest import landing


@pytest.fixture
def inbox(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    for n in range(4):  # folder deliveries with a subfolder
        d = box / f"kim-traeger{n}_20261015"
        (d / "anhang").mkdir(parents=True)
        (d / "cases.csv").write_text(f"provider_id,case_id\nT{n},F1\n", encoding="utf-8")
        (d / "anhang" / "goals.csv").write_bytes(os.urandom(50_000))
    (box / "mbe-essen_20261015.csv").write_text("provider_id\nE\n", encoding="utf-8")
    with zipfile.ZipFile(box / "jmd-bonn_20261015.zip", "w") as z:
        z.writestr("cases.csv", "provider_id\nB\n")
    (box / "verweis.csv").symlink_to(box / "mbe-essen_20261015.csv")
    os.mkfifo(box / "rohr.csv")
    return box


def _scan(inbox, workers, monkeypatch):
    monkeypatch.setattr(landing, "HASH_WORKERS", workers)
    return landing.scan_inbox(inbox)


def test_hashing_side_by_side_gives_what_one_after_the_other_gives(inbox, monkeypatch):
    alone = _scan(inbox, 1, monkeypatch)
    together = _scan(inbox, 4, monkeypatch)
    assert together == alone
    copied = [c for c in together if c.copy]
    assert len(copied) == 6 and len(together) == 8
    assert all(c.sha256 == landing.sha256_of(c.path) for c in copied)
    assert len({c.delivery_id for c in together}) == 8
    # the symlink and the FIFO keep their own marker hash and are not copied
    assert {c.source_name for c in together if not c.copy} == {"verweis.csv", "rohr.csv"}


def test_deliveries_are_hashed_by_several_threads(inbox, monkeypatch):
    hashers: set[str] = set()
    hash_file = landing._hash_file
    calls = itertools.count()
    first_two = threading.Barrier(2, timeout=10)

    def recorded(path):
        hashers.add(threading.current_thread().name)
        if next(calls) < 2:  # the first two deliveries are hashed at the same time or never
            first_two.wait()
        return hash_file(path)

    monkeypatch.setattr(landing, "_hash_file", recorded)
    _scan(inbox, 4, monkeypatch)
    assert len(hashers) >= 2
    assert all(name.startswith("lagebild-hash") for name in hashers)


def test_a_delivery_that_vanishes_while_hashed_still_stops_the_scan(inbox, monkeypatch):
    def vanished(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(landing, "_hash_file", vanished)
    with pytest.raises(FileNotFoundError):
        _scan(inbox, 4, monkeypatch)
