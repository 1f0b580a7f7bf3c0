"""Text themes: German normalisation, the topic model on hand-made notes, id matching."""

from __future__ import annotations

import dataclasses

import pytest

from kernel.settings import Settings
from tests import themes_data as td
from transforms.themes.build import build_themes
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
