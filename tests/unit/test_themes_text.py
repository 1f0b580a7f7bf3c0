"""Text themes: German normalisation, the topic model on hand-made notes, id matching."""

from __future__ import annotations

import dataclasses

import pytest

from kernel.settings import Settings
from tests import themes_data as td
from transforms.themes.build import build_themes, theme_window, will_fit_text_model
from transforms.themes.matching import (
    coded_theme_id,
    jaccard,
    match_topics,
    new_text_theme_id,
)
from transforms.themes.text import fit_text_topics, fold, normalise_text, stopwords


def test_normalisation_lemmas_umlauts_stopwords():
    keys = normalise_text(
        "Die Klientin wartet über 3 Monate auf Therapieplätze; die Wartezeiten sind lang."
    )
    assert keys == ["therapieplatz", "wartezeit"]  # nouns, lemmatised, folded; no time words
    # umlauts as written or transcribed give one key
    assert (
        normalise_text("Zuständigkeiten") == normalise_text("Zustaendigkeit") == ["zustaendigkeit"]
    )
    assert normalise_text("Mietverträge, Vermieter, SCHUFA-Eintrag") == [
        "mietvertrag",
        "vermieter",
        "schufa",
        "eintrag",
    ]
    assert fold("Ausländerbehörde Straße") == "auslaenderbehoerde strasse"
    assert {"und", "der", "haben", "klientin"} <= stopwords()


@pytest.fixture
def notes_con(staging_con):
    td.set_as_of(staging_con)
    td.build_text(staging_con)
    staging_con.execute(
        """CREATE TEMP TABLE theme_notes AS
           SELECT row_number() OVER (ORDER BY provider_id, case_id, noted_on, note) AS note_id,
                  provider_id, case_id, noted_on, note, TRUE AS in_window
           FROM staging.barriers"""
    )
    return staging_con


PLANTED = {  # fixture topic -> terms that must lead its theme
    "psychotherapie": {"therapieplatz", "psychotherapie", "wartezeit"},
    "kinderbetreuung": {"kitaplatz", "kinderbetreuung"},
    "wohnen": {"schufa", "vermieter", "mietvertrag", "wohnung"},
    "busticket": {"busticket", "fahrtkosten", "landkreis"},
}


def _assignments(con):
    return con.execute(
        """SELECT split_part(n.case_id, '-', 2) AS planted, t.topic, count(*) AS notes
           FROM text_note_topics t JOIN theme_notes n USING (note_id)
           GROUP BY ALL ORDER BY ALL"""
    ).fetchall()


def test_model_recovers_hand_made_topics_and_is_deterministic(notes_con):
    res = fit_text_topics(notes_con, n_topics=8, seed=20261121)
    topics = {r.topic: list(r.terms) for r in res.topics.itertuples()}
    assert len(topics) == len(PLANTED)  # over-split topics are merged, leftovers dropped
    found = {}
    for planted, words in PLANTED.items():
        match = [t for t, terms in topics.items() if words <= set(terms[:5])]
        assert len(match) == 1, (planted, topics)
        found[planted] = match[0]
    # every note of a planted topic goes to that topic (or stays unassigned), never elsewhere
    for planted, topic, _n in _assignments(notes_con):
        assert found[planted] == topic
    first = (res.topics.to_dict("records"), _assignments(notes_con))
    again = fit_text_topics(notes_con, n_topics=8, seed=20261121)
    assert (again.topics.to_dict("records"), _assignments(notes_con)) == first


def test_text_themes_need_cases_and_providers(staging_con, tmp_path):
    td.build_all(staging_con)
    build_themes(staging_con, Settings(workspace=tmp_path))
    rows = staging_con.execute(
        "SELECT theme_id, terms, cases, providers, active FROM mart.themes WHERE kind = 'text'"
    ).fetchall()
    by_terms = {r[0]: r for r in rows}
    assert len(rows) == 3  # the three cross-provider topics; the local one (P4 only) is none
    for words in (PLANTED["psychotherapie"], PLANTED["kinderbetreuung"], PLANTED["wohnen"]):
        hit = [r for r in rows if words <= set(r[1][:5])]
        assert len(hit) == 1 and hit[0][4] and hit[0][3] == 3 and hit[0][2] >= 38
    assert not any("busticket" in r[1] for r in rows)
    assert all(t.startswith("T-text-") for t in by_terms)


