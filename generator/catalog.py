"""Code lists and the field distributions the generator draws from.

Codes come from the contract (data_contracts/exchange_format_v1.yaml), so the generator can
never write a code the contract does not know; the probabilities below are the generator's
own picture of the field (domain guides in ../shared/domain, KIM/JMD practice), kept in one
place so they can be read and tuned.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from data_contracts import load_contract

NA = -1  # missing value in integer-coded columns (codes and day numbers)


@cache
def codes(code_list: str) -> tuple[str, ...]:
    """The codes of a contract code list, in contract order (their integer index is used)."""
    return tuple(load_contract().codes[code_list].values)


def code_index(code_list: str, code: str) -> int:
    try:
        return codes(code_list).index(code)
    except ValueError as exc:
        raise KeyError(f"{code_list}: unknown code {code!r}") from exc


def probs(code_list: str, weights: dict[str, float]) -> np.ndarray:
    """Probability vector over a code list from {code: weight} (missing codes get 0)."""
    out = np.zeros(len(codes(code_list)))
    for code, w in weights.items():
        out[code_index(code_list, code)] = w
    return out / out.sum()


def cum_matrix(
    code_list: str, rows: dict[str, dict[str, float]], keys: tuple[str, ...]
) -> np.ndarray:
    """Cumulative probabilities, one row per key (e.g. per program), for `sample_rows`."""
    return np.vstack([np.cumsum(probs(code_list, rows[k])) for k in keys])


def sample_rows(rng: np.random.Generator, cum: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One categorical draw per element, from the distribution in row `row[i]` of `cum`."""
    u = rng.random(len(row))
    out = np.empty(len(row), dtype=np.int16)
    step = 1_000_000
    for start in range(0, len(row), step):
        c = cum[row[start : start + step]]
        out[start : start + step] = (c[:, :-1] < u[start : start + step, None]).sum(axis=1)
    return out


PROGRAMS = ("kim", "jmd", "mbe", "pcve")

# --- cases -------------------------------------------------------------------------------

INTENSITY = {
    "kim": {"information": 0.22, "verweisberatung": 0.28, "case_management": 0.50},
    "jmd": {"information": 0.26, "verweisberatung": 0.30, "case_management": 0.44},
    "mbe": {"information": 0.30, "verweisberatung": 0.34, "case_management": 0.36},
    "pcve": {"information": 0.12, "verweisberatung": 0.13, "case_management": 0.75},
}

AGE_GROUP = {
    "kim": {
        "u18": 0.07,
        "18_26": 0.20,
        "27_44": 0.41,
        "45_64": 0.22,
        "65plus": 0.05,
        "unbekannt": 0.05,
    },
    "jmd": {"u18": 0.31, "18_26": 0.67, "unbekannt": 0.02},
    "mbe": {"18_26": 0.05, "27_44": 0.56, "45_64": 0.30, "65plus": 0.06, "unbekannt": 0.03},
    "pcve": {"u18": 0.21, "18_26": 0.44, "27_44": 0.25, "45_64": 0.07, "unbekannt": 0.03},
}

GENDER = {
    "kim": {"w": 0.50, "m": 0.47, "d": 0.005, "unbekannt": 0.025},
    "jmd": {"w": 0.43, "m": 0.55, "d": 0.01, "unbekannt": 0.01},
    "mbe": {"w": 0.56, "m": 0.42, "d": 0.005, "unbekannt": 0.015},
    "pcve": {"w": 0.13, "m": 0.85, "d": 0.01, "unbekannt": 0.01},
}

REFERRAL_SOURCE = {
    "kim": {
        "selbst": 0.30,
        "familie_umfeld": 0.14,
        "jobcenter": 0.18,
        "auslaenderbehoerde": 0.15,
        "beratungsstelle": 0.12,
        "jugendamt": 0.03,
        "schule": 0.02,
        "sonstige": 0.06,
    },
    "jmd": {
        "selbst": 0.25,
        "schule": 0.20,
        "familie_umfeld": 0.15,
        "jugendamt": 0.10,
        "jobcenter": 0.12,
        "beratungsstelle": 0.10,
        "auslaenderbehoerde": 0.05,
        "sonstige": 0.03,
    },
    "mbe": {
        "selbst": 0.35,
        "familie_umfeld": 0.15,
        "jobcenter": 0.20,
        "auslaenderbehoerde": 0.12,
        "beratungsstelle": 0.13,
        "sonstige": 0.05,
    },
    "pcve": {
        "polizei": 0.22,
        "justiz": 0.20,
        "beratungsstelle": 0.15,
        "hotline": 0.12,
        "familie_umfeld": 0.15,
        "schule": 0.08,
        "jugendamt": 0.05,
        "selbst": 0.03,
    },
}

