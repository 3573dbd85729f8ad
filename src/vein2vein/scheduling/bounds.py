"""A lower bound on total days late that no plan can beat: Lagrangian relaxation of capacity.

The bound answers "how far can this plan be from the best one?" for instances too large to solve
whole. It is pure computation over the problem model (numpy; no database, no solver library).

The relaxation
--------------
Index the days from the plan's origin. Order ``j`` may start on a day ``t`` of its window
``[receipt (or today), receipt + max_hold]`` on its product's weekdays; it is then late by
``late_j(t) = max(0, t - s_j)`` days, where ``s_j = required_by - (process + qc + ship)`` is its
latest on-time start. In suite ``k`` it occupies the days ``[t, t + P_jk)`` (processing, then
changeover, plus decontamination after infectious material), not before ``k`` is available.

Suites fall into **classes** by the one property that decides who may use them: designated for
infectious material or not. For a class ``c`` let ``cap_c(d)`` be the number of its suites up on
day ``d`` (available, not down), less the batches already started there. Every valid plan
satisfies, for every class and day, ``#{batches occupying a suite of class c on day d} <=
cap_c(d)``: each such batch sits in its own suite of the class, and that suite is up (a batch and
its cleaning never overlap downtime). It still does with ``P_jc = min`` of ``P_jk`` over the
class' suites that may take ``j``, since that shorter interval lies inside the real one. Likewise at
most ``qc_capacity`` batches are in QC release testing on a day and at most
``max_starts_per_day`` start.

Dualise these three families of constraints with multipliers ``lambda(d) >= 0`` (Lagrangian
relaxation; Geoffrion 1974, Fisher 1981). For any plan ``x`` that places every order:

    days_late(x) >= days_late(x) + sum_d lambda(d) (usage_x(d) - cap(d))       (usage <= cap)
                 =  sum_j [late_j(t_j) + lambda-price of j's own usage] - sum_d lambda(d) cap(d)
                 >= sum_j m_j(lambda) - sum_d lambda(d) cap(d)  =:  L(lambda),

where ``m_j(lambda)`` is the least, over the classes and start days open to ``j``, of its lateness
plus the price of the days it would use. ``L(lambda)`` is therefore a lower bound for **every**
choice of non-negative multipliers: once they are chosen, ``L`` is evaluated exactly and its
validity does not depend on how they were found. Total days late is a whole number, so
``ceil(L)`` is a bound too. With all multipliers zero, ``L`` is the capacity-free floor (each
order alone, started as early as its window allows), so the bound never falls below the floor.
The best ``L`` over all multipliers equals the linear-programming relaxation of the time-indexed
formulation (Sousa and Wolsey 1992), since each order's subproblem has the integrality property
(Geoffrion 1974): a bound known to be strong for parallel-machine scheduling. It is approached by a
deflected subgradient method with a target level (Held, Wolfe and Crowder 1974; Camerini, Fratta
and Maffioli 1975) within a time budget, and the best ``L`` met is kept. On the generated
instance of 500 orders (seed 1) 1,600 steps reach 637.0 against 638.2 for that linear programme
solved whole with HiGHS (1 minute); a few hundred steps give about 630.

**Orders left unplaced.** Plans place as many orders as they can before anything else. A plan that
leaves a set ``X`` of orders unplaced satisfies the argument above without them, so its days late
is at least ``L(lambda) - sum_{j in X} m_j(lambda)`` (each ``m_j >= 0``). With ``unplaced = k`` the
bound subtracts the ``k`` largest ``m_j``: it then holds for every plan that leaves at most ``k``
orders unplaced, and so for the best plan whenever ``k`` is the count of a known plan (the best
plan leaves no more unplaced than any other).

Each order's subproblem is ``min_t late_j(t) + A(t)``, where ``A`` (the price of starting on day
``t``) depends only on the class, the durations and the weekdays, which many orders share. As
``late_j`` is zero up to ``s_j`` and ``t - s_j`` after, the minimum is a range minimum of ``A`` over
the on-time days and of ``t + A(t)`` over the late ones, each answered in constant time from a
sparse table (Bender and Farach-Colton 2000).

What the bound ignores (ignoring a constraint can only lower a bound, never invalidate it): which
suite of its class a batch takes (one count per class and day instead of no-overlap per suite, the
class' shortest cleaning), and the capacities holding for whole batches (the multipliers price
days, as a linear programme that may split a batch would). It keeps each order's window and hold,
start weekdays, the suites' availability and downtime (as fewer suites up), the split between
suites for infectious material and the others, batches already started, and the QC and staff
limits (as counts per day).

References
----------
- Geoffrion, A. M. (1974). Lagrangean relaxation for integer programming. *Mathematical
  Programming Study* 2: 82-114.
- Fisher, M. L. (1981). The Lagrangian relaxation method for solving integer programming problems.
  *Management Science* 27: 1-18.
- Sousa, J. P., Wolsey, L. A. (1992). A time indexed formulation of non-preemptive single machine
  scheduling problems. *Mathematical Programming* 54: 353-367.
- Held, M., Wolfe, P., Crowder, H. P. (1974). Validation of subgradient optimization.
  *Mathematical Programming* 6: 62-88.
- Camerini, P. M., Fratta, L., Maffioli, F. (1975). On improving relaxation methods by modified
  gradient techniques. *Mathematical Programming Study* 3: 26-34.
- Bender, M. A., Farach-Colton, M. (2000). The LCA problem revisited. *LATIN 2000*, LNCS 1776.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vein2vein.scheduling.instance import Instance, Job
from vein2vein.scheduling.model import Plan, Problem, relative_gap

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

METHOD = "lagrangian relaxation of suite-class, QC and staff capacity per day"
#: safety margin below the computed relaxation before rounding up (floating-point sums)
TOLERANCE = 1e-6
#: subgradient settings: steps without improvement before the target level halves, and the
#: share of the previous direction kept (deflection)
STALL_STEPS = 30
DEFLECTION = 0.9
#: once the target level has shrunk to nothing, start again from the best multipliers with the
#: first level times this factor to the number of restarts, at most this many times
RESTART_LEVEL = 0.1
RESTARTS = 4
#: time for the multipliers: this share of a solver's time limit, within these limits (seconds)
BOUND_SHARE = 0.1
BOUND_SECONDS = (0.2, 10.0)


def bound_seconds(time_limit: float) -> float:
    """Seconds of a solver's ``time_limit`` given to the search for multipliers."""
    low, high = BOUND_SECONDS
    return min(high, max(low, BOUND_SHARE * time_limit))