def test_text_themes_only_above_thresholds_setting(staging_con, tmp_path):
    td.build_all(staging_con)
    build_themes(
        staging_con, dataclasses.replace(Settings(workspace=tmp_path), theme_min_providers=1)
    )
    terms = staging_con.execute(
        "SELECT terms FROM mart.themes WHERE kind = 'text' AND active"
    ).fetchall()
    assert any("busticket" in t[0][:3] for t in terms)  # local topic with min_providers=1


def test_jaccard_matching_is_greedy_and_one_to_one():
    prev = {
        "T-text-therapieplatz-wartezeit": ["therapieplatz", "wartezeit", "psychotherapie", "monat"],
        "T-text-schufa-vermieter": ["schufa", "vermieter", "wohnung", "mietvertrag"],
    }
    current = {
        0: ["wohnung", "vermieter", "schufa", "bürgschaft"],  # 3/5 = 0.6
        1: ["psychotherapie", "therapieplatz", "praxis", "wartezeit"],  # 3/5
        2: ["kitaplatz", "kinderbetreuung"],  # new
        3: ["schufa", "mietvertrag", "kaution", "makler"],  # 2/6 but theme already taken
    }
    assert match_topics(current, prev) == {
        0: "T-text-schufa-vermieter",
        1: "T-text-therapieplatz-wartezeit",
    }
    assert jaccard(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)
    assert new_text_theme_id(["kitaplatz", "kinderbetreuung"], []) == (
        "T-text-kitaplatz-kinderbetreuung"
    )
    assert new_text_theme_id(
        ["zuständigkeit", "jobcenter"], ["T-text-zustaendigkeit-jobcenter"]
    ) == ("T-text-zustaendigkeit-jobcenter-2")
    assert coded_theme_id("wartezeit", "gesundheit_psychisch") == "T-wartezeit-gesundheit_psychisch"
    assert coded_theme_id("kosten", None) == "T-kosten-ohne_bereich"


# --------------------------------------------------------------------------------------------
# the memo of the last fit (a re-delivery that changes no note does not fit again)


def _fit(con, **kw):
    params = {"n_topics": 8, "seed": 20261121, "reuse": True, **kw}
    res = fit_text_topics(con, **params)
    return res, (res.topics.to_dict("records"), res.assigned, res.info), _assignments(con)


def test_unchanged_notes_take_the_kept_model_with_the_same_result(notes_con):
    first, figures, assigned = _fit(notes_con)
    assert not first.reused and first.assigned >= 50 and len(first.topics) == len(PLANTED)
    again, figures_again, assigned_again = _fit(notes_con)
    assert again.reused
    assert (figures_again, assigned_again) == (figures, assigned)
    # the same as a fit from scratch, also for note ids that were renumbered in between
    notes_con.execute("UPDATE theme_notes SET note_id = note_id + 1000")
    scratch = fit_text_topics(notes_con, n_topics=8, seed=20261121)
    kept = fit_text_topics(notes_con, n_topics=8, seed=20261121, reuse=True)
    assert kept.reused and not scratch.reused
    assert kept.topics.to_dict("records") == scratch.topics.to_dict("records")
    notes_con.execute("CREATE TEMP TABLE scratch_topics AS SELECT * FROM text_note_topics")
    fit_text_topics(notes_con, n_topics=8, seed=20261121, reuse=True)
    differ = notes_con.execute(
        """SELECT count(*) FROM (SELECT * FROM text_note_topics EXCEPT ALL
                                 SELECT * FROM scratch_topics)"""
    ).fetchone()[0]
    assert (
        differ == 0
        and notes_con.execute("SELECT min(note_id) FROM text_note_topics").fetchone()[0] > 1000
    )


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE theme_notes SET note = note || ' Schulden' WHERE note_id = 7",  # one text
        "UPDATE theme_notes SET in_window = FALSE WHERE note_id = 7",  # one window count
        "DELETE FROM theme_notes WHERE note_id = 7",  # one note less
    ],
)
def test_a_changed_note_fits_anew(notes_con, change):
    _fit(notes_con)
    notes_con.execute(change)
    res, figures, assigned = _fit(notes_con)
    assert not res.reused
    _, scratch_figures, scratch_assigned = _fit(notes_con, reuse=False)
    assert (figures, assigned) == (scratch_figures, scratch_assigned)
    assert _fit(notes_con)[0].reused  # and that fit is kept