RISK_LEVEL = {"niedrig": 0.35, "mittel": 0.45, "hoch": 0.20}
PHENOMENON = {"rechts": 0.55, "islamistisch": 0.35, "links": 0.04, "sonstige": 0.06}

CLOSE_REASON = {
    "information": {
        "ziel_erreicht": 0.70,
        "weitervermittlung": 0.20,
        "beendigung_klient": 0.05,
        "sonstiges": 0.05,
    },
    "verweisberatung": {
        "weitervermittlung": 0.45,
        "ziel_erreicht": 0.30,
        "beendigung_klient": 0.07,
        "kein_kontakt": 0.08,
        "strukturelle_hindernisse": 0.06,
        "sonstiges": 0.04,
    },
    "case_management": {
        "ziel_erreicht": 0.41,
        "beendigung_klient": 0.11,
        "mangelnde_kooperation": 0.08,
        "strukturelle_hindernisse": 0.11,
        "kein_kontakt": 0.15,
        "weitervermittlung": 0.11,
        "sonstiges": 0.03,
    },
}

# Share of cases whose residence status excludes them from the state-funded integration course
# (Duldung, Gestattung from a "safe country of origin").
EXCLUDED_SHARE = {"kim": 0.17, "jmd": 0.14, "mbe": 0.12, "pcve": 0.0}

# --- goals -------------------------------------------------------------------------------

GOAL_DOMAIN = {
    "kim": {
        "aufenthalt": 0.14,
        "wohnen": 0.12,
        "lebensunterhalt": 0.13,
        "gesundheit_psychisch": 0.09,
        "gesundheit_koerperlich": 0.05,
        "sprache": 0.12,
        "bildung_schule": 0.04,
        "ausbildung_arbeit": 0.13,
        "familie_kinderbetreuung": 0.09,
        "soziales_netz": 0.03,
        "schulden": 0.05,
        "sonstiges": 0.02,
    },
    "jmd": {
        "bildung_schule": 0.19,
        "ausbildung_arbeit": 0.21,
        "sprache": 0.14,
        "aufenthalt": 0.10,
        "wohnen": 0.08,
        "gesundheit_psychisch": 0.09,
        "familie_kinderbetreuung": 0.03,
        "soziales_netz": 0.06,
        "lebensunterhalt": 0.06,
        "schulden": 0.02,
        "sonstiges": 0.02,
    },
    "mbe": {
        "aufenthalt": 0.15,
        "sprache": 0.12,
        "ausbildung_arbeit": 0.14,
        "lebensunterhalt": 0.15,
        "wohnen": 0.12,
        "familie_kinderbetreuung": 0.10,
        "gesundheit_psychisch": 0.06,
        "gesundheit_koerperlich": 0.06,
        "schulden": 0.07,
        "sonstiges": 0.03,
    },
    "pcve": {
        "distanzierung": 0.40,
        "ausbildung_arbeit": 0.15,
        "soziales_netz": 0.15,
        "gesundheit_psychisch": 0.10,
        "wohnen": 0.07,
        "bildung_schule": 0.06,
        "schulden": 0.04,
        "familie_kinderbetreuung": 0.03,
    },
}

# P(offer_available = false) per domain: the field's known gaps (psychotherapy, childcare,
# language courses for people excluded from the integration course, housing).
NO_OFFER = {
    "aufenthalt": 0.05,
    "wohnen": 0.33,
    "lebensunterhalt": 0.06,
    "gesundheit_psychisch": 0.42,
    "gesundheit_koerperlich": 0.07,
    "sprache": 0.12,
    "bildung_schule": 0.07,
    "ausbildung_arbeit": 0.08,
    "familie_kinderbetreuung": 0.36,
    "soziales_netz": 0.10,
    "schulden": 0.15,
    "distanzierung": 0.05,
    "sonstiges": 0.08,
}
NO_OFFER_SPRACHE_EXCLUDED = 0.75