@dataclass(frozen=True)
class DaysLateBound:
    """A lower bound on total days late, the capacity-free floor, and how the bound was reached.

    ``value`` is the bound in whole days over every order (batches already started included) for
    plans that leave at most ``unplaced`` orders unplaced; ``floor`` is the capacity-free floor
    of the same plans (each order alone, started as early as its window allows), which ``value``
    never falls below; ``relaxation`` is the best Lagrangian value before rounding up;
    ``iterations`` and ``seconds`` are what the search for multipliers used.
    """

    value: int
    floor: int
    relaxation: float
    orders: int
    unplaced: int
    iterations: int
    seconds: float
    method: str = METHOD

    def to_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "floor": self.floor,
            "relaxation": round(self.relaxation, 3),
            "orders": self.orders,
            "unplaced": self.unplaced,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 3),
            "method": self.method,
        }


class _RangeMin:
    """Sparse table answering argmin over ranges of one array (Bender and Farach-Colton), built
    for ranges of up to ``longest`` elements."""

    def __init__(self, values: FloatArray, longest: int) -> None:
        self.values = values
        n = len(values)
        index = np.arange(n, dtype=np.int64)
        self.levels = [index]
        low = values
        width = 1
        while 2 * width <= min(n, longest):
            m = n - 2 * width + 1
            take_left = low[:m] <= low[width : width + m]
            low = np.where(take_left, low[:m], low[width : width + m])
            index = np.where(take_left, index[:m], index[width : width + m])
            self.levels.append(index)
            width *= 2

    def argmin(self, a: IntArray, b: IntArray) -> IntArray:
        """Index of the least of ``values[a..b]`` (both included, ``a <= b``), per query."""
        k = np.floor(np.log2(b - a + 1)).astype(np.int64)
        out = np.empty(len(a), dtype=np.int64)
        for level in np.unique(k):
            sel = k == level
            table = self.levels[int(level)]
            i1 = table[a[sel]]
            i2 = table[b[sel] - (1 << int(level)) + 1]
            out[sel] = np.where(self.values[i1] <= self.values[i2], i1, i2)
        return out