def test_other_parameters_fit_anew(notes_con):
    _fit(notes_con)
    assert not _fit(notes_con, n_topics=6)[0].reused
    assert not _fit(notes_con, n_topics=6, seed=7)[0].reused
    assert not _fit(notes_con, n_topics=6, seed=7, min_share=0.5)[0].reused
    assert _fit(notes_con, n_topics=6, seed=7, min_share=0.5)[0].reused


def test_a_broken_or_outdated_memo_fits_anew_never_a_crash(notes_con, monkeypatch, caplog):
    from transforms.themes import text_memo

    _, figures, assigned = _fit(notes_con)
    notes_con.execute(f"DROP TABLE {text_memo.MEMO_DOCS}")  # assignments gone under a kept key
    res, again, again_assigned = _fit(notes_con)
    assert not res.reused and (again, again_assigned) == (figures, assigned)
    notes_con.execute(f"UPDATE {text_memo.MEMO} SET result = '{{kein json'")
    res, again, again_assigned = _fit(notes_con)
    assert not res.reused and (again, again_assigned) == (figures, assigned)
    assert "Gemerktes Textmodell nicht lesbar" in caplog.text
    # what a fit never writes (a memo edited by hand): fitted anew, never taken or a crash
    for edit in (
        "json_replace(result, '$.assigned', 1e400)",
        "json_replace(result, '$.topics[0].topic', '\"x\"')",
        "json_replace(result, '$.topics[0].labels', '\"abc\"')",
        "json_replace(result, '$.topics[0].weights', json_array(1, 'x'))",
        "json_replace(result, '$.topics', NULL)",
        "repeat('[', 100000)",
    ):
        notes_con.execute(f"UPDATE {text_memo.MEMO} SET result = {edit}")
        res, again, again_assigned = _fit(notes_con)
        assert not res.reused and (again, again_assigned) == (figures, assigned), edit
    # two saves that crossed (two writers): the kept key's assignments are another fit's
    notes_con.execute(f"UPDATE {text_memo.MEMO_DOCS} SET input_key = 'ein anderer Lauf'")
    res, again, again_assigned = _fit(notes_con)
    assert not res.reused and (again, again_assigned) == (figures, assigned)
    notes_con.execute(f"ALTER TABLE {text_memo.MEMO_DOCS} RENAME COLUMN topic TO thema")
    res, again, again_assigned = _fit(notes_con)
    assert not res.reused and (again, again_assigned) == (figures, assigned)
    # code changed on disk during the run: that fit is not kept
    notes_con.execute(f"DELETE FROM {text_memo.MEMO}")
    monkeypatch.setattr(text_memo, "_code_digest", lambda: "anderer Code")
    assert not _fit(notes_con)[0].reused
    monkeypatch.undo()
    assert not _fit(notes_con)[0].reused
    assert "Textmodell nicht gemerkt" in caplog.text
    # a model kept by other code is not taken
    monkeypatch.setattr(text_memo, "CODE_KEY", "andere Version")
    assert not _fit(notes_con)[0].reused


