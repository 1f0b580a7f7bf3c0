"""Text themes: German-aware normalisation of the anonymised notes and an explainable topic model.

Pipeline (set-based where it can be, Python only for the lemmatiser and the model):

1. DuckDB splits the distinct note texts into letter tokens (lower case, umlauts kept).
2. Each *distinct* token is lemmatised once with simplemma (its German data ships in the
   wheel; nothing is downloaded) and folded to a key: lower case, ä->ae, ö->oe, ü->ue, ß->ss,
   so "Zuständigkeit", "Zuständigkeiten" and "Zustaendigkeit" are one term. Stop words
   (``stopwords_de.txt``) are dropped both as written and as lemma.
3. DuckDB counts (document, key) pairs; a document is a distinct note text, so notes that
   repeat verbatim are processed once.
4. scikit-learn: TF-IDF (sublinear tf) and NMF (nndsvda init, fixed ``random_state``) fitted on
   a deterministic sample of at most ``FIT_SAMPLE`` window notes (drawn in proportion to how
   often each text occurs), then *every* note up to ``as_of`` is assigned by ``transform``.
   Each topic is explained by its highest-weighted terms (the rows of NMF's ``H``).
5. A note belongs to its strongest topic when that topic carries at least ``MIN_SHARE`` of
   the note's topic weight; otherwise it stays unassigned.

The result never contains note text: topics carry terms, assignments carry ids and scores.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from transforms.themes import lemmas, text_memo

STOPWORDS_FILE = Path(__file__).resolve().parent / "stopwords_de.txt"

FIT_SAMPLE = 30_000  # notes the model is fitted on at most (all notes are then assigned)
MIN_SHARE = 0.4  # a note joins its strongest topic only with at least this share of its weight
MERGE_COSINE = 0.15  # topics whose term profiles are this similar describe one subject: merged
MIN_COHERENCE = 0.6  # median share of a topic's notes; below it the topic is a mixture
MIN_TOKEN_LEN = 3
MAX_DF = 0.5  # terms in more than half of the window's notes carry no topic
MIN_DF = 3  # terms in fewer notes are noise (and could single out one person)
MAX_FEATURES = 5_000
TOP_TERMS = 10  # terms kept per topic (for labels, matching across runs)
TRANSFORM_BATCH = 50_000
log = logging.getLogger("lagebild.themes")

TOKEN_REGEX = r"\p{L}+"  # RE2 (DuckDB): runs of letters, so hyphens and digits split tokens
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(word: str) -> str:
    """Lower case with umlauts and ß folded: the key that terms are compared by."""
    return word.lower().translate(_FOLD)


@cache
def stopwords() -> frozenset[str]:
    words = set()
    for line in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(fold(line))
    return frozenset(words)


_DICTIONARY_LOCK = threading.Lock()
_dictionary_loaded = False


def load_dictionary() -> None:
    """Load simplemma's German dictionary (transforms.themes.lemmas: stored at installation,
    else decoded, 1.1-1.2 s of Python, ~100 MB), once per process.

    `lagebild run` starts it in the background (pipelines.prewarm) while it waits for its
    contract-suites worker; a themes step that comes first waits for that load instead of
    loading the dictionary a second time beside it."""
    global _dictionary_loaded
    if _dictionary_loaded:
        return
    with _DICTIONARY_LOCK:
        if not _dictionary_loaded:
            lemmas.load()
            _dictionary_loaded = True


@cache
def _lemma(token: str) -> str:
    load_dictionary()
    return lemmas.lemmatize(token)


def _known(token: str) -> bool:
    load_dictionary()
    return lemmas.is_known(token)


def normalise_token(token: str) -> tuple[str, str] | None:
    """(key, display lemma) of one token, or None for stop words and fragments.

    The display lemma keeps German spelling and noun capitals ("Therapieplatz"); the key is
    its folded lower-case form ("therapieplatz").
    """
    stop = stopwords()
    token = token.lower()
    if len(token) < MIN_TOKEN_LEN or fold(token) in stop:
        return None
    lemma = _lemma(token)
    key = fold(lemma)
    if len(key) < MIN_TOKEN_LEN or key in stop or not key.isalpha():
        return None
    if not lemma[:1].isupper() and _known(token):
        return None  # a known verb, adjective or adverb: themes are named by nouns
    return key, lemma


_TOKEN_PY = re.compile(r"[^\W\d_]+")


def normalise_text(text: str) -> list[str]:
    """The keys of one text, in order (the same rules the SQL path applies; for tests and
    for explaining a single note)."""
    out = []
    for tok in _TOKEN_PY.findall(text or ""):
        norm = normalise_token(tok)
        if norm:
            out.append(norm[0])
    return out


def token_map(tokens: Iterable[str]) -> pd.DataFrame:
    """token -> (key, display) for the distinct tokens of a corpus."""
    rows = []
    for tok in tokens:
        norm = normalise_token(tok)
        if norm:
            rows.append((tok, norm[0], norm[1]))
    return pd.DataFrame(rows, columns=["token", "key", "display"])


@dataclass
class TextTopics:
    """Result of the text model."""

    topics: pd.DataFrame  # topic, keys, terms, labels, weights, notes_fit
    assigned: int = 0  # distinct note texts assigned to a topic
    documents: int = 0  # distinct note texts
    fit_notes: int = 0  # notes in the fit sample
    vocabulary: int = 0
    info: dict = field(default_factory=dict)
    reused: bool = False  # taken from the memo of the last fit, not fitted in this call


_TOPIC_COLUMNS = ["topic", "keys", "terms", "labels", "weights", "coherence", "merged_from"]


def _empty_topics() -> pd.DataFrame:
    return pd.DataFrame(columns=_TOPIC_COLUMNS)


def merge_groups(h: np.ndarray, threshold: float) -> list[list[int]]:
    """Groups of topics (rows of NMF's H) linked by cosine similarity >= threshold (single
    linkage), each sorted, ordered by their smallest member."""
    norms = np.linalg.norm(h, axis=1, keepdims=True)
    hn = np.divide(h, norms, out=np.zeros_like(h), where=norms > 0)
    sim = hn @ hn.T
    parent = list(range(len(h)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(h)):
        for j in range(i + 1, len(h)):
            if sim[i, j] >= threshold:
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(len(h)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda m: m[0])


def fit_text_topics(
    con: duckdb.DuckDBPyConnection,
    *,
    n_topics: int,
    seed: int,
    notes_table: str = "theme_notes",
    fit_sample: int = FIT_SAMPLE,
    min_share: float = MIN_SHARE,
    reuse: bool = False,
) -> TextTopics:
    """Fit the topic model on the window notes in ``notes_table`` and assign every note.

    ``notes_table`` has columns ``note_id``, ``note`` and ``in_window`` (BOOLEAN). Creates the
    temporary table ``text_note_topics(note_id, topic, score)`` for the assigned notes.

    ``reuse``: when the distinct note texts, their window counts, the parameters and the code
    are those of the last fit kept on ``con`` (transforms/themes/text_memo.py), its result is
    taken instead of fitting again (a re-delivery that changes no note: 1.9 s at 1,000,000
    cases); a new fit is kept.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE text_docs AS
        SELECT row_number() OVER (ORDER BY note) - 1 AS doc_id, note,
               count(*) FILTER (WHERE in_window) AS n_window
        FROM {notes_table}
        WHERE note IS NOT NULL AND trim(note) <> ''
        GROUP BY note
        """
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE text_note_topics "
        "(note_id BIGINT, topic INTEGER, score DOUBLE)"
    )
    n_docs = con.execute("SELECT count(*) FROM text_docs").fetchall()[0][0]
    if n_docs == 0:
        return TextTopics(_empty_topics())
    params = fit_params(n_topics, seed, fit_sample, min_share)
    key = text_memo.input_key(con, params) if reuse else None
    if key is not None and (kept := text_memo.load(con, key, _TOPIC_COLUMNS)) is not None:
        try:
            _assign_notes(con, notes_table, text_memo.assignments(key))
            _remember_notes(con, key, params, notes_table)
            return TextTopics(
                topics=pd.DataFrame(kept.pop("topics"), columns=_TOPIC_COLUMNS),
                **kept,
                reused=True,
            )
        except duckdb.Error as exc:
            log.warning(f"Gemerktes Textmodell nicht lesbar, es wird neu angepasst: {exc}")
    result, doc_topics = _fit(con, n_docs, **params)
    con.register("text_doc_topics_df", doc_topics)
    try:
        _assign_notes(con, notes_table, "text_doc_topics_df")
    finally:
        con.unregister("text_doc_topics_df")
    if key is not None:
        kept = {
            "topics": result.topics.to_dict("records"),
            **{f: getattr(result, f) for f in text_memo.COUNTS},
            "info": result.info,
        }
        text_memo.save(con, key, kept, doc_topics)
        _remember_notes(con, key, params, notes_table)
    return result


def fit_params(
    n_topics: int, seed: int, fit_sample: int = FIT_SAMPLE, min_share: float = MIN_SHARE
) -> dict:
    """The parameters a fit depends on (part of the memo's keys)."""
    return {"n_topics": n_topics, "seed": seed, "fit_sample": fit_sample, "min_share": min_share}


def _remember_notes(con: duckdb.DuckDBPyConnection, key: str, params: dict, notes: str) -> None:
    """The notes' cheap key beside the kept fit, so a later run foresees a hit
    (`transforms.themes.build.will_fit_text_model`)."""
    relation = f"SELECT note, in_window FROM {notes} WHERE note IS NOT NULL AND trim(note) <> ''"
    text_memo.remember_notes(con, key, params, relation)


def _assign_notes(con: duckdb.DuckDBPyConnection, notes_table: str, doc_topics: str) -> None:
    """text_note_topics: every note of ``notes_table`` with its text's topic and score."""
    con.execute(
        f"""
        INSERT INTO text_note_topics
        SELECT n.note_id, a.topic, a.score
        FROM {notes_table} n
        JOIN text_docs d ON d.note = n.note
        JOIN {doc_topics} a ON a.doc_id = d.doc_id
        """
    )


_NO_DOC_TOPICS = pd.DataFrame(
    {
        "doc_id": pd.Series(dtype="int64"),
        "topic": pd.Series(dtype="int32"),
        "score": pd.Series(dtype="float64"),
    }
)


def _fit(
    con: duckdb.DuckDBPyConnection,
    n_docs: int,
    *,
    n_topics: int,
    seed: int,
    fit_sample: int,
    min_share: float,
) -> tuple[TextTopics, pd.DataFrame]:
    """The model over ``text_docs``: its topics and the (doc_id, topic, score) of every
    distinct note text it assigns."""
    # Distinct tokens -> keys (the lemmatiser runs once per distinct token).
    tokens = con.execute(
        f"""
        SELECT token, count(*) AS freq
        FROM (SELECT unnest(regexp_extract_all(lower(note), '{TOKEN_REGEX}')) AS token
              FROM text_docs)
        GROUP BY token ORDER BY token
        """
    ).df()
    tmap = token_map(tokens["token"].tolist())
    if tmap.empty:
        return TextTopics(_empty_topics(), documents=n_docs), _NO_DOC_TOPICS
    tmap = tmap.merge(tokens, on="token")
    # Display form of a key: its most frequent lemma spelling (ties: alphabetical).
    display = (
        tmap.groupby(["key", "display"], as_index=False)["freq"]
        .sum()
        .sort_values(["key", "freq", "display"], ascending=[True, False, True])
        .drop_duplicates("key")
        .set_index("key")["display"]
    )
    con.register("text_token_map", tmap[["token", "key"]])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE text_doc_terms AS
        SELECT d.doc_id, m.key, count(*)::INTEGER AS tf
        FROM (SELECT doc_id,
                     unnest(regexp_extract_all(lower(note), '{TOKEN_REGEX}')) AS token
              FROM text_docs) d
        JOIN text_token_map m USING (token)
        GROUP BY d.doc_id, m.key
        """
    )
    con.unregister("text_token_map")
    # fetchall: a result left open makes DuckDB refuse the frames registered after it
    window_notes = con.execute("SELECT coalesce(sum(n_window), 0) FROM text_docs").fetchall()[0][0]
    if window_notes == 0:
        return TextTopics(_empty_topics(), documents=n_docs), _NO_DOC_TOPICS

    # Vocabulary by document frequency over the window's notes (each note counted as often
    # as it occurs): drop rare and ubiquitous terms.
    vocab = con.execute(
        """
        SELECT t.key, sum(d.n_window) AS df
        FROM text_doc_terms t JOIN text_docs d USING (doc_id)
        GROUP BY t.key
        HAVING sum(d.n_window) >= $min_df AND sum(d.n_window) <= $max_df
        ORDER BY df DESC, t.key
        LIMIT $max_features
        """,
        {
            "min_df": MIN_DF,
            "max_df": max(MIN_DF, MAX_DF * window_notes),
            "max_features": MAX_FEATURES,
        },
    ).df()
    if len(vocab) < 2:
        return TextTopics(_empty_topics(), documents=n_docs), _NO_DOC_TOPICS
    keys = sorted(vocab["key"].tolist())  # column order fixed by key: deterministic
    key_index = pd.DataFrame({"key": keys, "col": np.arange(len(keys), dtype=np.int64)})
    con.register("text_vocab", key_index)
    triples = con.execute(
        """
        SELECT t.doc_id, v.col, t.tf
        FROM text_doc_terms t JOIN text_vocab v USING (key)
        ORDER BY t.doc_id, v.col
        """
    ).fetchnumpy()
    con.unregister("text_vocab")
    counts = (
        con.execute("SELECT n_window FROM text_docs ORDER BY doc_id")
        .fetchnumpy()["n_window"]
        .astype(np.int64)
    )

    from scipy import sparse

    x_all = sparse.csr_matrix(
        (triples["tf"].astype(np.float64), (triples["doc_id"], triples["col"])),
        shape=(n_docs, len(keys)),
    )

    # Deterministic fit sample: window notes drawn in proportion to how often each text occurs.
    note_docs = np.repeat(np.arange(n_docs), counts)
    rng = np.random.default_rng(seed)
    if len(note_docs) > fit_sample:
        note_docs = np.sort(rng.choice(note_docs, size=fit_sample, replace=False))
    x_fit = x_all[note_docs]
    nonempty = np.asarray(x_fit.sum(axis=1)).ravel() > 0
    x_fit = x_fit[nonempty]
    k = min(n_topics, x_fit.shape[0] - 1, len(keys) - 1)
    if k < 1:
        return (
            TextTopics(_empty_topics(), documents=n_docs, vocabulary=len(keys)),
            _NO_DOC_TOPICS,
        )

    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer(sublinear_tf=True).fit(x_fit)
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500, tol=1e-4)
    nmf.fit(tfidf.transform(x_fit))
    # Merge topics that split one subject (similar term profiles), single linkage.
    h_fit = nmf.components_
    groups = merge_groups(h_fit, MERGE_COSINE)
    g = len(groups)
    merge = np.zeros((k, g))
    for j, members in enumerate(groups):
        merge[members, j] = 1.0
    h = merge.T @ h_fit

    # Assign every distinct note text (window and history) by transform, in batches.
    assigned_parts = []
    for start in range(0, n_docs, TRANSFORM_BATCH):
        xb = tfidf.transform(x_all[start : start + TRANSFORM_BATCH])
        w = nmf.transform(xb) @ merge
        total = w.sum(axis=1)
        best = w.argmax(axis=1)
        share = np.divide(
            w[np.arange(len(best)), best], total, out=np.zeros_like(total), where=total > 0
        )
        ok = (total > 0) & (share >= min_share)
        assigned_parts.append(
            pd.DataFrame(
                {
                    "doc_id": np.arange(start, start + len(best))[ok],
                    "topic": best[ok].astype(np.int32),
                    "score": np.round(share[ok], 6),
                }
            )
        )
    doc_topics = pd.concat(assigned_parts, ignore_index=True)

    # Coherence: the median share of a topic's notes. A topic whose notes only half belong to
    # it is a mixture of leftovers (filler words), not a subject; its notes stay unassigned.
    coherence = doc_topics.groupby("topic")["score"].median()
    coherent = [t for t in range(g) if coherence.get(t, 0.0) >= MIN_COHERENCE]
    doc_topics = doc_topics[doc_topics["topic"].isin(coherent)]

    # Topics, explained by their top terms (ties broken by key).
    rows = []
    key_arr = np.array(keys)
    for t in coherent:
        order = np.lexsort((key_arr, -h[t]))[:TOP_TERMS]
        order = [i for i in order if h[t, i] > 0]
        top = key_arr[order].tolist()
        rows.append(
            {
                "topic": t,
                "keys": top,
                "terms": [display.get(key, key).lower() for key in top],
                "labels": [display.get(key, key) for key in top],
                "weights": [round(float(h[t, i]), 6) for i in order],
                "coherence": round(float(coherence.get(t, 0.0)), 4),
                "merged_from": len(groups[t]),
            }
        )
    topics = pd.DataFrame(rows, columns=_TOPIC_COLUMNS)
    result = TextTopics(
        topics=topics,
        assigned=len(doc_topics),
        documents=n_docs,
        fit_notes=int(x_fit.shape[0]),
        vocabulary=len(keys),
        info={
            "topics_fitted": k,
            "topics_after_merge": g,
            "topics_coherent": len(coherent),
            "reconstruction_err": round(float(nmf.reconstruction_err_), 4),
        },
    )
    return result, doc_topics.reset_index(drop=True)
