"""The themes on the generator's synthetic network: the planted cross-provider themes are
found (coded pairs and text topics, by their top terms), the local ones are not."""

from __future__ import annotations

import pytest

from data_contracts.contract import load_contract
from data_contracts.schema import create_all, staging_columns
from kernel.settings import Settings
from kernel.warehouse import connect
from tests import themes_data as td
from transforms.themes.build import build_themes

generate = pytest.importorskip("generator")

# Planted topic -> terms its text theme must show among its top 8 terms (a subset of the
# generator's characteristic words; "monat" is a stop word here, "online" not a noun).
EXPECTED_TOP_TERMS = {
    "psychotherapie_wartezeit": {"psychotherapie", "therapieplatz", "wartezeit", "trauma"},
    "kinderbetreuung": {"kitaplatz", "kinderbetreuung", "betreuungsplatz", "kita"},
    "integrationskurs_ausschluss": {"integrationskurs", "anspruch", "duldung", "aufenthaltsstatus"},
    "rechtskreiswechsel": {"jobcenter", "sozialamt", "leistung", "zuständigkeit"},
    "wohnungsmarkt": {"wohnung", "vermieter", "wohnungssuche"},
    "auslaenderbehoerde_digital": {"ausländerbehörde", "termin", "terminvergabe"},
}


def _load_generated(cases: int, providers: int, seed: int):
    ds = generate.build_dataset(cases, providers, seed=seed)
    con = connect()
    create_all(con)
    contract = load_contract()
    for p in range(len(ds.providers)):
        for name, tbl in ds.provider_tables(p).items():
            cols = [c for c, _ in staging_columns(contract.tables[name]) if c in tbl.column_names]
            con.register("generated", tbl)
            con.execute(
                f"INSERT INTO staging.{name} ({', '.join(cols)})"
                f" SELECT {', '.join(cols)} FROM generated"
            )
            con.unregister("generated")
    td.set_as_of(con, ds.exported_on)
    td.build_mart_cases(con)
    return con


@pytest.mark.slow
@pytest.mark.parametrize(("cases", "providers", "seed"), [(6000, 8, 7), (3000, 5, 1)])
def test_generated_planted_themes_are_found_local_ones_not(tmp_path, cases, providers, seed):
    assert set(EXPECTED_TOP_TERMS) == set(generate.PLANTED_TEXT_TOPICS)
    con = _load_generated(cases, providers, seed)
    query = "SELECT theme_id, kind, terms, cases, providers FROM mart.themes WHERE active"
    try:
        build_themes(con, Settings(workspace=tmp_path))
        active = {r[0]: r for r in con.execute(query).fetchall()}
        # deterministic: a re-run gives the same themes, ids, terms and figures
        build_themes(con, Settings(workspace=tmp_path))
        assert {r[0]: r for r in con.execute(query).fetchall()} == active
    finally:
        con.close()

    # coded: every planted cross-provider pair is a theme, no local pair is
    for barrier, domain in generate.PLANTED_CODED_THEMES:
        assert f"T-{barrier}-{domain}" in active
    for barrier, domain in generate.LOCAL_CODED_THEMES:
        assert f"T-{barrier}-{domain}" not in active

    # text: each planted topic is exactly one text theme, named by its top terms
    text = {tid: list(r[2]) for tid, r in active.items() if r[1] == "text"}
    for topic, expected in EXPECTED_TOP_TERMS.items():
        hits = [tid for tid, terms in text.items() if expected <= set(terms[:8])]
        assert len(hits) == 1, (topic, text)
        # and it carries at least 4 of the generator's characteristic words in its terms
        terms = set(text[hits[0]])
        assert len(terms & set(generate.PLANTED_TEXT_TOPICS[topic])) >= 4, (topic, terms)
        assert active[hits[0]][4] >= 2
    # the local topic (one rural provider) leads no theme
    local_words = set(generate.LOCAL_TEXT_TOPICS["fahrtkosten_land"])
    assert not any(set(terms[:3]) & local_words for terms in text.values())
