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


# --- kept hashes: a run does not read the whole inbox again (landing.HASHES) ------------------


def _kept_after_scan(inbox, con):
    first = landing.scan_inbox(inbox, kept=landing.kept_hashes(con))
    landing.keep_hashes(con, first)
    return first, landing.kept_hashes(con)


def test_a_second_scan_takes_the_kept_hashes_and_reads_no_file(inbox, monkeypatch):
    import duckdb

    monkeypatch.setattr(landing, "SETTLED_SECONDS", 0.0)  # every entry counts as settled
    con = duckdb.connect()
    first, kept = _kept_after_scan(inbox, con)
    assert len(kept) == 6  # the copied deliveries; the symlink and the FIFO carry no hash

    def no_reading(path):
        raise AssertionError(f"read again: {path}")

    monkeypatch.setattr(landing, "_hash_file", no_reading)
    again = landing.scan_inbox(inbox, kept=kept)
    assert again == first
    # no name of the inbox is kept in clear (a name may carry an identifier)
    stored = con.execute(f"SELECT string_agg(stat_key || sha256, '') FROM {landing.HASHES}")
    assert "traeger" not in stored.fetchone()[0]


def test_a_file_rewritten_with_its_old_size_and_time_is_read_again(inbox, monkeypatch):
    import duckdb

    monkeypatch.setattr(landing, "SETTLED_SECONDS", 0.0)
    con = duckdb.connect()
    first, kept = _kept_after_scan(inbox, con)
    for target in (inbox / "mbe-essen_20261015.csv", inbox / "kim-traeger2_20261015/cases.csv"):
        st = target.stat()
        target.write_bytes(target.read_bytes().replace(b"E", b"X").replace(b"T2", b"T9"))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and time as before
        assert target.stat().st_size == st.st_size
    again = {c.raw_name: c for c in landing.scan_inbox(inbox, kept=kept)}
    before = {c.raw_name: c for c in first}
    for name in ("mbe-essen_20261015.csv", "kim-traeger2_20261015"):
        assert again[name].sha256 == landing.sha256_of(again[name].path)
        assert again[name].sha256 != before[name].sha256
    assert again["kim-traeger1_20261015"].sha256 == before["kim-traeger1_20261015"].sha256


def test_an_entry_changed_just_before_the_scan_is_not_kept(inbox):
    import duckdb

    con = duckdb.connect()
    scanned, kept = _kept_after_scan(inbox, con)  # the fixture was written just now
    assert kept == {} and all(c.sha256 for c in scanned if c.copy)


def test_on_a_file_system_without_a_trustworthy_change_time_every_entry_is_read(inbox, monkeypatch):
    """FAT keeps the change time equal to the modification time (which `touch` sets back);
    a network share reports its server's: there, kept hashes are neither kept nor taken."""
    import duckdb

    monkeypatch.setattr(landing, "SETTLED_SECONDS", 0.0)
    monkeypatch.setattr(landing, "file_system_types", lambda: {})  # e.g. vfat, cifs
    con = duckdb.connect()
    scanned, kept = _kept_after_scan(inbox, con)
    assert kept == {} and all(c.stat_key == "" for c in scanned)


def test_the_mount_table_names_this_file_systems_type(tmp_path):
    types = landing.file_system_types()
    assert types.get(os.stat(tmp_path).st_dev), "tmp_path's device is not in mountinfo"


def test_kept_hashes_of_another_layout_or_version_are_not_taken(inbox, monkeypatch, caplog):
    import duckdb

    monkeypatch.setattr(landing, "SETTLED_SECONDS", 0.0)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate")
    con.execute(f"CREATE TABLE {landing.HASHES} (key VARCHAR, sha VARCHAR)")
    assert landing.kept_hashes(con) == {}
    assert "nicht lesbar" in caplog.text
    first, kept = _kept_after_scan(inbox, con)  # the table is written anew
    assert len(kept) == 6
    # a kept hash of another definition of the hash is never taken
    monkeypatch.setattr(landing, "HASH_VERSION", "2")
    again = landing.scan_inbox(inbox, kept=kept)
    assert not {c.stat_key for c in again} & set(kept)
    assert [c.sha256 for c in again] == [c.sha256 for c in first]
