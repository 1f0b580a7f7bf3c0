"""The text model's last fit, kept in the warehouse with the key it was made under (issue 15).

A re-delivery that changes no note (a corrected closure, a staffing table) would otherwise fit
the same model on the same notes again: 1.9 s at 1,000,000 cases. The key covers everything
the fit depends on: the code (text.py, lemmas.py, the stop words, the libraries' and Python's
versions), the parameters, and every distinct note text (by its SHA-256, in the order the fit
numbers them) with its count in the theme window. Kept beside the warehouse's other
intermediate tables, never published: the fit's topics (top terms, weights) and the topic
and score of every distinct note text by its number, no text.

    intermediate.text_memo_v1        input_key, result (JSON: topics, counts, info)
    intermediate.text_memo_v1_docs   input_key, doc_id, topic, score
    intermediate.text_memo_v1_notes  input_key, notes_key (`notes_key`: foreseeing a hit)

A memo that cannot be read, or is not what a fit writes, is no memo: the model is fitted
anew (and a warning logged); one that cannot be written leaves the next run to fit anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kernel.fingerprint import code_digest

MEMO_VERSION = "1"  # raise when what the key covers or the memo's layout changes
MEMO = f"intermediate.text_memo_v{MEMO_VERSION}"
MEMO_DOCS = f"{MEMO}_docs"
MEMO_NOTES = f"{MEMO}_notes"
COUNTS = ("assigned", "documents", "fit_notes", "vocabulary")  # TextTopics' counts
_HERE = Path(__file__).resolve().parent
log = logging.getLogger("lagebild.themes")


def _code_digest() -> str:
    """The model's code, stop words and lemmatiser, and the libraries that compute it."""
    return code_digest(
        MEMO_VERSION,
        [_HERE / f for f in ("text.py", "text_memo.py", "lemmas.py", "stopwords_de.txt")],
        ("simplemma", "scikit-learn", "scipy", "numpy", "pandas", "duckdb"),
    )


# taken at import: a file changed on disk during a run keeps nothing of that run (`save`)
CODE_KEY = _code_digest()


def input_key(con: duckdb.DuckDBPyConnection, params: dict) -> str:
    """Everything the fit depends on: the code, the parameters and the table ``text_docs``
    (every distinct note text by its SHA-256, in doc_id order, with its window count)."""
    (docs,) = con.execute(
        "SELECT sha256(string_agg(sha256(note) || ':' || n_window, ',' ORDER BY doc_id))"
        " FROM text_docs"
    ).fetchall()[0]
    return hashlib.sha256(f"{CODE_KEY}\0{sorted(params.items())!r}\0{docs}".encode()).hexdigest()


def notes_key(con: duckdb.DuckDBPyConnection, params: dict, notes: str, args=None) -> str:
    """A cheap key of what a fit reads: the code, the parameters and the notes as a multiset
    of (note, in the window) pairs, one sum of DuckDB's row hashes over the relation `notes`
    (columns note, in_window). The same multiset gives the same `text_docs` and so the same
    `input_key`; but a sum of 64-bit hashes is not proof against collisions (the memo's own
    key is a SHA-256 over every text), so it only foresees a hit (`foresees_reuse`): a wrong
    guess costs time, never a figure."""
    (total,) = con.execute(
        f"SELECT sum(hash(note, in_window))::HUGEINT FROM ({notes})", args or {}
    ).fetchall()[0]
    return hashlib.sha256(f"{CODE_KEY}\0{sorted(params.items())!r}\0{total}".encode()).hexdigest()


def remember_notes(con: duckdb.DuckDBPyConnection, key: str, params: dict, notes: str) -> None:
    """Beside the fit kept under `key`: the `notes_key` of the notes it was made from (the
    relation `notes`; also for a fit kept before there was this table). Already there for
    `key`, it is the same (the same texts and counts give the same notes key) and is not
    computed again. A failure only loses the foresight."""
    try:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {MEMO_NOTES} (input_key VARCHAR, notes_key VARCHAR)"
        )
        if con.execute(f"SELECT count(*) FROM {MEMO_NOTES} WHERE input_key = ?", [key]).fetchall()[
            0
        ][0]:
            return
        notes = notes_key(con, params, notes)
        con.execute(f"DELETE FROM {MEMO_NOTES}").fetchall()
        con.execute(f"INSERT INTO {MEMO_NOTES} VALUES (?, ?)", [key, notes])
    except duckdb.Error as exc:
        log.warning(f"Schlüssel der Notizen nicht gemerkt: {exc}")


def foresees_reuse(con: duckdb.DuckDBPyConnection, notes: str | None = None) -> bool:
    """Whether the fit kept was made from notes with this `notes_key` (None: whether any fit
    is kept with its notes' key): then the themes step will take it and needs neither
    scikit-learn nor the lemmatiser (pipelines.prewarm). False where nothing is kept yet or
    the tables cannot be read."""
    try:
        (n,) = con.execute(
            f"SELECT count(*) FROM {MEMO_NOTES} JOIN {MEMO} USING (input_key)"
            " WHERE $notes IS NULL OR notes_key = $notes",
            {"notes": notes},
        ).fetchall()[0]
    except duckdb.Error:
        return False
    return n > 0