def test_build_themes_reports_a_kept_model_and_writes_the_same_marts(staging_con, tmp_path):
    td.build_all(staging_con)
    settings = Settings(workspace=tmp_path)
    first = build_themes(staging_con, settings)
    marts = [
        staging_con.execute(f"SELECT * FROM mart.{t} ORDER BY ALL").fetchall()
        for t in ("themes", "theme_cases")
    ]
    second = build_themes(staging_con, settings)
    assert (first["text_model"], second["text_model"]) == ("angepasst", "übernommen")
    assert [
        staging_con.execute(f"SELECT * FROM mart.{t} ORDER BY ALL").fetchall()
        for t in ("themes", "theme_cases")
    ] == marts
    # nothing of the memo reaches the published schemas
    assert staging_con.execute(
        "SELECT DISTINCT schema_name FROM duckdb_tables() WHERE table_name LIKE 'text_memo%'"
    ).fetchall() == [("intermediate",)]


@pytest.mark.parametrize(
    "notes",
    [
        "UPDATE theme_notes SET in_window = FALSE",  # no note in the window: no model
        "UPDATE theme_notes SET note = 'Wohnung'",  # one word: too few terms for a model
    ],
)
def test_notes_too_few_for_a_model_are_kept_as_such(notes_con, notes):
    """A small network's notes may give no model at all: kept like any fit, never a crash
    (DuckDB refuses a registered frame while a scalar's result is still open)."""
    notes_con.execute(notes)
    first, figures, assigned = _fit(notes_con)
    again, figures_again, assigned_again = _fit(notes_con)
    assert first.topics.empty and assigned == [] and not first.reused
    assert again.reused and (figures_again, assigned_again) == (figures, assigned)


def test_a_run_foresees_whether_its_themes_will_fit_the_text_model(staging_con, tmp_path):
    """`will_fit_text_model`, asked while the suites run (the run then loads scikit-learn and
    the lemmatiser only if so, pipelines.prewarm), agrees with what `build_themes` then does:
    a fit where nothing is kept, where a note in the window, a note's place in the window or
    a parameter changed; none where the notes are those of the kept fit."""
    from transforms.themes import text_memo

    td.build_all(staging_con)
    settings = Settings(workspace=tmp_path)

    def foreseen_and_done(s: Settings = settings) -> tuple[bool, str]:
        return will_fit_text_model(staging_con, s), build_themes(staging_con, s)["text_model"]

    assert foreseen_and_done() == (True, "angepasst")
    assert foreseen_and_done() == (False, "übernommen")
    win = theme_window(td.AS_OF, settings.theme_window_quarters)
    in_window = (
        "rowid = (SELECT min(rowid) FROM staging.barriers WHERE note <> ''"
        f" AND noted_on BETWEEN DATE '{win.start}' AND DATE '{td.AS_OF}')"
    )
    staging_con.execute(f"UPDATE staging.barriers SET note = note || ' Schulden' WHERE {in_window}")
    assert foreseen_and_done() == (True, "angepasst")
    assert foreseen_and_done() == (False, "übernommen")
    # the same note moved out of the window: the same texts, another window count
    staging_con.execute(
        f"UPDATE staging.barriers SET noted_on = DATE '{win.start}' - 1 WHERE {in_window}"
    )
    assert foreseen_and_done() == (True, "angepasst")
    fewer = dataclasses.replace(settings, theme_text_topics=settings.theme_text_topics - 1)
    assert foreseen_and_done(fewer) == (True, "angepasst")
    # a fit kept before the notes' key was (an older Lagebild): foreseen from the next run on
    staging_con.execute(f"DROP TABLE {text_memo.MEMO_NOTES}")
    assert foreseen_and_done(fewer) == (True, "übernommen")
    assert foreseen_and_done(fewer) == (False, "übernommen")


def test_no_note_means_no_fit_foreseen(staging_con, tmp_path):
    td.build_all(staging_con, text=False)
    settings = Settings(workspace=tmp_path)
    assert not will_fit_text_model(staging_con, settings)
    assert build_themes(staging_con, settings)["text_documents"] == 0  # nothing to fit on