class _Relaxation:
    """The relaxed problem in arrays: one row per (order, suite class) open to it."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        classes = sorted({r.suite.infectious for r in inst.rooms})
        self.n_classes = len(classes)
        room_class = [classes.index(r.suite.infectious) for r in inst.rooms]
        movable = [j for j in inst.jobs if j.rooms and j.fixed_room is None]
        fixed = [j for j in inst.jobs if j.fixed_room is not None]
        self.constant = sum(max(0, j.lo + j.lead - j.due) for j in fixed)
        self.fixed = len(fixed)
        rows: list[tuple[int, ...]] = []
        weekday_sets: dict[frozenset[int] | None, int] = {None: 0}
        jobs: list[Job] = []
        for job in movable:
            weekdays = weekday_sets.setdefault(job.order.start_weekdays, len(weekday_sets))
            mine = []
            for c in range(self.n_classes):
                rooms = [inst.rooms[k] for k in job.rooms if room_class[k] == c]
                if not rooms:
                    continue
                lo = self._first_weekday(job, max(job.lo, min(r.available for r in rooms)))
                if lo <= job.hi:
                    occ = min(inst.occupation(job, r) for r in rooms)
                    mine.append((len(jobs), c, occ, job.p, job.q, weekdays, lo, job.hi))
            if mine:  # an order with no usable start in any class is never placed: not bounded
                rows += [(*row, job.due - job.lead) for row in mine]
                jobs.append(job)
        self.jobs = jobs
        self.n_jobs = len(jobs)
        self.weekday_sets = weekday_sets
        table = np.array(rows, dtype=np.int64).reshape(-1, 9)
        (self.job, self.cls, self.occ, self.p, self.q, self.weekdays, self.lo, self.hi, self.s) = (
            table.T.copy()
        )
        # the row of each (job, class), -1 where the class is closed to the job
        self.row_of = np.full((self.n_jobs, self.n_classes), -1, dtype=np.int64)
        self.row_of[self.job, self.cls] = np.arange(len(rows))
        self.floor_late = np.full(self.n_jobs, np.inf)
        np.minimum.at(self.floor_late, self.job, np.maximum(0, self.lo - self.s).astype(float))
        self.days = int(self.hi.max(initial=0)) + 1
        self.longest = int((self.hi - self.lo).max(initial=0)) + 1
        reach = int(max(self.occ.max(initial=0), (self.p + self.q).max(initial=0)))
        fixed_end = max((j.lo + j.p + j.q + 1 for j in fixed), default=1)
        self.horizon = max(self.days + reach + 1, fixed_end, 2)
        keys = np.stack([self.cls, self.occ, self.p, self.q, self.weekdays], axis=1)
        self.keys, key = np.unique(keys, axis=0, return_inverse=True)
        self.base = key.reshape(-1) * self.days  # where each row's price curve starts
        self._capacities(room_class, fixed)
        self.masks = self._weekday_masks()

    def _first_weekday(self, job: Job, t: int) -> int:
        for day in range(t, t + 7):
            if self.inst.weekday_ok(job.order, day):
                return day
        return job.hi + 1

    def _capacities(self, room_class: list[int], fixed: list[Job]) -> None:
        inst, horizon = self.inst, self.horizon
        cap = np.zeros((self.n_classes, horizon))
        for room in inst.rooms:
            up = np.zeros(horizon)
            up[max(0, min(room.available, horizon)) :] = 1.0
            for a, b in room.downtime:
                up[max(0, a) : max(0, min(b, horizon))] = 0.0
            cap[room_class[room.index]] += up
        qc = None if inst.qc_capacity is None else np.full(horizon, float(inst.qc_capacity))
        starts = None if inst.max_starts is None else np.full(horizon, float(inst.max_starts))
        for job in fixed:
            k, t = job.fixed_room, job.lo
            assert k is not None
            cap[room_class[k], t : t + inst.occupation(job, inst.rooms[k])] -= 1.0
            if qc is not None:
                qc[t + job.p : t + job.p + job.q] -= 1.0
            if starts is not None:
                starts[t] -= 1.0
        # Below zero (started batches that clash) is clamped: more capacity relaxes the problem,
        # so the bound stays valid.
        self.cap = np.maximum(cap, 0.0)
        self.qc_cap = None if qc is None else np.maximum(qc, 0.0)
        self.start_cap = None if starts is None else np.maximum(starts, 0.0)

    def _weekday_masks(self) -> FloatArray:
        """Per weekday set: 0 on the days a batch may start, +inf on the others."""
        masks = np.zeros((len(self.weekday_sets), self.days))
        days = (self.inst.origin.weekday() + np.arange(self.days)) % 7
        for allowed, n in self.weekday_sets.items():
            if allowed is not None:
                masks[n, ~np.isin(days, sorted(allowed))] = np.inf
        return masks

    def zeros(self) -> list[FloatArray]:
        """Multipliers at zero: suite classes, then QC and starts where limited."""
        out: list[FloatArray] = [np.zeros(self.cap.shape)]
        out += [np.zeros(self.horizon) for cap in (self.qc_cap, self.start_cap) if cap is not None]
        return out

    def _split(
        self, multipliers: list[FloatArray]
    ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
        rest = iter(multipliers[1:])
        qc = next(rest) if self.qc_cap is not None else None
        starts = next(rest) if self.start_cap is not None else None
        return multipliers[0], qc, starts

    def price(self, multipliers: list[FloatArray], unplaced: int) -> tuple[float, IntArray]:
        """``L`` at the multipliers (``unplaced`` costliest orders left out), and the row each
        order chooses in the relaxation (-1: left out); its start day is in ``self.day``."""
        lam, mu, nu = self._split(multipliers)
        n_days = self.days
        t = np.arange(n_days)
        prefix = np.zeros((self.n_classes, self.horizon + 1))
        np.cumsum(lam, axis=1, out=prefix[:, 1:])
        qc_prefix = None if mu is None else np.concatenate([[0.0], np.cumsum(mu)])
        curves = np.empty((len(self.keys), n_days))
        for n, (c, occ, p, q, weekdays) in enumerate(self.keys):
            a = prefix[c, t + occ] - prefix[c, t]
            if qc_prefix is not None:
                a += qc_prefix[t + p + q] - qc_prefix[t + p]
            if nu is not None:
                a += nu[:n_days]
            curves[n] = a + self.masks[weekdays]
        on_time = _RangeMin(curves.reshape(-1), self.longest)
        late = _RangeMin((curves + t).reshape(-1), self.longest)
        cost = np.full(len(self.base), np.inf)
        day = self.lo.copy()
        last_on_time = np.minimum(self.hi, self.s)
        sel = np.nonzero(self.lo <= last_on_time)[0]
        i = on_time.argmin(self.base[sel] + self.lo[sel], self.base[sel] + last_on_time[sel])
        cost[sel], day[sel] = on_time.values[i], i - self.base[sel]
        first_late = np.maximum(self.lo, self.s)
        sel = np.nonzero(first_late <= self.hi)[0]
        i = late.argmin(self.base[sel] + first_late[sel], self.base[sel] + self.hi[sel])
        late_cost = late.values[i] - self.s[sel]
        better = late_cost < cost[sel]
        cost[sel[better]], day[sel[better]] = late_cost[better], (i - self.base[sel])[better]
        self.day = day
        by_class = np.where(self.row_of >= 0, cost[np.maximum(self.row_of, 0)], np.inf)
        pick = np.argmin(by_class, axis=1)
        least = by_class[np.arange(self.n_jobs), pick]
        chosen = self.row_of[np.arange(self.n_jobs), pick]
        if unplaced > 0:
            dropped = np.argsort(least)[len(least) - unplaced :]
            least = least.copy()
            least[dropped] = 0.0
            chosen[dropped] = -1
        value = float(least.sum()) + self.constant - float((self.cap * lam).sum())
        if mu is not None and self.qc_cap is not None:
            value -= float((self.qc_cap * mu).sum())
        if nu is not None and self.start_cap is not None:
            value -= float((self.start_cap * nu).sum())
        return value, chosen

    def subgradient(self, chosen: IntArray) -> list[FloatArray]:
        """What the chosen rows use of each capacity, less that capacity, day by day."""
        rows = chosen[chosen >= 0]
        t = self.day[rows]
        h = self.horizon
        at = self.cls[rows] * (h + 1)
        size = self.n_classes * (h + 1)
        diff = np.bincount(at + t, minlength=size)
        diff -= np.bincount(at + t + self.occ[rows], minlength=size)
        used = np.cumsum(diff.reshape(self.n_classes, h + 1), axis=1)[:, :h]
        out: list[FloatArray] = [used.astype(np.float64) - self.cap]
        if self.qc_cap is not None:
            end = t + self.p[rows]
            d = np.bincount(end, minlength=h + 1) - np.bincount(end + self.q[rows], minlength=h + 1)
            out.append(np.cumsum(d)[:h].astype(np.float64) - self.qc_cap)
        if self.start_cap is not None:
            out.append(np.bincount(t, minlength=h)[:h].astype(np.float64) - self.start_cap)
        return out

    def floor(self, unplaced: int) -> int:
        late = np.sort(self.floor_late)
        kept = late[: len(late) - unplaced] if unplaced > 0 else late
        return int(kept.sum()) + self.constant


def days_late_bound(
    problem: Problem,
    *,
    unplaced: int = 0,
    placed: Collection[str] | None = None,
    time_limit: float = 2.0,
    max_iterations: int = 5000,
    target: float | None = None,
    instance: Instance | None = None,
) -> DaysLateBound:
    """A lower bound on the total days late of every plan of ``problem`` that leaves at most
    ``unplaced`` orders unplaced (orders no suite can take at all are not counted), batches
    already started included; the module's documentation gives the proof. ``placed`` (the order
    ids a plan placed) sets ``unplaced`` to the number of the other orders some suite could take.

    The multipliers are searched for at most ``time_limit`` seconds or ``max_iterations`` steps;
    ``target`` (the days late of a known plan) sets the first step and ends the search once the
    bound reaches it (that plan is then proven optimal in days late). ``instance`` is the
    compiled problem when the caller has it already.
    """
    clock = time.perf_counter()
    relax = _Relaxation(instance or Instance(problem))
    if placed is not None:
        ids = set(placed)
        unplaced = sum(1 for j in relax.jobs if j.order.order_id not in ids)
    unplaced = max(0, min(unplaced, relax.n_jobs))
    floor = relax.floor(unplaced)
    orders = relax.n_jobs + relax.fixed
    if relax.n_jobs == 0:
        return DaysLateBound(floor, floor, float(floor), orders, unplaced, 0, _since(clock))
    multipliers = relax.zeros()
    direction = relax.zeros()
    best, best_multipliers = -math.inf, multipliers
    first: float | None = None
    level = 0.0
    stall = iterations = restarts = 0
    deadline = clock + time_limit
    while iterations < max_iterations and time.perf_counter() < deadline:
        value, chosen = relax.price(multipliers, unplaced)
        iterations += 1
        if value > best + 1e-9:
            best, best_multipliers, stall = value, multipliers, 0
        else:
            stall += 1
        if target is not None and math.ceil(best - TOLERANCE) >= target:
            break
        if first is None:  # the first target level: the way to the known plan, or a guess
            first = level = max(1.0, (target - value) if target is not None else relax.n_jobs)
        if stall >= STALL_STEPS:
            level, stall = level / 2, 0
            if level < 1e-4 * first:
                # stalled: start again from the best multipliers with a smaller target level
                restarts += 1
                if restarts > RESTARTS:
                    break
                level = first * RESTART_LEVEL**restarts
                multipliers, direction = best_multipliers, relax.zeros()
                continue
        # Deflected subgradient (Camerini, Fratta, Maffioli), projected so that a multiplier at
        # zero whose constraint has slack stays at zero; Polyak's step towards best + level.
        gradient = relax.subgradient(chosen)
        direction = [
            _project(g + DEFLECTION * d, m)
            for g, d, m in zip(gradient, direction, multipliers, strict=True)
        ]
        norm = sum(float((d * d).sum()) for d in direction)
        if norm == 0.0:
            break  # the relaxed choices fit every capacity: L is the relaxation's optimum
        step = (best + level - value) / norm
        multipliers = [
            np.maximum(0.0, m + step * d) for m, d in zip(multipliers, direction, strict=True)
        ]
    relaxation = max(best, float(floor))
    # no step taken (the time was gone before the first pricing: a starved solver on a busy
    # machine): the floor is the bound, never an error
    value = max(floor, math.ceil(best - TOLERANCE)) if math.isfinite(best) else floor
    return DaysLateBound(value, floor, relaxation, orders, unplaced, iterations, _since(clock))


def plan_days_late(problem: Problem, plan: Plan) -> int:
    """Total days late of the plan's batches (delivery after ``required_by``)."""
    by_id = problem.order_by_id
    return sum(
        max(0, (a.ship - by_id[a.order_id].required_by).days)
        for a in plan.assignments
        if a.order_id in by_id
    )


def with_days_late_bound(
    problem: Problem, plan: Plan, *, time_limit: float = 1.0, bound: DaysLateBound | None = None
) -> Plan:
    """``plan`` with its ``info`` reporting a lower bound on days late and the gap to it.

    The bound holds for every plan that leaves no more orders unplaced than this one (the best
    plan among them); ``bound`` is one computed already for that count.
    """
    if plan.info is None:
        return plan
    late = plan_days_late(problem, plan)
    if bound is None:
        placed = [a.order_id for a in plan.assignments]
        bound = days_late_bound(problem, placed=placed, time_limit=time_limit, target=late)
    info = dataclasses.replace(
        plan.info,
        lower_bound_days_late=bound.value,
        days_late_gap=relative_gap(late, bound.value),
        bound=bound.to_dict(),
    )
    return dataclasses.replace(plan, info=info)


def _project(direction: FloatArray, at: FloatArray) -> FloatArray:
    return np.where((at <= 0.0) & (direction < 0.0), 0.0, direction)


def _since(clock: float) -> float:
    return time.perf_counter() - clock
