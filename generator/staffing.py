"""Staffing (Stellen) calibrated to the caseload, and caseworkers assigned to cases.

For every staffed (provider, program, region) group the generator counts the active cases of
each day (metrics.md: opened_on <= d <= closed_on) and keeps a team whose FTE follows
active cases / target, where the target is 50-60 cases per FTE (KIM NRW recommendation) and
about 80 for the one overloaded provider (the observed JMD average of 2016). The team lives
like a real one: part time (0.5/0.75/0.8/1.0), people leave mid-quarter (valid_to) and their
successor starts weeks later (vacancy), hours are reduced (a new row for the same person).
The loop runs over groups and months, never over cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generator.catalog import NA
from generator.ids import hex_ids, mix32
from generator.population import Cases, Groups
from generator.providers import ProviderSpec

FTE_OPTIONS = np.array([1.0, 0.8, 0.75, 0.5])
FTE_WEIGHTS = np.array([0.45, 0.15, 0.2, 0.2])
NORMAL_TARGET = (52.0, 58.0)
OVERLOADED_TARGET = 80.0


@dataclass
class Staffing:
    provider: np.ndarray  # int16
    group: np.ndarray  # int32
    person: np.ndarray  # int32 caseworker number (global)
    valid_from: np.ndarray  # int32
    valid_to: np.ndarray  # int32, NA = still valid
    fte: np.ndarray  # float64
    target: dict[int, float]  # group -> cases per FTE the team was sized for
    caseworker_id: pa.StringArray | None = None

    def __len__(self) -> int:
        return len(self.provider)


def daily_active(cases: Cases, n_groups: int, start: int, exported: int) -> np.ndarray:
    """(groups x days) active cases per day from `start` to `exported` (metrics.md)."""
    days = exported - start + 1
    first = np.clip(cases.opened - start, 0, days)
    end = np.where(cases.closed == NA, exported, cases.closed)
    last = np.clip(end - start + 1, 0, days)  # exclusive
    g = cases.group.astype(np.int64)
    plus = np.bincount(g * (days + 1) + first, minlength=n_groups * (days + 1))
    minus = np.bincount(g * (days + 1) + last, minlength=n_groups * (days + 1))
    diff = (plus - minus).reshape(n_groups, days + 1)
    return np.cumsum(diff, axis=1)[:, :days]


def build_staffing(
    rng: np.random.Generator,
    providers: list[ProviderSpec],
    groups: Groups,
    cases: Cases,
    start: int,
    exported: int,
    key: int,
) -> Staffing:
    active = daily_active(cases, len(groups), start, exported)
    days = active.shape[1]
    kernel = np.ones(61) / 61
    rows: list[tuple[int, int, int, int, int, float]] = []  # provider, group, person, from, to, fte
    targets: dict[int, float] = {}
    person_counter = 0
    for gi in range(len(groups)):
        if not groups.staffed[gi]:
            continue
        p = providers[int(groups.provider[gi])]
        target = (
            OVERLOADED_TARGET * rng.uniform(0.97, 1.03)
            if p.overloaded
            else rng.uniform(*NORMAL_TARGET)
        )
        targets[gi] = target
        smooth = np.convolve(
            np.pad(active[gi].astype(float), 30, mode="edge"), kernel, mode="valid"
        )
        # calibrate year by year after the first half year (the start-up months are noisy by
        # nature): simulate the team, then tune single FTEs to allowed values so that every
        # year's FTE-days match its active case-days / target
        sample = np.arange(min(180, days // 2), days, 7)
        window = np.minimum((sample - sample[0]) // 365, max((days - sample[0]) // 365 - 1, 0))
        need = np.bincount(window, weights=active[gi][sample]) / target
        small = smooth[sample].mean() / target < 0.6  # a quarter position only in tiny groups
        aim = target
        best: tuple[float, list[list]] | None = None
        for _attempt in range(3):
            team, person_counter = _simulate_team(
                rng, smooth / aim, start, exported, person_counter
            )
            reached = _fine_tune(team, need, start + sample, window, small)
            miss = float(np.abs(reached / np.maximum(need, 1e-9) - 1).max())
            if best is None or miss < best[0]:
                best = (miss, team)
            if miss < 0.04:
                break
            if need.sum() <= 0:
                break
            aim = float(np.clip(aim * reached.sum() / need.sum(), 0.7 * target, 1.3 * target))
        team = best[1]
        for person, fte, vfrom, vto, *_ in team:
            if vfrom > exported:
                continue
            rows.append((int(groups.provider[gi]), gi, person, vfrom, vto, fte))

    arr = np.array(rows, dtype=np.float64) if rows else np.zeros((0, 6))
    order = np.lexsort((arr[:, 3], arr[:, 2], arr[:, 0])) if len(arr) else np.arange(0)
    arr = arr[order]
    staffing = Staffing(
        provider=arr[:, 0].astype(np.int16),
        group=arr[:, 1].astype(np.int32),
        person=arr[:, 2].astype(np.int32),
        valid_from=arr[:, 3].astype(np.int32),
        valid_to=arr[:, 4].astype(np.int32),
        fte=arr[:, 5].astype(np.float64),
        target=targets,
    )
    staffing.caseworker_id = hex_ids(
        "FK-", mix32(staffing.person.astype(np.uint64), key ^ 0x5A5A), 8
    )
    return staffing


def assign_caseworkers(
    rng: np.random.Generator, groups: Groups, cases: Cases, staffing: Staffing, exported: int
) -> np.ndarray:
    """Staffing row of each case's responsible caseworker (the one in post at the case's end).

    Cases of an unstaffed group are served by the caseworkers of its donor group. The draw is
    weighted by FTE among the team in post on that day (the last team, during a vacancy).
    """
    n_groups = len(groups)
    big = np.int64(1 << 32)
    epoch_keys: list[np.ndarray] = []
    rosters: list[list[np.ndarray]] = []
    for gi in range(n_groups):
        rows = np.flatnonzero(staffing.group == gi)
        if len(rows) == 0:
            continue
        vf = staffing.valid_from[rows]
        vt = np.where(
            staffing.valid_to[rows] == NA, np.iinfo(np.int32).max - 1, staffing.valid_to[rows]
        )
        bounds = np.unique(np.concatenate([vf, vt + 1]))
        last = rows[:0]
        group_rosters = []
        for b in bounds:
            on = rows[(vf <= b) & (vt >= b)]
            if len(on) == 0:
                on = last if len(last) else rows[vf == vf.min()]
            group_rosters.append(on)
            last = on
        # before the first boundary: the first team
        group_rosters.insert(0, group_rosters[0])
        keys = np.concatenate([[gi * big], gi * big + bounds.astype(np.int64)])
        epoch_keys.append(keys)
        rosters.extend(group_rosters)
    keys = np.concatenate(epoch_keys)
    # all rosters flattened; a global running sum of FTE turns "draw a member of roster e weighted
    # by FTE" into one searchsorted over all cases
    counts = np.array([len(r) for r in rosters])
    flat = np.concatenate(rosters)
    running = np.cumsum(staffing.fte[flat])
    ends = np.cumsum(counts)
    before = np.concatenate([[0.0], running[ends[:-1] - 1]])
    total = running[ends - 1] - before
    serving = groups.donor[cases.group].astype(np.int64)
    ref = np.where(cases.closed == NA, exported, cases.closed).astype(np.int64)
    epoch = np.searchsorted(keys, serving * big + ref, side="right") - 1
    value = before[epoch] + rng.random(len(cases)) * total[epoch]
    pos = np.searchsorted(running, value, side="right")
    pos = np.clip(pos, ends[epoch] - counts[epoch], ends[epoch] - 1)
    return flat[pos]


def _simulate_team(
    rng: np.random.Generator, required: np.ndarray, start: int, exported: int, person_counter: int
) -> tuple[list[list], int]:
    """One group's team over the history: [person, fte, valid_from, valid_to, leave_day] rows."""
    days = len(required)

    team: list[list] = []  # [person, fte, from, to(NA), leave_day, hours_change_day(NA), new_fte]

    def fte_for(need: float) -> float:
        if need < 0.3:  # a small side group: a quarter position of someone from the main team
            return 0.25
        fits = max(need + 0.15, 0.5) >= FTE_OPTIONS
        ok, w = FTE_OPTIONS[fits], FTE_WEIGHTS[fits]
        return float(rng.choice(ok, p=w / w.sum()))

    def new_person(day: int, need: float, earliest: int) -> None:
        nonlocal person_counter
        fte = fte_for(need)
        tenure = int(365 * max(1.0, rng.exponential(4.0)))
        leave = max(day, earliest) + tenure
        # some change their hours once (parental leave return, reduction): a new row, same person
        change, new_fte = NA, fte
        if rng.random() < 0.2:
            change = max(day, earliest) + int(rng.integers(180, max(tenure, 181) + 1))
            new_fte = 0.75 if fte != 0.75 else (0.5 if rng.random() < 0.5 else 1.0)
        team.append([person_counter, fte, day, NA, leave, change, new_fte])
        person_counter += 1

    def current(day: int) -> float:
        return sum(m[1] for m in team if m[2] <= day and (m[3] == NA or m[3] >= day))

    # initial team: people already employed when the history starts
    need = required[0]
    while current(start) < need - 0.3 or not team:
        new_person(start - int(rng.integers(0, 400)), need - current(start), start)
    pending: list[int] = []  # start days of successors already recruited
    for t in range(0, days, 30):
        day = start + t
        mid = min(t + 15, days - 1)
        # changes of hours this month: the old row ends, a new row of the same person starts
        for m in list(team):
            if (
                m[3] == NA
                and m[5] != NA
                and day <= m[5] < day + 30
                and m[5] < m[4]
                and m[5] <= exported
            ):
                m[3] = int(m[5]) - 1
                team.append([m[0], m[6], int(m[5]), NA, m[4], NA, m[6]])
                m[4] = m[3]
        # departures this month; a successor starts weeks later (vacancy) or right away
        for m in team:
            if m[3] == NA and day <= m[4] < day + 30 and m[4] <= exported:
                m[3] = int(m[4])
                gap = 1 if rng.random() < 0.2 else int(rng.integers(14, 100))
                pending.append(m[3] + gap)
        for s in sorted(pending):
            if s < day + 30:
                pending.remove(s)
                if s <= exported:
                    new_person(s, required[min(s - start, days - 1)] - current(s), s)
        have = current(start + mid) + 0.75 * len(pending)
        need = required[mid]
        while have < need - 0.3:
            s = day + int(rng.integers(0, 30))
            if s > exported:
                break
            new_person(s, need - have, s)
            have += team[-1][1]
        if have > need + 0.6:
            staying = [m for m in team if m[3] == NA and m[2] <= day]
            if len(staying) > 1:
                m = staying[int(rng.integers(len(staying)))]
                end = day + int(rng.integers(0, 30))
                if end <= exported:
                    if m[1] == 1.0 and rng.random() < 0.5 and have - 0.25 > need - 0.3:
                        # reduction of hours: the same caseworker, a new row
                        m[3] = end
                        fte = 0.75 if rng.random() < 0.6 else 0.5
                        team.append([m[0], fte, end + 1, NA, m[4], NA, fte])
                    else:
                        m[3] = end
                        m[4] = end
    return team, person_counter


