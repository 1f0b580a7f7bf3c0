"""Goals, referrals, contacts, barriers and relapses of the cases, drawn as whole arrays.

Rows of a child table are made with `np.repeat` over the cases (or goals) and a running
index within the parent, so there is no Python loop over cases or rows anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator import catalog as cat
from generator.catalog import NA, code_index, codes
from generator.population import Cases, workday
from generator.providers import ProviderSpec

_INT = np.int32


def _ci(code_list: str, code: str) -> int:
    return code_index(code_list, code)


def _within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... k-1 for each parent repeated k times (the running index within a parent)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


def _uniform_days(
    rng: np.random.Generator, lo: int | np.ndarray, hi: int | np.ndarray, n: int
) -> np.ndarray:
    lo = np.asarray(lo)
    hi = np.asarray(hi)
    return (lo + np.floor(rng.random(n) * (hi - lo + 1))).astype(_INT)


@dataclass
class Goals:
    case: np.ndarray  # int64 row of the case
    number: np.ndarray  # 1.. within case
    domain: np.ndarray  # int16
    set_on: np.ndarray
    due_on: np.ndarray
    status: np.ndarray
    status_on: np.ndarray
    offer: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.case)


@dataclass
class Referrals:
    case: np.ndarray
    number: np.ndarray
    goal_number: np.ndarray  # NA = no goal
    goal_row: np.ndarray  # row in Goals, NA
    service: np.ndarray
    requested_on: np.ndarray
    started_on: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.case)


@dataclass
class Contacts:
    case: np.ndarray
    day: np.ndarray
    step: np.ndarray

    def __len__(self) -> int:
        return len(self.case)


@dataclass
class Barriers:
    case: np.ndarray
    noted_on: np.ndarray
    code: np.ndarray
    domain: np.ndarray  # NA allowed
    topic: np.ndarray  # int8 index into notes.TOPICS (the note's content)

    def __len__(self) -> int:
        return len(self.case)


@dataclass
class Relapses:
    case: np.ndarray
    day: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    after_closure: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.case)


# --- goals -------------------------------------------------------------------------------


def make_goals(
    rng: np.random.Generator, cases: Cases, providers: list[ProviderSpec], start: int, exported: int
) -> Goals:
    n = len(cases)
    cm = cases.intensity == _ci("intensity", "case_management")
    verw = cases.intensity == _ci("intensity", "verweisberatung")
    pcve = cases.program == _ci("program", "pcve")
    plan_day = workday(cases.opened + _uniform_days(rng, 10, 45, n))
    count = np.zeros(n, dtype=np.int64)
    count[cm] = 1 + rng.binomial(4, 0.38, cm.sum())
    count[verw] = (rng.random(verw.sum()) < 0.3).astype(np.int64)
    count[plan_day > cases.last_active] = 0
    has = np.flatnonzero(count > 0)

    # domains: top-k of (log p + Gumbel noise), with boosts for the person's situation
    domains = codes("domain")
    prog_keys = codes("program")
    logp = np.log(
        np.vstack(
            [cat.probs("domain", cat.GOAL_DOMAIN.get(k, cat.GOAL_DOMAIN["kim"])) for k in prog_keys]
        )
        + 1e-12
    )
    rural = np.array([p.rural_topic for p in providers])
    step = 200_000
    ranked = np.empty((len(has), 5), dtype=np.int16)
    for s in range(0, len(has), step):
        idx = has[s : s + step]
        logits = logp[cases.program[idx]].copy()
        ex = cases.excluded[idx]
        logits[ex, domains.index("sprache")] += 2.5
        logits[ex, domains.index("aufenthalt")] += 1.5
        young = np.isin(cases.age[idx], [_ci("age_group", "u18"), _ci("age_group", "18_26")])
        logits[young & ~pcve[idx], domains.index("bildung_schule")] += 0.7
        mothers = (cases.gender[idx] == _ci("gender", "w")) & (
            cases.age[idx] == _ci("age_group", "27_44")
        )
        logits[mothers, domains.index("familie_kinderbetreuung")] += 0.8
        rur = rural[cases.provider[idx]]
        logits[rur, domains.index("bildung_schule")] += 1.2
        logits[pcve[idx], domains.index("distanzierung")] += 20.0
        gumbel = -np.log(-np.log(rng.random(logits.shape)))
        ranked[s : s + step] = np.argsort(-(logits + gumbel), axis=1)[:, :5]

    case = np.repeat(has, count[has])
    k = _within(count[has])
    rank_row = np.repeat(np.arange(len(has)), count[has])
    domain = ranked[rank_row, k].astype(np.int16)
    m = len(case)

    first_day = plan_day[case]
    later = (k > 0) & (rng.random(m) < 0.3)
    set_on = np.where(later, workday(first_day + _uniform_days(rng, 60, 300, m)), first_day)
    set_on = np.where(set_on > cases.last_active[case], first_day, set_on).astype(_INT)
    horizon = np.array([91, 182, 182, 273, 365])[rng.integers(0, 5, m)]
    due_on = (set_on + horizon + rng.integers(-7, 8, m)).astype(_INT)
    due_on[rng.random(m) < 0.15] = NA

    # offer available? the field's gaps, a bit worse in the rural Kreis and growing over time
    p_no = np.array([cat.NO_OFFER[d] for d in domains])[domain]
    sprache = domain == domains.index("sprache")
    p_no = np.where(sprache & cases.excluded[case], cat.NO_OFFER_SPRACHE_EXCLUDED, p_no)
    psych_or_kita = np.isin(
        domain, [domains.index("gesundheit_psychisch"), domains.index("familie_kinderbetreuung")]
    )
    trend = 0.85 + 0.3 * np.clip((set_on - start) / max(exported - start, 1), 0, 1)
    p_no = np.where(psych_or_kita, p_no * trend, p_no)
    p_no = np.where(rural[cases.provider[case]], np.minimum(p_no * 1.25, 0.95), p_no)
    offer = rng.random(m) >= p_no

    # status at the last review
    closed = cases.closed[case]
    is_closed = closed != NA
    reason = cases.close_reason[case]
    st = {c: _ci("goal_status", c) for c in codes("goal_status")}
    u = rng.random(m)
    good = np.isin(reason, [_ci("close_reason", "ziel_erreicht")])
    structural = reason == _ci("close_reason", "strukturelle_hindernisse")
    handed_over = reason == _ci("close_reason", "weitervermittlung")
    status = np.full(m, st["offen"], dtype=np.int16)
    # closed cases
    c_good = np.select([u < 0.7, u < 0.95], [st["erreicht"], st["teilweise"]], st["nicht_erreicht"])
    c_struct = np.select(
        [u < 0.05, u < 0.30, u < 0.75],
        [st["erreicht"], st["teilweise"], st["nicht_erreicht"]],
        st["aufgegeben"],
    )
    c_hand = np.select(
        [u < 0.3, u < 0.7, u < 0.9],
        [st["erreicht"], st["teilweise"], st["offen"]],
        st["aufgegeben"],
    )
    c_other = np.select(
        [u < 0.1, u < 0.3, u < 0.6],
        [st["erreicht"], st["teilweise"], st["nicht_erreicht"]],
        st["aufgegeben"],
    )
    closed_status = np.select([good, structural, handed_over], [c_good, c_struct, c_hand], c_other)
    no_offer_fail = ~offer & (closed_status == st["erreicht"]) & (rng.random(m) < 0.7)
    closed_status = np.where(no_offer_fail, st["nicht_erreicht"], closed_status)
    # open cases: most goals still open, some already (partly) reached
    old_enough = cases.last_active[case] - set_on > 120
    open_status = np.select(
        [old_enough & (u < 0.15), old_enough & (u < 0.30)],
        [st["erreicht"], st["teilweise"]],
        st["offen"],
    )
    status = np.where(is_closed, closed_status, open_status).astype(np.int16)

    last = cases.last_active[case]
    v = rng.random(m)
    review_closed = np.maximum(set_on, closed - np.floor(v * 20).astype(_INT))
    n_reviews = np.floor((last - set_on) / 180).astype(np.int64)
    review_open = set_on + n_reviews * 180 + np.floor(v * 20).astype(_INT)
    review_open = np.minimum(review_open, last)
    status_on = np.where(
        is_closed, review_closed, np.where(n_reviews >= 1, review_open, NA)
    ).astype(_INT)
    undocumented = rng.random(m) < np.where(is_closed, 0.12, 0.25)
    status_on[undocumented] = NA
    # without a documented review a goal cannot have moved on from "offen" (open cases)
    status = np.where((status_on == NA) & ~is_closed, st["offen"], status).astype(np.int16)
    return Goals(
        case=case,
        number=(k + 1).astype(np.int64),
        domain=domain,
        set_on=set_on,
        due_on=due_on,
        status=status,
        status_on=status_on,
        offer=offer,
    )


# --- referrals ---------------------------------------------------------------------------


def make_referrals(
    rng: np.random.Generator, cases: Cases, goals: Goals, exported: int
) -> Referrals:
    domains = codes("domain")
    services = codes("service_type")
    m = len(goals)
    excluded_sprache = (goals.domain == domains.index("sprache")) & cases.excluded[goals.case]
    u = rng.random(m)
    first = np.where(goals.offer, u < 0.85, u < 0.55)
    first |= excluded_sprache
    second = goals.offer & (rng.random(m) < 0.15)
    workaround = excluded_sprache & ~goals.offer & (rng.random(m) < 0.7)
    second |= workaround

    domain_keys = codes("domain")
    cum = np.vstack(
        [np.cumsum(cat.probs("service_type", cat.SERVICE_FOR_DOMAIN[d])) for d in domain_keys]
    )

    g1 = np.flatnonzero(first)
    g2 = np.flatnonzero(second)
    svc1 = cat.sample_rows(rng, cum, goals.domain[g1])
    svc1 = np.where(excluded_sprache[g1], services.index("integrationskurs"), svc1)
    svc2 = cat.sample_rows(rng, cum, goals.domain[g2])
    svc2 = np.where(workaround[g2], services.index("sprachkurs"), svc2)
    bridge = {
        "gesundheit_psychisch": "psychosoziale_beratung",
        "familie_kinderbetreuung": "jugendhilfe",
    }
    for dom, svc in bridge.items():
        svc2 = np.where(
            ~workaround[g2] & (goals.domain[g2] == domains.index(dom)), services.index(svc), svc2
        )

    last = cases.last_active
    req1 = workday(goals.set_on[g1] + _uniform_days(rng, 0, 21, len(g1)))
    req1 = np.minimum(req1, last[goals.case[g1]])
    base2 = goals.set_on[g2] + _uniform_days(rng, 0, 21, len(g2))
    req2 = workday(base2 + _uniform_days(rng, 7, 60, len(g2)))
    req2 = np.where(req2 > last[goals.case[g2]], np.minimum(base2, last[goals.case[g2]]), req2)

    # verweisberatung without a documented goal: referrals straight away
    verw = np.flatnonzero(
        (cases.intensity == _ci("intensity", "verweisberatung"))
        & ~np.isin(np.arange(len(cases)), goals.case)
    )
    n_free = 1 + (rng.random(len(verw)) < 0.3)
    free_case = np.repeat(verw, n_free)
    prog_keys = codes("program")
    cum_p = np.vstack(
        [
            np.cumsum(
                cat.probs(
                    "service_type", cat.SERVICE_WITHOUT_GOAL.get(k, cat.SERVICE_WITHOUT_GOAL["kim"])
                )
            )
            for k in prog_keys
        ]
    )
    svc3 = cat.sample_rows(rng, cum_p, cases.program[free_case])
    req3 = workday(cases.opened[free_case] + _uniform_days(rng, 0, 20, len(free_case)))
    req3 = np.minimum(np.maximum(req3, cases.opened[free_case]), last[free_case])

    case = np.concatenate([goals.case[g1], goals.case[g2], free_case])
    goal_row = np.concatenate([g1, g2, np.full(len(free_case), NA)]).astype(np.int64)
    service = np.concatenate([svc1, svc2, svc3]).astype(np.int16)
    requested = np.concatenate([req1, req2, req3]).astype(_INT)
    forced_fail = np.concatenate(
        [excluded_sprache[g1] & ~goals.offer[g1], np.zeros(len(g2) + len(free_case), bool)]
    )
    no_offer_goal = np.concatenate(
        [~goals.offer[g1], ~goals.offer[g2] & ~workaround[g2], np.zeros(len(free_case), bool)]
    )
    r = len(case)

    oc = {c: _ci("referral_outcome", c) for c in codes("referral_outcome")}
    median = np.array([cat.WAIT[s][0] for s in services])[service]
    sigma = np.array([cat.WAIT[s][1] for s in services])[service]
    wait = np.clip(np.exp(np.log(median) + sigma * rng.standard_normal(r)), 1, 1100).astype(_INT)
    start = workday(requested + wait)
    start = np.maximum(start, requested)
    fails = np.array([cat.FAILED.get(s, cat.FAILED_DEFAULT) for s in services])[service]
    v = rng.random(r)
    horizon = last[case]
    is_open = cases.closed[case] == NA
    outcome = np.where(
        start <= horizon,
        oc["begonnen"],
        np.where(
            is_open,
            np.where(exported - requested < 21, oc["offen"], oc["warteliste"]),
            np.select(
                [v < 0.6, v < 0.8], [oc["warteliste"], oc["offen"]], oc["nicht_wahrgenommen"]
            ),
        ),
    )
    w = rng.random(r)
    drawn_fail = np.select(
        [w < fails[:, 0], w < fails[:, 0] + fails[:, 1], w < fails.sum(axis=1)],
        [oc["kein_angebot"], oc["abgelehnt"], oc["nicht_wahrgenommen"]],
        -1,
    )
    outcome = np.where(drawn_fail >= 0, drawn_fail, outcome)
    # no suitable offer: a waiting list without prospect (psychotherapy, childcare) or no offer
    wl_share = np.zeros(len(services))
    wl_share[services.index("psychotherapie")] = 0.5
    wl_share[services.index("kita_platz")] = 0.4
    wl_share[services.index("wohnraum")] = 0.2
    no_offer_kind = np.where(
        rng.random(r) < wl_share[service], oc["warteliste"], oc["kein_angebot"]
    )
    outcome = np.where(no_offer_goal, no_offer_kind, outcome)
    excl_kind = np.where(rng.random(r) < 0.6, oc["abgelehnt"], oc["kein_angebot"])
    outcome = np.where(forced_fail, excl_kind, outcome).astype(np.int16)
    started = np.where(outcome == oc["begonnen"], start, NA).astype(_INT)

    order = np.lexsort((requested, case))
    case, goal_row, service, requested, started, outcome = (
        a[order] for a in (case, goal_row, service, requested, started, outcome)
    )
    counts = np.bincount(case, minlength=len(cases))
    number = _within(counts[counts > 0]) + 1
    goal_number = np.where(goal_row == NA, NA, goals.number[np.maximum(goal_row, 0)])
    return Referrals(
        case=case,
        number=number.astype(np.int64),
        goal_number=goal_number,
        goal_row=goal_row,
        service=service,
        requested_on=requested,
        started_on=started,
        outcome=outcome,
    )


# --- contacts ----------------------------------------------------------------------------


def make_contacts(
    rng: np.random.Generator, cases: Cases, goals: Goals, referrals: Referrals, exported: int
) -> Contacts:
    n = len(cases)
    steps = {c: _ci("step", c) for c in codes("step")}
    cm = cases.intensity == _ci("intensity", "case_management")
    verw = cases.intensity == _ci("intensity", "verweisberatung")
    opened = cases.opened
    last = cases.last_active
    closed = cases.closed
    is_closed = closed != NA
    parts_case: list[np.ndarray] = []
    parts_day: list[np.ndarray] = []
    parts_step: list[np.ndarray] = []

    def add(idx: np.ndarray, day: np.ndarray, step: str) -> None:
        parts_case.append(idx.astype(np.int64))
        parts_day.append(day.astype(_INT))
        parts_step.append(np.full(len(idx), steps[step], dtype=np.int16))

    every = np.arange(n)
    add(every, opened, "erstgespraech")
    sc = np.flatnonzero(cm | (verw & (rng.random(n) < 0.5)))
    add(
        sc,
        np.minimum(workday(opened[sc] + _uniform_days(rng, 0, 10, len(sc))), last[sc]),
        "screening",
    )
    asm = np.flatnonzero(cm & (rng.random(n) < 0.92))
    add(
        asm,
        np.minimum(workday(opened[asm] + _uniform_days(rng, 7, 35, len(asm))), last[asm]),
        "assessment",
    )

    first_goal = np.full(n, NA, dtype=_INT)
    if len(goals):
        firsts = goals.number == 1
        first_goal[goals.case[firsts]] = goals.set_on[firsts]
    plan = np.flatnonzero(
        cm
        & (
            ((first_goal != NA) & (rng.random(n) < 0.9))
            | ((first_goal == NA) & (rng.random(n) < 0.3))
        )
    )
    plan_day = np.where(
        first_goal[plan] != NA,
        first_goal[plan],
        np.minimum(workday(opened[plan] + _uniform_days(rng, 14, 45, len(plan))), last[plan]),
    )
    add(plan, plan_day, "hilfeplan")

    lk = np.flatnonzero(rng.random(len(referrals)) < 0.8)
    add(referrals.case[lk], referrals.requested_on[lk], "linking")

    # monitoring every 3-9 weeks from the plan to the last day of case work
    mon_start = np.where(first_goal != NA, first_goal, opened + 30)
    interval = _uniform_days(rng, 21, 63, n)
    span = last - mon_start
    n_mon = np.where(cm, np.clip(span // np.maximum(interval, 1), 0, 60), 0)
    n_mon = np.where(verw & (span > 20), (rng.random(n) < 0.35).astype(np.int64), n_mon).astype(
        np.int64
    )
    mc = np.repeat(every, n_mon)
    k = _within(n_mon) + 1
    mday = mon_start[mc] + k * interval[mc] + rng.integers(-5, 6, len(mc))
    mday = np.clip(workday(mday), opened[mc], last[mc])
    add(mc, mday, "monitoring")

    # reassessment about every six months in most case-management cases
    re_cases = cm & (rng.random(n) < 0.7)
    n_re = np.where(re_cases, np.clip((last - mon_start) // 180, 0, 10), 0).astype(np.int64)
    rc = np.repeat(every, n_re)
    k = _within(n_re) + 1
    rday = np.clip(
        workday(mon_start[rc] + k * 180 + rng.integers(-14, 15, len(rc))), opened[rc], last[rc]
    )
    add(rc, rday, "reassessment")

    fk = np.flatnonzero(cm & (rng.random(n) < 0.1) & (last - opened > 60))
    add(
        fk,
        workday(opened[fk] + _uniform_days(rng, 30, last[fk] - opened[fk], len(fk))),
        "fallkonferenz",
    )

    kk = cases.close_reason == _ci("close_reason", "kein_kontakt")
    ev = np.flatnonzero(cm & is_closed & ~kk & (rng.random(n) < 0.75))
    add(
        ev,
        np.maximum(workday(closed[ev] - _uniform_days(rng, 0, 14, len(ev))), opened[ev]),
        "evaluation",
    )
    ab = np.flatnonzero(is_closed & (cm | verw) & (rng.random(n) < np.where(kk, 0.5, 0.85)))
    add(ab, closed[ab], "abschluss")
    ng_day = workday(closed + _uniform_days(rng, 150, 210, n))
    ng = np.flatnonzero(cm & is_closed & ~kk & (rng.random(n) < 0.35) & (ng_day <= exported))
    add(ng, ng_day[ng], "nachgespraech")

    case = np.concatenate(parts_case)
    # weekend shifts never move a contact before the opening or after the export
    day = np.clip(np.concatenate(parts_day), opened[case], exported)
    step = np.concatenate(parts_step)
    order = np.lexsort((step, day, case))
    return Contacts(case=case[order], day=day[order].astype(_INT), step=step[order])


# --- barriers ----------------------------------------------------------------------------

# domain -> (P(barrier) if no offer, P(barrier) if offer, codes if no offer, codes if offer)
BARRIER_RULES: dict[str, tuple[float, float, dict[str, float], dict[str, float]]] = {
    "gesundheit_psychisch": (
        0.60,
        0.25,
        {"wartezeit": 0.65, "kein_angebot": 0.35},
        {"wartezeit": 0.8, "sprachbarriere": 0.2},
    ),
    "familie_kinderbetreuung": (
        0.55,
        0.10,
        {"kein_angebot": 0.75, "wartezeit": 0.25},
        {"wartezeit": 0.7, "zustaendigkeit_unklar": 0.3},
    ),
    "sprache": (0.20, 0.03, {"kein_angebot": 0.5, "wartezeit": 0.5}, {"wartezeit": 1.0}),
    "lebensunterhalt": (
        0.45,
        0.28,
        {"rechtskreiswechsel": 0.7, "zustaendigkeit_unklar": 0.3},
        {"rechtskreiswechsel": 0.65, "zustaendigkeit_unklar": 0.2, "erreichbarkeit_behoerde": 0.15},
    ),
    "aufenthalt": (
        0.50,
        0.30,
        {"digitale_zugangshuerde": 0.6, "erreichbarkeit_behoerde": 0.4},
        {"digitale_zugangshuerde": 0.6, "erreichbarkeit_behoerde": 0.4},
    ),
    "wohnen": (
        0.55,
        0.20,
        {"kein_angebot": 0.6, "diskriminierung": 0.25, "kosten": 0.15},
        {"wartezeit": 0.5, "diskriminierung": 0.3, "kosten": 0.2},
    ),
    "bildung_schule": (
        0.20,
        0.05,
        {"kein_angebot": 0.5, "zustaendigkeit_unklar": 0.5},
        {"sprachbarriere": 0.5, "zustaendigkeit_unklar": 0.5},
    ),
    "ausbildung_arbeit": (
        0.30,
        0.05,
        {"kein_angebot": 0.4, "aufenthaltsrechtlich_ausgeschlossen": 0.3, "diskriminierung": 0.3},
        {"sprachbarriere": 0.5, "diskriminierung": 0.5},
    ),
    "gesundheit_koerperlich": (
        0.30,
        0.08,
        {"kein_angebot": 0.4, "kosten": 0.3, "sprachbarriere": 0.3},
        {"sprachbarriere": 0.7, "kosten": 0.3},
    ),
    "schulden": (0.35, 0.08, {"wartezeit": 0.7, "kein_angebot": 0.3}, {"wartezeit": 1.0}),
    "soziales_netz": (0.15, 0.03, {"kein_angebot": 1.0}, {"sonstiges": 1.0}),
    "distanzierung": (
        0.30,
        0.12,
        {"zustaendigkeit_unklar": 0.5, "kein_angebot": 0.5},
        {"sonstiges": 0.6, "zustaendigkeit_unklar": 0.4},
    ),
    "sonstiges": (0.10, 0.03, {"sonstiges": 1.0}, {"sonstiges": 1.0}),
}
# excluded from the integration course: the language goal's barrier is the exclusion itself
EXCLUDED_SPRACHE_RULE = (
    0.75,
    0.35,
    {"aufenthaltsrechtlich_ausgeschlossen": 0.9, "kein_angebot": 0.1},
    {"aufenthaltsrechtlich_ausgeschlossen": 0.7, "wartezeit": 0.3},
)
# the rural Kreis: school and vocational college are far away, bus tickets cost money
RURAL_SCHOOL_RULE = (0.65, 0.50, {"kosten": 1.0}, {"kosten": 1.0})
# observations outside a goal (verweisberatung and information cases, some CM cases)
CASE_LEVEL_PAIRS = {
    ("sprachbarriere", None): 0.22,
    ("sonstiges", None): 0.18,
    ("sonstiges", "sonstiges"): 0.08,
    ("erreichbarkeit_behoerde", "lebensunterhalt"): 0.10,
    ("diskriminierung", "ausbildung_arbeit"): 0.08,
    ("digitale_zugangshuerde", "aufenthalt"): 0.12,
    ("zustaendigkeit_unklar", "sonstiges"): 0.08,
    ("sprachbarriere", "gesundheit_koerperlich"): 0.08,
    ("kosten", "schulden"): 0.06,
}


def make_barriers(
    rng: np.random.Generator,
    cases: Cases,
    goals: Goals,
    providers: list[ProviderSpec],
    local_pair_cases: int,
) -> Barriers:
    from generator.notes import topic_of

    domains = codes("domain")
    barrier_codes = codes("barrier")
    rural = np.array([p.rural_topic for p in providers])[cases.provider[goals.case]]
    excl_sprache = (goals.domain == domains.index("sprache")) & cases.excluded[goals.case]
    school = goals.domain == domains.index("bildung_schule")
    rules = [BARRIER_RULES[d] for d in domains]
    p_no = np.array([r[0] for r in rules])[goals.domain]
    p_yes = np.array([r[1] for r in rules])[goals.domain]
    cum_no = np.vstack([np.cumsum(cat.probs("barrier", r[2])) for r in rules])
    cum_yes = np.vstack([np.cumsum(cat.probs("barrier", r[3])) for r in rules])
    # special rules as extra rows of the matrices
    extra = [EXCLUDED_SPRACHE_RULE, RURAL_SCHOOL_RULE]
    cum_no = np.vstack([cum_no] + [np.cumsum(cat.probs("barrier", r[2])) for r in extra])
    cum_yes = np.vstack([cum_yes] + [np.cumsum(cat.probs("barrier", r[3])) for r in extra])
    row = goals.domain.astype(np.int64).copy()
    row[excl_sprache] = len(domains)
    row[school & rural] = len(domains) + 1
    p_no = np.where(
        excl_sprache, EXCLUDED_SPRACHE_RULE[0], np.where(school & rural, RURAL_SCHOOL_RULE[0], p_no)
    )
    p_yes = np.where(
        excl_sprache,
        EXCLUDED_SPRACHE_RULE[1],
        np.where(school & rural, RURAL_SCHOOL_RULE[1], p_yes),
    )
    p = np.where(goals.offer, p_yes, p_no)
    hit = np.flatnonzero(rng.random(len(goals)) < p)
    code_no = cat.sample_rows(rng, cum_no, row[hit])
    code_yes = cat.sample_rows(rng, cum_yes, row[hit])
    g_code = np.where(goals.offer[hit], code_yes, code_no).astype(np.int16)
    g_case = goals.case[hit]
    g_domain = goals.domain[hit].astype(np.int16)
    g_noted = np.minimum(
        workday(goals.set_on[hit] + _uniform_days(rng, 0, 45, len(hit))), cases.last_active[g_case]
    )
    g_noted = np.maximum(g_noted, cases.opened[g_case])

    # case-level observations
    n = len(cases)
    cm = cases.intensity == _ci("intensity", "case_management")
    p_case = np.where(
        cm, 0.03, np.where(cases.intensity == _ci("intensity", "verweisberatung"), 0.07, 0.02)
    )
    cl = np.flatnonzero(rng.random(n) < p_case)
    pairs = list(CASE_LEVEL_PAIRS)
    w = np.array(list(CASE_LEVEL_PAIRS.values()))
    pick = rng.choice(len(pairs), len(cl), p=w / w.sum())
    pc = np.array([barrier_codes.index(c) for c, _ in pairs], dtype=np.int16)[pick]
    pd_ = np.array([domains.index(d) if d else NA for _, d in pairs], dtype=np.int16)[pick]
    c_noted = np.minimum(
        workday(cases.opened[cl] + _uniform_days(rng, 0, 30, len(cl))), cases.last_active[cl]
    )
    c_noted = np.maximum(c_noted, cases.opened[cl])

    case = np.concatenate([g_case, cl])
    noted = np.concatenate([g_noted, c_noted]).astype(_INT)
    code = np.concatenate([g_code, pc]).astype(np.int16)
    domain = np.concatenate([g_domain, pd_]).astype(np.int16)

    # a local pair: discrimination in psychotherapy, in a handful of cases only
    psych = np.flatnonzero(goals.domain == domains.index("gesundheit_psychisch"))
    if local_pair_cases and len(psych):
        chosen: list[int] = []
        seen_providers: list[int] = []
        for gi in rng.permutation(psych)[:200]:
            prov = int(cases.provider[goals.case[gi]])
            if len(chosen) >= local_pair_cases:
                break
            if len(chosen) < 2 and prov in seen_providers:
                continue
            chosen.append(int(gi))
            seen_providers.append(prov)
        ch = np.array(chosen, dtype=np.int64)
        case = np.concatenate([case, goals.case[ch]])
        noted = np.concatenate(
            [noted, np.minimum(goals.set_on[ch] + 10, cases.last_active[goals.case[ch]])]
        )
        code = np.concatenate(
            [code, np.full(len(ch), barrier_codes.index("diskriminierung"), np.int16)]
        )
        domain = np.concatenate(
            [domain, np.full(len(ch), domains.index("gesundheit_psychisch"), np.int16)]
        )

    topic = topic_of(code, domain, cases.provider[case], providers)
    order = np.lexsort((code, noted, case))
    return Barriers(
        case=case[order],
        noted_on=noted[order].astype(_INT),
        code=code[order],
        domain=domain[order],
        topic=topic[order],
    )


# --- relapses ----------------------------------------------------------------------------


def make_relapses(rng: np.random.Generator, cases: Cases, exported: int) -> Relapses:
    pcve = np.flatnonzero(cases.program == _ci("program", "pcve"))
    risk_factor = np.array([0.5, 1.0, 2.0])  # niedrig, mittel, hoch (contract order)
    rf = risk_factor[np.maximum(cases.risk[pcve], 0)]
    opened = cases.opened[pcve]
    last = cases.last_active[pcve]
    closed = cases.closed[pcve]
    during = (rng.random(len(pcve)) < 0.05 * rf) & (last - opened > 30)
    d_day = (
        opened
        + 30
        + np.floor(rng.random(len(pcve)) * np.maximum(last - opened - 30, 1)).astype(_INT)
    )
    after_day = closed + 1 + rng.exponential(300, len(pcve)).astype(_INT)
    after = (closed != NA) & (rng.random(len(pcve)) < 0.08 * rf) & (after_day <= exported)
    case = np.concatenate([pcve[during], pcve[after]])
    day = np.concatenate([d_day[during], after_day[after]]).astype(_INT)
    is_after = np.concatenate([np.zeros(during.sum(), bool), np.ones(after.sum(), bool)])
    kinds = codes("relapse_kind")
    kind = rng.choice(len(kinds), len(case), p=cat.probs("relapse_kind", cat.RELAPSE_KIND)).astype(
        np.int16
    )
    cum = np.vstack([np.cumsum(cat.probs("relapse_source", cat.RELAPSE_SOURCE[k])) for k in kinds])
    source = cat.sample_rows(rng, cum, kind).astype(np.int16)
    source[rng.random(len(case)) < 0.05] = NA
    order = np.lexsort((day, case))
    return Relapses(
        case=case[order],
        day=day[order],
        kind=kind[order],
        source=source[order],
        after_closure=is_after[order],
    )
