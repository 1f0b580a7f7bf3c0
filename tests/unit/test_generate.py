"""The synthetic network: calibration and realism of the generated data (in memory, no files).

Each test names one behaviour the demo and the benchmarks rely on and fails when it breaks.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from data_contracts import load_contract
from generator import (
    LOCAL_CODED_THEMES,
    LOCAL_TEXT_TOPICS,
    PLANTED_CODED_THEMES,
    PLANTED_TEXT_TOPICS,
    build_dataset,
)
from generator.catalog import codes
from generator.notes import expand
from generator.providers import build_providers

EXPORTED = date(2026, 10, 15)
N_CASES = 5000


@pytest.fixture(scope="module")
def ds():
    return build_dataset(cases=N_CASES, providers=8, seed=11, exported_on=EXPORTED)


@pytest.fixture(scope="module")
def f(ds):
    return ds.frames()


@pytest.fixture(scope="module")
def cases(f):
    c = f["cases"].copy()
    c["person_key"] = c["person_key"].where(c["person_key"].notna(), None)
    return c


def _ts(d: date) -> pd.Timestamp:
    return pd.Timestamp(d)


# --- determinism and identity -------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_another_seed_does_not(ds):
    again = build_dataset(cases=N_CASES, providers=8, seed=11, exported_on=EXPORTED)
    other = build_dataset(cases=N_CASES, providers=8, seed=12, exported_on=EXPORTED)
    for p in range(8):
        a, b = ds.provider_tables(p), again.provider_tables(p)
        for name in a:
            assert a[name].equals(b[name]), f"{name} of provider {p} differs between runs"
    assert not ds.provider_tables(0)["cases"].equals(other.provider_tables(0)["cases"])


def test_exact_number_of_cases_with_unique_pseudonymous_ids(cases):
    assert len(cases) == N_CASES
    assert cases["case_id"].is_unique
    assert cases["case_id"].str.fullmatch(r"F-[0-9a-f]{8}").all()
    keys = cases["person_key"].dropna()
    assert keys.str.fullmatch(r"[0-9a-f]{16}").all()
    assert cases["caseworker_id"].str.fullmatch(r"FK-[0-9a-f]{8}").all()


def test_providers_are_unique_lowercase_and_cover_all_programs():
    specs = build_providers(8)
    ids = [p.provider_id for p in specs]
    assert len(set(ids)) == 8 and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    assert {"kim", "jmd", "mbe", "pcve"} <= {prog for p in specs for prog in p.programs}
    assert all(1 <= len(p.programs) <= 2 and 1 <= len(p.regions) <= 3 for p in specs)
    many = [p.provider_id for p in build_providers(120)]
    assert len(set(many)) == 120


def test_regions_are_real_nrw_kreis_keys(cases):
    from data_contracts import region_names

    assert set(cases["region_code"]) <= set(region_names())
    assert cases["region_code"].nunique() >= 10


# --- contract conformance -----------------------------------------------------------------

CODE_COLUMNS = [
    ("cases", "program", "program"),
    ("cases", "age_group", "age_group"),
    ("cases", "intensity", "intensity"),
    ("cases", "gender", "gender"),
    ("cases", "referral_source", "referral_source"),
    ("cases", "close_reason", "close_reason"),
    ("cases", "risk_level", "risk_level"),
    ("cases", "phenomenon", "phenomenon"),
    ("goals", "domain", "domain"),
    ("goals", "status", "goal_status"),
    ("referrals", "service_type", "service_type"),
    ("referrals", "outcome", "referral_outcome"),
    ("contacts", "step", "step"),
    ("barriers", "barrier_code", "barrier"),
    ("barriers", "domain", "domain"),
    ("staffing", "program", "program"),
    ("relapses", "kind", "relapse_kind"),
    ("relapses", "source", "relapse_source"),
]


@pytest.mark.parametrize(("table", "column", "code_list"), CODE_COLUMNS)
def test_every_code_is_in_the_contract(f, table, column, code_list):
    allowed = set(load_contract().codes[code_list].values)
    used = set(f[table][column].dropna())
    assert used <= allowed, used - allowed


def test_columns_and_row_rules_of_the_contract(f):
    contract = load_contract()
    for name, table in contract.tables.items():
        assert list(f[name].columns[: len(table.columns)]) == table.column_names
        for col in table.required_columns:
            assert f[name][col.name].notna().all(), f"{name}.{col.name} has gaps"
    c = f["cases"]
    closed = c["closed_on"].notna()
    assert (c.loc[closed, "closed_on"] >= c.loc[closed, "opened_on"]).all()
    assert (
        c.loc[closed, "close_reason"].notna().all() and c.loc[~closed, "close_reason"].isna().all()
    )
    r = f["referrals"]
    started = r["started_on"].notna()
    assert (r.loc[started, "started_on"] >= r.loc[started, "requested_on"]).all()
    s = f["staffing"]
    assert ((s["fte"] > 0) & (s["fte"] <= 1)).all()
    assert not s.duplicated(
        ["provider_id", "caseworker_id", "program", "region_code", "valid_from"]
    ).any()
    assert not f["goals"].duplicated(["provider_id", "case_id", "goal_id"]).any()
    assert not r.duplicated(["provider_id", "case_id", "referral_id"]).any()
    for name in ("goals", "referrals", "contacts", "barriers", "relapses"):
        assert f[name]["case_id"].isin(c["case_id"]).all(), name
    # a referral's goal is a goal of the same case
    g_keys = set(zip(f["goals"]["case_id"], f["goals"]["goal_id"], strict=True))
    with_goal = r[r["goal_id"].notna()]
    assert all(k in g_keys for k in zip(with_goal["case_id"], with_goal["goal_id"], strict=True))
    assert f["barriers"]["note"].dropna().str.len().max() <= 1000


def test_nothing_is_dated_after_the_export(f):
    last = _ts(EXPORTED)
    for name, cols in {
        "cases": ["opened_on", "closed_on"],
        "goals": ["set_on", "status_on"],
        "referrals": ["requested_on", "started_on"],
        "contacts": ["contact_on"],
        "barriers": ["noted_on"],
        "staffing": ["valid_from", "valid_to"],
        "relapses": ["event_on"],
    }.items():
        for col in cols:
            assert (f[name][col].dropna() <= last).all(), f"{name}.{col}"


# --- cases ---------------------------------------------------------------------------------


def test_history_spans_the_years_and_about_a_quarter_is_open(cases):
    start = _ts(EXPORTED) - pd.Timedelta(days=round(4 * 365.25))
    assert cases["opened_on"].min() >= start
    assert cases["opened_on"].min() < start + pd.Timedelta(days=30)
    assert cases["opened_on"].max() > _ts(EXPORTED) - pd.Timedelta(days=14)
    open_share = cases["closed_on"].isna().mean()
    assert 0.18 <= open_share <= 0.32, open_share


def test_durations_follow_the_intensity(cases):
    closed = cases[cases["closed_on"].notna()]
    days = (closed["closed_on"] - closed["opened_on"]).dt.days
    by = days.groupby(closed["intensity"])
    assert by.max()["information"] <= 14
    assert 21 <= by.median()["verweisberatung"] <= 120
    assert 150 <= by.median()["case_management"] <= 500
    assert by.max()["case_management"] <= 1100
    mix = cases["intensity"].value_counts(normalize=True)
    assert all(
        0.15 <= mix[k] <= 0.65 for k in ("information", "verweisberatung", "case_management")
    )


def test_close_reasons_are_a_realistic_mix(cases):
    reasons = cases["close_reason"].value_counts(normalize=True)
    assert reasons.index[0] == "ziel_erreicht"
    for r in ("strukturelle_hindernisse", "kein_kontakt", "weitervermittlung", "beendigung_klient"):
        assert reasons.get(r, 0) >= 0.03, r


def test_program_specific_fields(cases):
    pcve = cases["program"] == "pcve"
    assert (
        cases.loc[pcve, "risk_level"].notna().all() and cases.loc[pcve, "phenomenon"].notna().all()
    )
    assert (
        cases.loc[~pcve, "risk_level"].isna().all() and cases.loc[~pcve, "phenomenon"].isna().all()
    )
    assert set(cases.loc[cases["program"] == "jmd", "age_group"]) <= {"u18", "18_26", "unbekannt"}
    pcve_sources = cases.loc[pcve, "referral_source"].value_counts(normalize=True)
    assert pcve_sources[["polizei", "justiz", "beratungsstelle", "hotline"]].sum() > 0.5
    assert cases.loc[cases["program"] == "mbe", "age_group"].isin(["u18"]).sum() == 0


def test_person_keys_are_partly_empty_and_shared_across_providers(cases):
    empty = cases["person_key"].isna().mean()
    assert 0.2 <= empty <= 0.3, empty
    keyed = cases[cases["person_key"].notna()]
    providers_per_person = keyed.groupby("person_key")["provider_id"].nunique()
    assert (providers_per_person >= 2).sum() >= 50


def test_reopenings_transfers_reentries_and_parallel_cases(cases):
    c = cases.set_index(["provider_id", "case_id"])
    reopened = cases[cases["previous_case_id"].notna()]
    assert len(reopened) >= 50
    prev = c.loc[list(zip(reopened["provider_id"], reopened["previous_case_id"], strict=True))]
    gap = (reopened["opened_on"].to_numpy() - prev["closed_on"].to_numpy()) / np.timedelta64(1, "D")
    assert (gap >= 15).all(), "a re-opening starts at least 15 days after the closure"
    assert (
        reopened["person_key"].fillna("") == prev["person_key"].fillna("").to_numpy()
    ).all() or (reopened["person_key"].isna() | prev["person_key"].isna().to_numpy()).any()

    keyed = cases[cases["person_key"].notna()].sort_values(["person_key", "opened_on"])
    pairs = keyed.merge(keyed, on="person_key", suffixes=("", "_next"))
    pairs = pairs[(pairs["provider_id"] != pairs["provider_id_next"]) & pairs["closed_on"].notna()]
    after = (pairs["opened_on_next"] - pairs["closed_on"]).dt.days
    assert ((after >= 1) & (after <= 14)).sum() >= 20, "transfers (1-14 days after closure)"
    assert (after >= 15).sum() >= 20, "re-entries at another provider"
    parallel = (pairs["opened_on_next"] > pairs["opened_on"]) & (
        pairs["opened_on_next"] < pairs["closed_on"]
    )
    assert parallel.sum() >= 10, "parallel cases opened before the earlier closure"
    transferred = pairs[(after >= 1) & (after <= 14)]
    assert (transferred["close_reason"] == "weitervermittlung").mean() > 0.5


# --- staffing and caseload ------------------------------------------------------------------


def _caseload(f, days):
    c, s = f["cases"], f["staffing"]
    keys = ["provider_id", "program", "region_code"]
    staffed = s[keys].drop_duplicates()
    c = c.merge(staffed, on=keys)  # metrics.md: cases matched to staffing by group
    d = np.array(days, dtype="datetime64[ns]")
    opened = c["opened_on"].to_numpy()[:, None]
    closed = c["closed_on"].fillna(pd.Timestamp.max).to_numpy()[:, None]
    active = ((opened <= d) & (closed >= d)).sum(axis=1)
    vf = s["valid_from"].to_numpy()[:, None]
    vt = s["valid_to"].fillna(pd.Timestamp.max).to_numpy()[:, None]
    fte = (((vf <= d) & (vt >= d)) * s["fte"].to_numpy()[:, None]).sum(axis=1)
    return (
        pd.Series(active).groupby(c["provider_id"].to_numpy()).sum()
        / pd.Series(fte).groupby(s["provider_id"].to_numpy()).sum()
    )


def test_caseload_per_fte_near_50_to_60_and_one_provider_overloaded(ds, f):
    days = [_ts(EXPORTED) - pd.Timedelta(days=k) for k in range(0, 730, 14)]
    load = _caseload(f, days)
    overloaded = {p.provider_id for p in ds.providers if p.overloaded}
    assert len(overloaded) == 1
    for pid, value in load.items():
        if pid in overloaded:
            assert 72 <= value <= 90, (pid, value)
        else:
            assert 46 <= value <= 65, (pid, value)
    assert load.idxmax() in overloaded
    assert np.median([v for p, v in load.items() if p not in overloaded]) == pytest.approx(
        55, abs=4
    )


def test_staffing_has_part_time_turnover_and_vacancies(f):
    s = f["staffing"]
    assert {0.5, 0.75, 0.8, 1.0} <= set(s["fte"].round(2))
    left = s[s["valid_to"].notna()]
    assert len(left) >= 10, "people leave (valid_to set)"
    # a caseworker whose hours change keeps the id with a new row
    assert s.groupby(["provider_id", "caseworker_id"]).size().max() >= 2
    # vacancies: a group's FTE drops after a departure and recovers later
    gaps = 0
    for _, grp in s.groupby(["provider_id", "program", "region_code"]):
        for end in grp["valid_to"].dropna():
            starts = grp["valid_from"][grp["valid_from"] > end]
            if len(starts) and (starts.min() - end).days >= 14:
                gaps += 1
    assert gaps >= 5


def test_every_caseworker_is_on_the_providers_staff(f):
    c, s = f["cases"], f["staffing"]
    staff = set(zip(s["provider_id"], s["caseworker_id"], strict=True))
    assert all(k in staff for k in zip(c["provider_id"], c["caseworker_id"], strict=True))


def test_one_small_group_has_cases_but_no_staffing(f):
    keys = ["provider_id", "program", "region_code"]
    staffed = set(map(tuple, f["staffing"][keys].drop_duplicates().to_numpy()))
    groups = f["cases"].groupby(keys).size()
    gaps = groups[[k not in staffed for k in groups.index]]
    assert len(gaps) == 1
    assert gaps.iloc[0] < 0.05 * len(f["cases"])


# --- goals, referrals, contacts --------------------------------------------------------------


def test_missing_offers_concentrate_where_the_field_has_gaps(f, cases):
    g = f["goals"].merge(
        cases[["provider_id", "case_id", "intensity"]], on=["provider_id", "case_id"]
    )
    assert set(g["intensity"]) <= {"case_management", "verweisberatung"}
    no_offer = (~g["offer_available"]).groupby(g["domain"]).mean()
    for d in ("gesundheit_psychisch", "familie_kinderbetreuung", "wohnen"):
        assert no_offer[d] >= 0.25, (d, no_offer[d])
    for d in ("ausbildung_arbeit", "aufenthalt", "lebensunterhalt"):
        assert no_offer[d] <= 0.15, (d, no_offer[d])
    assert set(g["status"]) == set(codes("goal_status"))
    reviewed = g["status_on"].notna()
    assert (g.loc[reviewed, "status_on"] >= g.loc[reviewed, "set_on"]).all()
    assert 0.5 <= reviewed.mean() <= 0.95


def test_waiting_times_look_like_the_field(f, cases):
    r = f["referrals"]
    started = r[r["started_on"].notna()]
    wait = (started["started_on"] - started["requested_on"]).dt.days
    psych = wait[started["service_type"] == "psychotherapie"]
    assert 110 <= psych.median() <= 200, psych.median()  # about four to six months
    assert psych.quantile(0.9) >= 1.6 * psych.median() and psych.max() >= 300  # a long tail
    assert wait[started["service_type"] == "kita_platz"].median() >= 100
    assert wait[started["service_type"] == "rechtsberatung"].median() <= 30
    outcomes = r.groupby("service_type")["outcome"].value_counts(normalize=True).unstack().fillna(0)
    assert outcomes.loc["psychotherapie", "warteliste"] >= 0.2
    assert outcomes.loc["wohnraum", "kein_angebot"] >= 0.2
    assert outcomes.loc["integrationskurs", ["abgelehnt", "kein_angebot"]].sum() >= 0.2
    # the workaround: people refused the integration course get a language course instead
    refused = r[
        (r["service_type"] == "integrationskurs") & r["outcome"].isin(["abgelehnt", "kein_angebot"])
    ]
    course = r[r["service_type"] == "sprachkurs"]
    both = refused.merge(course, on=["provider_id", "case_id"])
    assert both["case_id"].nunique() >= 0.4 * refused["case_id"].nunique()
    # open waiting-list entries at export
    r_open = r.merge(cases[["provider_id", "case_id", "closed_on"]], on=["provider_id", "case_id"])
    waiting = r_open[(r_open["outcome"] == "warteliste") & r_open["closed_on"].isna()]
    assert len(waiting) >= 30


def test_contacts_follow_the_case_management_cycle(f, cases):
    k = f["contacts"].merge(cases, on=["provider_id", "case_id"])
    info = k[k["intensity"] == "information"]
    assert set(info["step"]) == {"erstgespraech"}
    assert info.groupby("case_id").size().max() == 1
    cm_steps = set(k.loc[k["intensity"] == "case_management", "step"])
    assert cm_steps == set(codes("step"))
    assert (k["contact_on"] >= k["opened_on"]).all()
    ng = k[k["step"] == "nachgespraech"]
    after = (ng["contact_on"] - ng["closed_on"]).dt.days
    assert after.between(140, 220).all()
    ab = k[k["step"] == "abschluss"]
    assert (ab["contact_on"] == ab["closed_on"]).all()


def test_some_open_cases_have_no_contact_for_six_and_nine_months(f, cases):
    last = f["contacts"].groupby(["provider_id", "case_id"])["contact_on"].max()
    open_cases = cases[cases["closed_on"].isna()].set_index(["provider_id", "case_id"])
    silent = (
        _ts(EXPORTED) - last.reindex(open_cases.index).fillna(open_cases["opened_on"])
    ).dt.days
    assert (silent > 183).sum() >= 20
    assert (silent > 274).sum() >= 10
    assert (silent > 183).mean() <= 0.35  # "some", not most


# --- barriers and themes ----------------------------------------------------------------------


def _window_counts(f, start: date, end: date) -> pd.DataFrame:
    b = f["barriers"]
    b = b[(b["noted_on"] >= _ts(start)) & (b["noted_on"] <= _ts(end))]
    return b.groupby(["barrier_code", "domain"]).agg(
        cases=("case_id", lambda s: s.nunique()),
        providers=("provider_id", "nunique"),
    )


WINDOWS = [
    (date(2026, 1, 1), EXPORTED),  # the quarter of the export date and the three before
    (date(2025, 10, 1), date(2026, 9, 30)),  # the last four complete quarters
    (EXPORTED - timedelta(days=365), EXPORTED),
]


@pytest.mark.parametrize("window", WINDOWS)
def test_planted_coded_themes_recur_across_providers(f, window):
    counts = _window_counts(f, *window)
    for pair in PLANTED_CODED_THEMES:
        assert pair in counts.index, pair
        assert counts.loc[pair, "cases"] >= 8, (pair, counts.loc[pair].to_dict())
        assert counts.loc[pair, "providers"] >= 3, (pair, counts.loc[pair].to_dict())


def test_local_coded_themes_stay_local(f):
    b = f["barriers"]
    stats = b.groupby(["barrier_code", "domain"]).agg(
        cases=("case_id", "nunique"), providers=("provider_id", "nunique")
    )
    for pair in LOCAL_CODED_THEMES:
        assert pair in stats.index, f"{pair} is planted at all"
        row = stats.loc[pair]
        assert row["providers"] == 1 or row["cases"] < 5, (pair, row.to_dict())


def _lemmas(note: str) -> set[str]:
    import simplemma

    tokens = re.findall(r"[^\W\d_]+", note.lower())
    return set(tokens) | {simplemma.lemmatize(t, lang="de").lower() for t in tokens}


def test_planted_text_topics_carry_their_terms(f):
    b = f["barriers"][f["barriers"]["note"].notna()]
    lemmas = [_lemmas(n) for n in b["note"]]
    topic = b["topic"].to_numpy()
    for name, terms in {**PLANTED_TEXT_TOPICS, **LOCAL_TEXT_TOPICS}.items():
        assert 4 <= len(terms) <= 8
        inside = [lm for lm, t in zip(lemmas, topic, strict=True) if t == name]
        outside = [lm for lm, t in zip(lemmas, topic, strict=True) if t != name]
        assert len(inside) >= (20 if name in PLANTED_TEXT_TOPICS else 5), name
        for term in terms:
            share_in = np.mean([term in lm for lm in inside])
            share_out = np.mean([term in lm for lm in outside])
            assert share_in >= 0.15, (name, term, share_in)
            assert share_in >= 4 * share_out, (name, term, share_in, share_out)


def test_local_text_topic_is_at_one_provider_and_generic_notes_are_a_quarter(f):
    b = f["barriers"]
    assert b.loc[b["topic"] == "fahrtkosten_land", "provider_id"].nunique() == 1
    for name in PLANTED_TEXT_TOPICS:
        assert b.loc[b["topic"] == name, "provider_id"].nunique() >= 3, name
    generic = (b.loc[b["note"].notna(), "topic"] == "generisch").mean()
    assert 0.18 <= generic <= 0.35, generic


def test_notes_are_varied(f):
    notes = f["barriers"]["note"].dropna()
    assert len(notes) >= 500
    assert notes.nunique() >= 0.9 * len(notes)
    assert notes.value_counts().max() <= max(3, len(notes) // 1000)
    # not one template per topic: the first words of a topic's notes vary
    b = f["barriers"].dropna(subset=["note"])
    for name in PLANTED_TEXT_TOPICS:
        starts = b.loc[b["topic"] == name, "note"].str.split().str[:3].str.join(" ")
        assert starts.nunique() >= 15, name


def test_notes_need_quoting_and_windows_1252(f):
    notes = f["barriers"]["note"].dropna()
    for n in notes:
        n.encode("cp1252")  # every character exists in Windows-1252
    joined = "".join(notes)
    for ch in "„“–€…":
        assert ch in joined, ch
    assert notes.str.contains(";").any() and notes.str.contains('"').any()
    assert notes.str.contains("\n").mean() >= 0.02


def test_notes_carry_no_identifiers(f):
    patterns = [re.compile(v.regex, re.IGNORECASE) for v in load_contract().identifier_values]
    for n in f["barriers"]["note"].dropna():
        for p in patterns:
            assert not p.search(n), (p.pattern, n)


def test_every_template_sentence_is_clean_windows_1252_text():
    """Exhaustive over all expanded sentences (not just the ones a sample happened to draw)."""
    from generator.notes import FAMILIES, compiled

    patterns = [re.compile(v.regex, re.IGNORECASE) for v in load_contract().identifier_values]
    for family in FAMILIES:
        _, slots = compiled(family)
        for name, (plain, *_rest) in slots.items():
            for sentence in plain:
                sentence.encode("cp1252")
                assert "  " not in sentence and sentence == sentence.strip(), (family, sentence)
                assert not sentence or sentence[-1] in '.…"', (family, name, sentence)
                assert not any(p.search(sentence) for p in patterns), (family, sentence)
                assert len(sentence) < 300


def test_template_expansion_is_deterministic_and_complete():
    assert expand("a {b|c} d{ e|}") == ["a b d e", "a b d", "a c d e", "a c d"]
    many = "{" + "|".join(map(str, range(30))) + "} {" + "|".join(map(str, range(30))) + "}"
    first, second = expand(many), expand(many)
    assert first == second and len(first) == 300 and len(set(first)) == 300


# --- relapses -----------------------------------------------------------------------------------


def test_relapses_are_rare_and_only_in_exit_work(f, cases):
    r = f["relapses"].merge(cases, on=["provider_id", "case_id"])
    assert len(r) > 0
    assert (r["program"] == "pcve").all()
    pcve_cases = (cases["program"] == "pcve").sum()
    assert r["case_id"].nunique() <= 0.2 * pcve_cases
    during = (r["event_on"] >= r["opened_on"]) & (
        r["closed_on"].isna() | (r["event_on"] <= r["closed_on"])
    )
    after = r["closed_on"].notna() & (r["event_on"] > r["closed_on"])
    assert during.sum() >= 1 and after.sum() >= 1
    assert (during | after).all()


# --- snapshots ------------------------------------------------------------------------------------


def test_an_earlier_snapshot_shows_only_what_was_known_then(ds):
    cut = ds.exported - 92
    cut_date = EXPORTED - timedelta(days=92)
    full = ds.provider_tables(2)
    early = ds.provider_tables(2, cut=cut)
    assert early["cases"].num_rows < full["cases"].num_rows
    e = early["cases"].to_pandas()
    assert (pd.to_datetime(e["opened_on"]) <= _ts(cut_date)).all()
    assert (pd.to_datetime(e["closed_on"]).dropna() <= _ts(cut_date)).all()
    assert e.loc[e["closed_on"].isna(), "close_reason"].isna().all()
    r = early["referrals"].to_pandas()
    assert (pd.to_datetime(r["started_on"]).dropna() <= _ts(cut_date)).all()
    k = early["contacts"].to_pandas()
    assert (pd.to_datetime(k["contact_on"]) <= _ts(cut_date)).all()
    s = early["staffing"].to_pandas()
    assert (pd.to_datetime(s["valid_to"]).dropna() <= _ts(cut_date)).all()