def _fine_tune(
    team: list[list], need: np.ndarray, sample: np.ndarray, window: np.ndarray, small: bool
) -> np.ndarray:
    """Set single FTEs (allowed values only) so that the FTE summed over the sample days of each
    window comes close to `need` (relative error summed over windows); returns the FTE-days
    reached per window. Greedy and deterministic."""
    options = np.concatenate([[0.25], FTE_OPTIONS]) if small else FTE_OPTIONS
    fte = np.array([m[1] for m in team], dtype=np.float64)
    vfrom = np.array([m[2] for m in team])
    vto = np.array([np.inf if m[3] == NA else m[3] for m in team])
    on = (vfrom[:, None] <= sample[None, :]) & (vto[:, None] >= sample[None, :])
    n_windows = len(need)
    on_days = np.stack([on[:, window == w].sum(axis=1) for w in range(n_windows)], axis=1)
    scale = np.maximum(need, 1.0)
    reached = (fte[:, None] * on_days).sum(axis=0)
    for _ in range(4 * len(team)):
        err = reached - need
        score = np.abs(err / scale).sum()
        if np.abs(err / scale).max() <= 0.01:
            break
        # (rows, options, windows): the errors after changing one row to one option
        delta = (options[None, :, None] - fte[:, None, None]) * on_days[:, None, :]
        new_score = np.abs((err[None, None, :] + delta) / scale).sum(axis=2)
        i, j = np.unravel_index(int(np.argmin(new_score)), new_score.shape)
        if new_score[i, j] >= score - 1e-9:
            break
        fte[i] = options[j]
        reached = reached + delta[i, j]
    for m, value in zip(team, fte, strict=True):
        m[1] = float(value)
    return reached