def assignments(key: str) -> str:
    """The kept (doc_id, topic, score) of the fit made under ``key``, as a relation. The key is
    hexadecimal (a SHA-256 digest), so it stands in the statement as written."""
    if not all(c in "0123456789abcdef" for c in key):
        raise ValueError("key is no hexadecimal digest")
    return f"(SELECT doc_id, topic, score FROM {MEMO_DOCS} WHERE input_key = '{key}')"


def load(con: duckdb.DuckDBPyConnection, key: str, topic_fields) -> dict | None:
    """The kept result ({topics: records, counts, info}) when it was made under ``key`` and
    its assignments are all there; None (fit again) otherwise."""
    schema, table = MEMO.split(".")
    try:
        present = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = ? AND table_name IN (?, ?)",
            [schema, table, f"{table}_docs"],
        ).fetchall()[0][0]
        if present < 2:
            return None
        # results read to their end (fetchall): one left open makes DuckDB refuse the frames
        # the caller registers next
        rows = con.execute(f"SELECT result FROM {MEMO} WHERE input_key = ?", [key]).fetchall()
        if not rows:
            return None
        kept = _checked(json.loads(rows[0][0]), topic_fields)
        (docs,) = con.execute(
            f"SELECT count(*) FROM {MEMO_DOCS} WHERE input_key = ?", [key]
        ).fetchall()[0]
        if docs != kept["assigned"]:  # another fit's assignments (two writers): not ours
            return None
        return kept
    except (duckdb.Error, ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
        log.warning(f"Gemerktes Textmodell nicht lesbar, es wird neu angepasst: {exc}")
        return None


def _checked(kept: dict, topic_fields) -> dict:
    """The result read back, checked field by field: anything a fit does not write (a memo
    edited by hand) raises ValueError."""

    def count(value) -> int:
        if type(value) is not int or value < 0:
            raise ValueError(f"keine Anzahl: {str(value)[:40]}")
        return value

    def number(value) -> float:
        if type(value) not in (int, float) or not np.isfinite(value):
            raise ValueError(f"keine Zahl: {str(value)[:40]}")
        return value

    topics = kept["topics"]
    if not isinstance(topics, list):
        raise ValueError("Themen fehlen")
    for t in topics:
        if not isinstance(t, dict) or set(t) != set(topic_fields):
            raise ValueError("Thema unvollständig")
        count(t["topic"])
        count(t["merged_from"])
        number(t["coherence"])
        words = (t["keys"], t["terms"], t["labels"])
        if not all(isinstance(w, list) and all(isinstance(x, str) for x in w) for w in words):
            raise ValueError("Begriffe eines Themas sind keine Wörter")
        if not isinstance(t["weights"], list):
            raise ValueError("Gewichte eines Themas fehlen")
        for weight in t["weights"]:
            number(weight)
        if len({len(t["keys"]), len(t["terms"]), len(t["labels"]), len(t["weights"])}) != 1:
            raise ValueError("Begriffe und Gewichte eines Themas passen nicht zusammen")
    info = kept["info"]
    if not isinstance(info, dict) or not all(type(v) in (int, float) for v in info.values()):
        raise ValueError("Kennzahlen des Modells unlesbar")
    return {"topics": topics, **{c: count(kept[c]) for c in COUNTS}, "info": dict(info)}


def save(con: duckdb.DuckDBPyConnection, key: str, kept: dict, doc_topics: pd.DataFrame) -> None:
    """Keep this fit ({topics: records, counts, info} and its doc_topics) for the next run. The
    old key goes first, so a save that stops halfway leaves no key on other assignments; the
    assignments carry their key as well, so two saves that cross (two writers) are no hit for
    either (`load`)."""
    if _code_digest() != CODE_KEY:
        log.warning(
            "Der Programmcode hat sich während des Laufs geändert: Textmodell nicht gemerkt."
        )
        return
    try:
        document = json.dumps(kept, default=_plain)
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        con.execute(f"CREATE TABLE IF NOT EXISTS {MEMO} (input_key VARCHAR, result VARCHAR)")
        con.execute(f"DELETE FROM {MEMO}").fetchall()
        con.register("text_memo_docs", doc_topics)
        try:
            con.execute(
                f"CREATE OR REPLACE TABLE {MEMO_DOCS} AS"
                " SELECT $key AS input_key, doc_id::BIGINT AS doc_id, topic::INTEGER AS topic,"
                " score::DOUBLE AS score FROM text_memo_docs",
                {"key": key},
            )
        finally:
            con.unregister("text_memo_docs")
        con.execute(f"INSERT INTO {MEMO} VALUES (?, ?)", [key, document])
    except (duckdb.Error, TypeError, ValueError) as exc:
        log.warning(f"Textmodell nicht gemerkt, der nächste Lauf passt es neu an: {exc}")


def _plain(value):
    """numpy scalars and arrays in a result as JSON (anything else: not kept, TypeError)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} in a text model's result")
