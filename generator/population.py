"""Cases: who comes when, to which provider, how long, and who comes back.

Everything is drawn as whole arrays (one draw per case, no loop over cases):

1. openings over the history window (`years` before the export date), growing over time as
   the networks did; the staffing follows, so the first months show a small team;
2. intensity, duration and close reason per case (information: a day, verweisberatung:
   weeks, case management: months to two years; `kein_kontakt` closes about nine months after
   the last contact, as the JMD guide prescribes);
3. follow-up cases of earlier cases: re-openings at the same provider (`previous_case_id`,
   15+ days after closure), transfers to another provider 1-14 days after closure,
   re-entries elsewhere later, and parallel cases (opened before the earlier one closed) -
   all sharing the person's key;
4. process-quality findings: open cases without contact for more than 183 / 274 days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generator import catalog as cat
from generator.catalog import NA, code_index, codes
from generator.ids import hex_ids, mix32, mix64
from generator.providers import ProviderSpec

FOLLOW_UP_SHARE = 0.12  # share of cases that continue an earlier case of the same person
LINK_KINDS = ("none", "reopen", "transfer", "reentry", "parallel")
LINK_SHARES = {"reopen": 0.30, "transfer": 0.25, "reentry": 0.25, "parallel": 0.20}


def workday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays to Friday and Sundays to Monday (day 0 = 1970-01-01, a Thursday)."""
    dow = (days + 3) % 7  # Monday = 0
    return days + np.where(dow == 5, -1, np.where(dow == 6, 1, 0)).astype(days.dtype)


@dataclass
class Groups:
    """All (provider, program, region) groups of the network, flattened."""

    provider: np.ndarray  # int16
    program: np.ndarray  # int8, index into codes("program")
    region: np.ndarray  # int16, index into `regions`
    weight: np.ndarray  # float, global probability of a case falling into the group
    staffed: np.ndarray  # bool
    donor: np.ndarray  # int32: staffed group whose caseworkers serve an unstaffed one
    regions: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.provider)


def build_groups(providers: list[ProviderSpec]) -> Groups:
    regions: list[str] = []
    rows = []
    total = sum(p.size for p in providers)
    for p in providers:
        wsum = sum(g.weight for g in p.groups)
        for g in p.groups:
            if g.region not in regions:
                regions.append(g.region)
            rows.append(
                (
                    p.index,
                    code_index("program", g.program),
                    regions.index(g.region),
                    p.size / total * g.weight / wsum,
                    g.staffed,
                )
            )
    provider = np.array([r[0] for r in rows], dtype=np.int16)
    program = np.array([r[1] for r in rows], dtype=np.int8)
    staffed = np.array([r[4] for r in rows], dtype=bool)
    donor = np.arange(len(rows), dtype=np.int32)
    for gi in np.flatnonzero(~staffed):
        same = np.flatnonzero((provider == provider[gi]) & staffed & (program == program[gi]))
        if len(same) == 0:
            same = np.flatnonzero((provider == provider[gi]) & staffed)
        if len(same) == 0:  # nobody to serve it: it is staffed after all
            staffed[gi] = True
        else:
            donor[gi] = same[0]
    return Groups(
        provider=provider,
        program=program,
        region=np.array([r[2] for r in rows], dtype=np.int16),
        weight=np.array([r[3] for r in rows]),
        staffed=staffed,
        donor=donor,
        regions=tuple(regions),
    )