# Service types a goal of a domain is linked to.
SERVICE_FOR_DOMAIN = {
    "aufenthalt": {"rechtsberatung": 0.8, "sonstiges": 0.2},
    "wohnen": {"wohnraum": 1.0},
    "lebensunterhalt": {"rechtsberatung": 0.3, "sonstiges": 0.4, "schuldnerberatung": 0.3},
    "gesundheit_psychisch": {"psychotherapie": 0.65, "psychosoziale_beratung": 0.35},
    "gesundheit_koerperlich": {"gesundheitsversorgung": 1.0},
    "sprache": {"integrationskurs": 0.55, "sprachkurs": 0.45},
    "bildung_schule": {"schulplatz": 0.7, "sonstiges": 0.3},
    "ausbildung_arbeit": {"ausbildungsplatz": 0.4, "arbeitsmarktmassnahme": 0.6},
    "familie_kinderbetreuung": {"kita_platz": 0.8, "jugendhilfe": 0.2},
    "soziales_netz": {"psychosoziale_beratung": 0.4, "sonstiges": 0.6},
    "schulden": {"schuldnerberatung": 1.0},
    "distanzierung": {"ausstiegsbegleitung": 0.7, "psychosoziale_beratung": 0.3},
    "sonstiges": {"sonstiges": 1.0},
}

# Services a verweisberatung case is referred to without a documented goal.
SERVICE_WITHOUT_GOAL = {
    "kim": {
        "rechtsberatung": 0.15,
        "sprachkurs": 0.1,
        "integrationskurs": 0.1,
        "arbeitsmarktmassnahme": 0.15,
        "schuldnerberatung": 0.1,
        "gesundheitsversorgung": 0.1,
        "psychosoziale_beratung": 0.1,
        "wohnraum": 0.05,
        "sonstiges": 0.15,
    },
    "jmd": {
        "schulplatz": 0.15,
        "ausbildungsplatz": 0.2,
        "sprachkurs": 0.15,
        "integrationskurs": 0.1,
        "jugendhilfe": 0.1,
        "psychosoziale_beratung": 0.1,
        "arbeitsmarktmassnahme": 0.1,
        "sonstiges": 0.1,
    },
    "mbe": {
        "integrationskurs": 0.15,
        "sprachkurs": 0.1,
        "rechtsberatung": 0.15,
        "arbeitsmarktmassnahme": 0.15,
        "schuldnerberatung": 0.1,
        "gesundheitsversorgung": 0.1,
        "wohnraum": 0.05,
        "sonstiges": 0.2,
    },
    "pcve": {
        "ausstiegsbegleitung": 0.4,
        "psychosoziale_beratung": 0.3,
        "jugendhilfe": 0.1,
        "arbeitsmarktmassnahme": 0.1,
        "sonstiges": 0.1,
    },
}

# Waiting time (days) from request to start: lognormal (median, sigma), and the share of
# requests that end without a start (no offer, rejected, not taken up).
WAIT = {
    "psychotherapie": (190, 0.7),
    "psychosoziale_beratung": (30, 0.6),
    "integrationskurs": (70, 0.5),
    "sprachkurs": (28, 0.6),
    "kita_platz": (170, 0.6),
    "schulplatz": (35, 0.6),
    "wohnraum": (210, 0.65),
    "schuldnerberatung": (80, 0.5),
    "ausbildungsplatz": (110, 0.5),
    "arbeitsmarktmassnahme": (35, 0.5),
    "rechtsberatung": (12, 0.6),
    "gesundheitsversorgung": (25, 0.7),
    "jugendhilfe": (45, 0.6),
    "ausstiegsbegleitung": (18, 0.5),
    "sonstiges": (20, 0.7),
}
FAILED = {  # service -> (kein_angebot, abgelehnt, nicht_wahrgenommen)
    "psychotherapie": (0.10, 0.03, 0.05),
    "kita_platz": (0.15, 0.02, 0.03),
    "wohnraum": (0.25, 0.06, 0.04),
    "integrationskurs": (0.04, 0.03, 0.06),
    "ausbildungsplatz": (0.08, 0.08, 0.06),
}
FAILED_DEFAULT = (0.03, 0.03, 0.06)

# --- relapses (pcve only) ------------------------------------------------------------------

RELAPSE_KIND = {
    "szenekontakt": 0.45,
    "straftat_extremistisch": 0.20,
    "straftat_gewalt": 0.20,
    "straftat_sonstige": 0.15,
}
RELAPSE_SOURCE = {
    "szenekontakt": {"beratung": 0.5, "polizei": 0.3, "sonstige": 0.2},
    "straftat_extremistisch": {"polizei": 0.55, "justiz": 0.4, "sonstige": 0.05},
    "straftat_gewalt": {"polizei": 0.55, "justiz": 0.4, "sonstige": 0.05},
    "straftat_sonstige": {"polizei": 0.5, "justiz": 0.4, "beratung": 0.1},
}