@dataclass
class Cases:
    provider: np.ndarray  # int16
    group: np.ndarray  # int32
    program: np.ndarray  # int8
    region: np.ndarray  # int16 (index into Groups.regions)
    intensity: np.ndarray  # int8
    opened: np.ndarray  # int32 day number
    closed: np.ndarray  # int32, NA = open
    close_reason: np.ndarray  # int8, NA
    age: np.ndarray
    gender: np.ndarray
    source: np.ndarray
    risk: np.ndarray  # NA outside pcve
    phenomenon: np.ndarray
    person: np.ndarray  # int64 person number
    keyless: np.ndarray  # bool: no person_key in the export
    prev: np.ndarray  # int64 index of the re-opened case, NA
    link: np.ndarray  # int8 index into LINK_KINDS (how the case relates to an earlier one)
    excluded: np.ndarray  # bool: excluded from the integration course by residence status
    last_active: np.ndarray  # int32: last day with case work (contacts, goals, referrals)
    caseworker: np.ndarray | None = None  # int32 index into the staffing table
    case_id: pa.StringArray | None = None
    person_key: pa.StringArray | None = None  # nulls where keyless

    def __len__(self) -> int:
        return len(self.provider)

    def take(self, idx: np.ndarray) -> Cases:
        return Cases(
            **{k: (v[idx] if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        )


def _ramp(rng: np.random.Generator, n: int, c: float = 1.5) -> np.ndarray:
    """Draws on [0, 1] with density proportional to 1 + c t (the networks grow)."""
    u = rng.random(n)
    return (-1 + np.sqrt(1 + 2 * c * u * (1 + c / 2))) / c


def _durations(rng: np.random.Generator, intensity: np.ndarray, program: np.ndarray) -> np.ndarray:
    n = len(intensity)
    info = intensity == code_index("intensity", "information")
    verw = intensity == code_index("intensity", "verweisberatung")
    cm = intensity == code_index("intensity", "case_management")
    u = rng.random(n)
    z = rng.standard_normal(n)
    d = np.zeros(n, dtype=np.int32)
    d[info] = np.where(u[info] < 0.6, 0, np.minimum(rng.geometric(0.25, info.sum()), 14))
    d[verw] = np.clip(np.exp(np.log(50) + 0.6 * z[verw]), 7, 300).astype(np.int32)
    median = np.where(program == code_index("program", "pcve"), 560, 460)
    d[cm] = np.clip(np.exp(np.log(median[cm]) + 0.65 * z[cm]), 45, 1000).astype(np.int32)
    return d


def _case_attributes(rng: np.random.Generator, program: np.ndarray) -> dict[str, np.ndarray]:
    keys = tuple(codes("program"))
    prog_keys = tuple(k for k in keys)

    def table(spec: dict, code_list: str) -> np.ndarray:
        rows = {k: spec.get(k, spec["kim"]) for k in prog_keys}
        return cat.cum_matrix(code_list, rows, prog_keys)

    n = len(program)
    pcve = program == code_index("program", "pcve")
    risk = np.full(n, NA, dtype=np.int16)
    phen = np.full(n, NA, dtype=np.int16)
    r = np.flatnonzero(pcve)
    risk[r] = rng.choice(
        len(codes("risk_level")), len(r), p=cat.probs("risk_level", cat.RISK_LEVEL)
    )
    phen[r] = rng.choice(
        len(codes("phenomenon")), len(r), p=cat.probs("phenomenon", cat.PHENOMENON)
    )
    excluded_p = np.array([cat.EXCLUDED_SHARE.get(k, 0.0) for k in prog_keys])[program]
    return {
        "intensity": cat.sample_rows(rng, table(cat.INTENSITY, "intensity"), program),
        "age": cat.sample_rows(rng, table(cat.AGE_GROUP, "age_group"), program),
        "gender": cat.sample_rows(rng, table(cat.GENDER, "gender"), program),
        "source": cat.sample_rows(rng, table(cat.REFERRAL_SOURCE, "referral_source"), program),
        "risk": risk,
        "phenomenon": phen,
        "excluded": rng.random(n) < excluded_p,
    }


def _transition_matrix(providers: list[ProviderSpec], groups: Groups) -> np.ndarray:
    """P(target provider | source provider) for cases continued at another provider."""
    n = len(providers)
    t = np.zeros((n, n))
    for p in providers:
        for q in providers:
            if p.index == q.index:
                continue
            w = 1.0
            if set(p.regions) & set(q.regions):
                w *= 6.0
            if q.has_pcve and not p.has_pcve:
                w = 0.0  # nobody is "transferred" into exit work from general counselling
            elif p.has_pcve and q.has_pcve:
                w *= 3.0
            t[p.index, q.index] = w
    for i in range(n):
        if t[i].sum() == 0:
            t[i, i] = 1.0
    return np.cumsum(t / t.sum(axis=1, keepdims=True), axis=1)


def _pick(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    u = rng.random(len(rows))
    c = cum[rows]
    return np.minimum((c[:, :-1] < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def generate_cases(
    rng: np.random.Generator,
    providers: list[ProviderSpec],
    groups: Groups,
    n_cases: int,
    start: int,
    exported: int,
    key: int,
) -> Cases:
    """Exactly `n_cases` cases, sorted by provider and opening date, with ids."""
    first = start
    span = exported - first + 1
    pool = n_cases

    # 1. independent openings (the first ones become predecessors of the follow-ups) ------
    group = rng.choice(len(groups), size=pool, p=groups.weight / groups.weight.sum()).astype(
        np.int32
    )
    opened = (first + np.floor(_ramp(rng, pool) * span)).astype(np.int32)
    opened = np.clip(workday(opened), start, exported)
    program = groups.program[group]
    attrs = _case_attributes(rng, program)
    duration = _durations(rng, attrs["intensity"], program)
    closed = opened + duration
    kept = np.arange(pool)

    n_follow_target = round(FOLLOW_UP_SHARE * n_cases) if n_cases >= 20 else 0
    base0 = kept[: n_cases - n_follow_target]

    # 2. follow-up cases of base cases -----------------------------------------------------
    cand = int(n_follow_target * 1.6) + 10 if n_follow_target else 0
    kinds = np.array(list(LINK_SHARES))
    kind = rng.choice(len(kinds), size=cand, p=np.array(list(LINK_SHARES.values())))
    info = code_index("intensity", "information")
    closed_b0 = closed[base0]
    is_closed = closed_b0 <= exported
    w_pred = np.where(attrs["intensity"][base0] == info, 0.2, 1.0)
    p_closed = np.where(is_closed, w_pred, 0.0)
    p_any = np.where((duration[base0] >= 10) | ~is_closed, w_pred, 0.0)
    pred = np.empty(cand, dtype=np.int64)
    par = kinds[kind] == "parallel"
    if cand:
        pred[~par] = base0[rng.choice(len(base0), size=(~par).sum(), p=p_closed / p_closed.sum())]
        pred[par] = base0[rng.choice(len(base0), size=par.sum(), p=p_any / p_any.sum())]
    gap_u = rng.random(cand)
    gap_e = rng.exponential(1.0, cand)
    k = kinds[kind]
    f_opened = np.where(
        k == "reopen",
        closed[pred] + 15 + (gap_e * 170).astype(np.int32),
        np.where(
            k == "transfer",
            closed[pred] + 1 + (gap_u * 14).astype(np.int32),
            np.where(
                k == "reentry",
                closed[pred] + 15 + (gap_e * 240).astype(np.int32),
                opened[pred]
                + (gap_u * (np.minimum(closed[pred], exported) - opened[pred])).astype(np.int32),
            ),
        ),
    ).astype(np.int32)
    if cand:
        f_opened = workday(f_opened)
        # the weekend shift must not turn a 1-day transfer into a same-day case or a 15-day
        # re-opening into a transfer
        f_opened = np.where(k == "transfer", np.maximum(f_opened, closed[pred] + 1), f_opened)
        f_opened = np.where(
            (k == "reopen") | (k == "reentry"), np.maximum(f_opened, closed[pred] + 15), f_opened
        )
        f_opened = np.where(
            k == "parallel", np.clip(f_opened, opened[pred], closed[pred] - 1), f_opened
        )
    valid = np.flatnonzero(f_opened <= exported)[:n_follow_target]
    n_follow = len(valid)
    pred, k, f_opened = pred[valid], k[valid], f_opened[valid]
    kind_valid = kind[valid]

    # target group of each follow-up
    f_group = group[pred].copy()
    other = k != "reopen"
    if other.any():
        cum_t = _transition_matrix(providers, groups)
        src = groups.provider[group[pred[other]]]
        target = _pick(rng, cum_t, src.astype(np.intp))
        gmax = max(len(p.groups) for p in providers)
        gidx = np.full((len(providers), gmax), -1, dtype=np.int64)
        for p in providers:
            members = np.flatnonzero(groups.provider == p.index)
            gidx[p.index, : len(members)] = members
        cand_groups = gidx[target]  # (n, gmax)
        w = np.where(cand_groups >= 0, groups.weight[np.maximum(cand_groups, 0)], 0.0)
        same_region = (
            groups.region[np.maximum(cand_groups, 0)] == groups.region[group[pred[other]]][:, None]
        )
        w = w * np.where(same_region, 4.0, 1.0)
        same_prog = groups.program[np.maximum(cand_groups, 0)] == program[pred[other]][:, None]
        w = w * np.where(same_prog & (k[other] == "parallel")[:, None], 0.3, 1.0)
        cum_w = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        choice = _pick(rng, cum_w, np.arange(len(cum_w)))
        f_group[other] = cand_groups[np.arange(len(cand_groups)), choice]
    f_program = groups.program[f_group]
    f_attrs = _case_attributes(rng, f_program)
    f_duration = _durations(rng, f_attrs["intensity"], f_program)
    f_closed = f_opened + f_duration
    # a person keeps age group, gender and residence status; programs have age limits
    f_age = attrs["age"][pred].copy()
    young = np.isin(f_age, [code_index("age_group", "u18"), code_index("age_group", "18_26")])
    f_age[(f_program == code_index("program", "mbe")) & young] = code_index("age_group", "27_44")
    f_age[(f_program == code_index("program", "jmd")) & ~young] = code_index("age_group", "18_26")
    f_attrs["age"] = f_age
    f_attrs["gender"] = attrs["gender"][pred]
    f_attrs["excluded"] = attrs["excluded"][pred] & (f_program != code_index("program", "pcve"))
    from_service = (k == "transfer") & (rng.random(n_follow) < 0.6)
    f_attrs["source"] = np.where(
        from_service, code_index("referral_source", "beratungsstelle"), f_attrs["source"]
    ).astype(np.int16)

    # 3. assemble: base cases first, then follow-ups ----------------------------------------
    base = kept[: n_cases - n_follow]
    n_base = len(base)
    pos_in_base = np.full(pool, NA, dtype=np.int64)
    pos_in_base[base] = np.arange(n_base)

    def cat_(a_base: np.ndarray, a_follow: np.ndarray) -> np.ndarray:
        return np.concatenate([a_base[base], a_follow])

    c_group = cat_(group, f_group)
    c_program = groups.program[c_group]
    c_opened = cat_(opened, f_opened)
    c_closed = cat_(closed, f_closed).astype(np.int32)
    intensity = cat_(attrs["intensity"], f_attrs["intensity"]).astype(np.int8)
    n = n_base + n_follow
    link = np.zeros(n, dtype=np.int8)
    link[n_base:] = kind_valid + 1  # LINK_SHARES keys are LINK_KINDS[1:]
    prev = np.full(n, NA, dtype=np.int64)
    reopen = np.flatnonzero(k == "reopen")
    prev[n_base + reopen] = pos_in_base[pred[reopen]]
    person = np.concatenate([base, pred]).astype(np.int64)

    # close reasons (drawn for all, used where closed), transfers close as weitervermittlung
    reason = cat.sample_rows(
        rng,
        cat.cum_matrix("close_reason", cat.CLOSE_REASON, codes("intensity")),
        intensity,
    ).astype(np.int8)
    transfer_pred = pos_in_base[pred[k == "transfer"]]
    weiter = rng.random(len(transfer_pred)) < 0.8
    reason[transfer_pred[weiter]] = code_index("close_reason", "weitervermittlung")
    linked_pred = pos_in_base[pred[k != "parallel"]]
    # `kein_kontakt` in case management: closed about nine months after the last contact
    kk = code_index("close_reason", "kein_kontakt")
    cm = intensity == code_index("intensity", "case_management")
    kk_cm = (reason == kk) & cm
    kk_cm[linked_pred] = False  # keep the follow-up dates consistent with the closure
    c_closed = np.where(
        kk_cm,
        np.maximum(c_closed, c_opened + 280 + (rng.random(n) * 40).astype(np.int32)),
        c_closed,
    ).astype(np.int32)
    # files nobody closed: the work ended but the case stays open in the software (what the
    # 6-/9-month rules of the JMD guide are there for)
    verw = intensity == code_index("intensity", "verweisberatung")
    zombie_p = np.where(cm, 0.22, np.where(verw, 0.12, 0.0))
    recent = (c_closed <= exported) & (c_closed > exported - 450)
    zombie = recent & (rng.random(n) < zombie_p)
    zombie[linked_pred] = False
    planned_end = np.minimum(c_closed, exported)
    c_closed = np.where((c_closed > exported) | zombie, NA, c_closed).astype(np.int32)
    is_open = c_closed == NA
    reason = np.where(is_open, NA, reason).astype(np.int8)

    end = np.where(is_open, exported, c_closed)
    last_active = np.where(zombie, planned_end, end).astype(np.int32)
    u = rng.random(n)
    quiet = np.where(cm, (200 + u * 90).astype(np.int32), (20 + u * 40).astype(np.int32))
    kk_closed = (reason == kk) & ~is_open
    last_active[kk_closed] = np.maximum(c_opened[kk_closed], c_closed[kk_closed] - quiet[kk_closed])
    # open case-management cases that went quiet: due for review (>183 days) or for closure
    # (>274 days) in the process-quality view
    v = rng.random(n)
    w = rng.random(n)
    stale = is_open & cm & ~zombie & (c_opened < exported - 300)
    review = stale & (v < 0.08)
    overdue = stale & (v >= 0.08) & (v < 0.125)
    last_active[review] = exported - (190 + w[review] * 80).astype(np.int32)
    last_active[overdue] = exported - (280 + w[overdue] * 240).astype(np.int32)
    last_active = np.maximum(last_active, c_opened).astype(np.int32)

    provider_p = np.array([p.keyless for p in providers])
    c_provider = groups.provider[c_group]
    keyless = rng.random(n) < provider_p[c_provider]

    cases = Cases(
        provider=c_provider,
        group=c_group,
        program=c_program,
        region=groups.region[c_group],
        intensity=intensity,
        opened=c_opened.astype(np.int32),
        closed=c_closed,
        close_reason=reason,
        age=cat_(attrs["age"], f_attrs["age"]).astype(np.int8),
        gender=cat_(attrs["gender"], f_attrs["gender"]).astype(np.int8),
        source=cat_(attrs["source"], f_attrs["source"]).astype(np.int8),
        risk=cat_(attrs["risk"], f_attrs["risk"]).astype(np.int8),
        phenomenon=cat_(attrs["phenomenon"], f_attrs["phenomenon"]).astype(np.int8),
        person=person,
        keyless=keyless,
        prev=prev,
        link=link,
        excluded=cat_(attrs["excluded"], f_attrs["excluded"]),
        last_active=last_active,
    )

    # 4. export order: by provider, then opening date; ids follow that order ------------------
    tiebreak = rng.random(n)
    order = np.lexsort((tiebreak, cases.opened, cases.provider))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    cases = cases.take(order)
    cases.prev = np.where(cases.prev == NA, NA, inverse[np.maximum(cases.prev, 0)])
    cases.case_id = hex_ids("F-", mix32(np.arange(n, dtype=np.uint64), key), 8)
    keys = hex_ids("", mix64(cases.person.astype(np.uint64), key * 7919 + 1), 16)
    cases.person_key = _mask(keys, cases.keyless)
    return cases


def _mask(arr: pa.StringArray, null: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pa.array(null), pa.scalar(None, pa.string()), arr)
