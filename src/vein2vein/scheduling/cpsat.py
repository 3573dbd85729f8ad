"""CP-SAT model of the capacity plan (OR-Tools), solved whole or by time windows.

The model: one start variable per order and, per eligible suite, an optional fixed-size interval
that covers processing plus that suite's changeover (plus decontamination after infectious
material) and is present when the batch goes there. Per suite, a no-overlap constraint over those
intervals, the suite's downtime and the batches that cannot move; one cumulative constraint over
the QC release intervals ``[end, release)`` with the laboratory's capacity; one over one-day start
intervals when staff limit the starts per day. Starts lie in ``[receipt, receipt + max_hold]``
on the product's start weekdays; batches already started are fixed. Each search is hinted by a
complete plan (the best of the greedy and the dispatching ones by default) and runs under a
time limit.

Up to ``FULL_MODEL_LIMIT`` movable orders the whole model is solved. Beyond that the presolve and
search of the whole model do not improve on the hint within a minute on two cores, so the plan
is improved window by window along time (a rolling-horizon large-neighbourhood search): the
orders of one window are re-optimised exactly, everything else held where it is, windows ranked
by how much they can gain, passes repeated while time remains, days late first. The objectives
are sums over orders, so a better window is a better plan.

Either way the gaps are measured against the better of CP-SAT's own bound and two proofs made
before the search: the Lagrangian relaxation's lower bound on days late
(:mod:`vein2vein.scheduling.bounds`) and, when the starting plan leaves orders unplaced, the
fewest unplaced among the short-hold orders competing for the same suites, solved exactly on
their own. Before these, the window search had only the capacity-free floor (every order started
on receipt), and its gap read 1.000.

References: Laborie, Rogerie, Shaw, Vilím, "IBM ILOG CP optimizer for scheduling", Constraints
23 (2018), for optional intervals as alternative resources; Pisinger and Ropke, "Large
neighborhood search", Handbook of Metaheuristics (2010), for the window decomposition; the
OR-Tools CP-SAT documentation for ``NoOverlap``, ``Cumulative`` and solution hints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from vein2vein.core.errors import RuleViolation
from vein2vein.scheduling.bounds import DaysLateBound, bound_seconds, days_late_bound
from vein2vein.scheduling.dispatch import dispatch_plan
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.instance import Instance, Job
from vein2vein.scheduling.model import (
    LevelResult,
    Plan,
    Problem,
    SolveInfo,
    Unscheduled,
    relative_gap,
    solved_plan,
)
from vein2vein.scheduling.objectives import Objectives

FULL_MODEL_LIMIT = 300
WINDOW_ORDERS = 40
WINDOW_SLACK_DAYS = 14
WINDOW_SECONDS = 0.5
# Windows search days late first; the later objectives get this last share of the time.
POLISH_SHARE = 0.25
# Look-ahead parameters of the apparent-tardiness-cost dispatching plans tried as starts.
ATC_LOOK_AHEAD = (0.5, 1.0)
# Proving orders unplaceable: clusters of orders holding material at most this many days, and
# at most this long per cluster (seconds).
PROOF_HOLD_DAYS = 14
PROOF_SECONDS = 0.5

# Share of the remaining time each lexicographic level gets, relative to the levels after it.
LEVEL_SHARE: Mapping[str, float] = {
    "unscheduled": 1.0,
    "days_late": 4.0,
    "changes": 2.0,
    "vein_to_vein": 3.0,
    "makespan": 0.5,
}

Choice = tuple[int, int]  # (room index, start day)


@dataclass(frozen=True)
class SolveProgress:
    """What the search has reached, for progress displays."""

    stage: str
    elapsed: float
    time_limit: float
    objective: float | None
    bound: float | None
    solutions: int


ProgressFn = Callable[[SolveProgress], None]


@dataclass
class _Blocks:
    """What movable batches must work around: busy room windows, QC load, start days."""

    room: list[list[tuple[int, int]]]
    qc: list[tuple[int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)


def _blocks(
    inst: Instance, held: Iterable[tuple[Job, Choice]], span: tuple[int, int] | None = None
) -> _Blocks:
    """Downtime plus the batches held in place; with ``span``, only what meets ``[a, b)``."""

    def meets(start: int, size: int) -> bool:
        return span is None or (start < span[1] and start + size > span[0])

    blocks = _Blocks(
        room=[[(a, b - a) for a, b in r.downtime if meets(a, b - a)] for r in inst.rooms]
    )
    for job, (k, t) in held:
        size = inst.occupation(job, inst.rooms[k])
        if meets(t, size):
            blocks.room[k].append((t, size))
        if job.q > 0 and meets(t + job.p, job.q):
            blocks.qc.append((t + job.p, job.q))
        if meets(t, 1):
            blocks.starts.append(t)
    return blocks


class _Model:
    """CP-SAT model of ``jobs`` around fixed ``blocks``, one linear expression per objective."""

    def __init__(
        self,
        inst: Instance,
        jobs: Sequence[Job],
        blocks: _Blocks,
        published: Mapping[int, Choice],
        window: tuple[int, int] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> None:
        self.inst, self.jobs = inst, list(jobs)
        self.bounds = dict(bounds or {})
        m = self.model = cp_model.CpModel()
        self.start: dict[int, cp_model.IntVar] = {}
        self.lits: dict[int, dict[int, cp_model.IntVar]] = {}
        self.placed: dict[int, cp_model.IntVar] = {}
        self.late: dict[int, cp_model.IntVar] = {}
        self.same: dict[int, cp_model.IntVar] = {}
        self.published = published
        rooms: list[list[cp_model.IntervalVar]] = [[] for _ in inst.rooms]
        qc: list[cp_model.IntervalVar] = []
        starts: list[cp_model.IntervalVar] = []
        for job in self.jobs:
            i = job.index
            lo, hi = job.lo, job.hi
            if window is not None:
                lo, hi = max(lo, window[0]), min(hi, window[1])
            domain = self._domain(job, lo, hi)
            usable = not domain.is_empty()
            if not usable:  # nothing in this window: the job stays unplaced here
                domain = cp_model.Domain(job.lo, job.lo)
            s = self.start[i] = m.new_int_var_from_domain(domain, f"s{i}")
            placed = self.placed[i] = m.new_bool_var(f"p{i}")
            self.lits[i] = {}
            for k in job.rooms:
                room = inst.rooms[k]
                first = max(room.available, inst.room_lo(job, room))
                if first > hi or not usable:
                    continue
                lit = self.lits[i][k] = m.new_bool_var(f"x{i}_{k}")
                if first > lo:
                    m.add(s >= first).only_enforce_if(lit)
                size = inst.occupation(job, room)
                rooms[k].append(m.new_optional_fixed_size_interval_var(s, size, lit, ""))
            m.add(sum(self.lits[i].values()) == placed)
            if inst.qc_capacity is not None and job.q > 0:
                qc.append(m.new_optional_fixed_size_interval_var(s + job.p, job.q, placed, ""))
            if inst.max_starts is not None:
                starts.append(m.new_optional_fixed_size_interval_var(s, 1, placed, ""))
            late = self.late[i] = m.new_int_var(0, max(0, hi + job.lead - job.due), f"l{i}")
            m.add(late >= s + job.lead - job.due)
            if i in published and published[i][0] in self.lits[i] and lo <= published[i][1] <= hi:
                same = self.same[i] = m.new_bool_var(f"same{i}")
                m.add(s == published[i][1]).only_enforce_if(same)
                m.add_implication(same, self.lits[i][published[i][0]])

        for k, intervals in enumerate(rooms):
            if intervals:
                fixed = [m.new_fixed_size_interval_var(a, n, "") for a, n in blocks.room[k]]
                m.add_no_overlap(intervals + fixed)
        if qc and inst.qc_capacity is not None:
            fixed = [m.new_fixed_size_interval_var(a, n, "") for a, n in blocks.qc]
            m.add_cumulative(qc + fixed, [1] * (len(qc) + len(fixed)), inst.qc_capacity)
        if starts and inst.max_starts is not None:
            fixed = [m.new_fixed_size_interval_var(a, 1, "") for a in blocks.starts]
            m.add_cumulative(starts + fixed, [1] * (len(starts) + len(fixed)), inst.max_starts)

        self.makespan = m.new_int_var(0, inst.horizon + max((j.q for j in jobs), default=0), "ms")
        for job in self.jobs:
            end = self.start[job.index] + job.p + job.q
            m.add(self.makespan >= end).only_enforce_if(self.placed[job.index])
        movable_published = [i for i in published if i in self.placed]
        self.exprs: dict[str, cp_model.LinearExprT] = {
            "unscheduled": sum(1 - self.placed[j.index] for j in self.jobs),
            "days_late": sum(self.late.values()),
            "vein_to_vein": sum(self.start[j.index] + (j.lead - j.receipt) for j in self.jobs),
            "makespan": self.makespan,
            "changes": len(movable_published) - sum(self.same.values()),
        }

    def _domain(self, job: Job, lo: int, hi: int) -> cp_model.Domain:
        if hi < lo:
            return cp_model.Domain.from_values([])
        if job.order.start_weekdays is None:
            return cp_model.Domain(lo, hi)
        days = [t for t in range(lo, hi + 1) if self.inst.weekday_ok(job.order, t)]
        return cp_model.Domain.from_values(days)

    def hint(self, current: Mapping[int, Choice]) -> None:
        m = self.model
        m.clear_hints()
        ends = [0]
        for job in self.jobs:
            i = job.index
            choice = current.get(i)
            m.add_hint(self.placed[i], choice is not None)
            for k, lit in self.lits[i].items():
                m.add_hint(lit, choice is not None and choice[0] == k)
            t = choice[1] if choice is not None else self.start[i].proto.domain[0]
            m.add_hint(self.start[i], t)
            m.add_hint(self.late[i], max(0, t + job.lead - job.due))
            if i in self.same:
                m.add_hint(self.same[i], choice == self.published[i])
            if choice is not None:
                ends.append(t + job.p + job.q)
        m.add_hint(self.makespan, max(ends))

    def values(self, solver: cp_model.CpSolver) -> dict[int, Choice]:
        out: dict[int, Choice] = {}
        for job in self.jobs:
            for k, lit in self.lits[job.index].items():
                if solver.boolean_value(lit):
                    out[job.index] = (k, solver.value(self.start[job.index]))
                    break
        return out

    def earliest(self, job: Job) -> int:
        return int(self.start[job.index].proto.domain[0])

    def evaluate(self, name: str, current: Mapping[int, Choice]) -> int:
        return _value(name, self.jobs, current, self.published, self.earliest)

    def floor(self, name: str) -> int | None:
        """A value of ``name`` no plan of these jobs beats: the obvious floor, or a bound known
        for the whole problem (the relaxation's, on days late)."""
        possible = set(self.same)
        floor = _floor(name, self.jobs, self.published, self.earliest, possible)
        known = self.bounds.get(name)
        if known is None:
            return floor
        return known if floor is None else max(floor, known)


def _value(
    name: str,
    jobs: Sequence[Job],
    current: Mapping[int, Choice],
    published: Mapping[int, Choice],
    earliest: Callable[[Job], int],
) -> int:
    """Value of objective ``name`` over ``jobs`` at ``current`` (unplaced jobs at ``earliest``)."""
    starts = {j.index: current[j.index][1] if j.index in current else earliest(j) for j in jobs}
    if name == "unscheduled":
        return sum(1 for j in jobs if j.index not in current)
    if name == "days_late":
        return sum(max(0, starts[j.index] + j.lead - j.due) for j in jobs)
    if name == "vein_to_vein":
        return sum(starts[j.index] + j.lead - j.receipt for j in jobs)
    if name == "makespan":
        return max((starts[j.index] + j.p + j.q for j in jobs if j.index in current), default=0)
    return sum(
        1 for j in jobs if j.index in published and current.get(j.index) != published[j.index]
    )


def _floor(
    name: str,
    jobs: Sequence[Job],
    published: Mapping[int, Choice],
    earliest: Callable[[Job], int],
    keepable: set[int],
) -> int | None:
    """A value of objective ``name`` that no plan of ``jobs`` beats, when one is obvious."""
    if name == "unscheduled":
        return 0
    if name == "days_late":
        return sum(max(0, earliest(j) + j.lead - j.due) for j in jobs)
    if name == "vein_to_vein":
        return sum(earliest(j) + j.lead - j.receipt for j in jobs)
    if name == "changes":
        return sum(1 for j in jobs if j.index in published and j.index not in keepable)
    return None


class _Watch(cp_model.CpSolverSolutionCallback):
    def __init__(self, on_solution: Callable[[float, float, int], None]) -> None:
        super().__init__()
        self.on_solution = on_solution
        self.count = 0

    def on_solution_callback(self) -> None:
        self.count += 1
        self.on_solution(self.objective_value, self.best_objective_bound, self.count)


_STATUS = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.MODEL_INVALID: "MODEL_INVALID",
    cp_model.UNKNOWN: "UNKNOWN",
}


@dataclass
class _Run:
    """Settings and running state shared by every search of one ``solve_cpsat`` call."""

    clock: float
    time_limit: float
    num_workers: int
    seed: int
    progress: ProgressFn | None
    current: dict[int, Choice]
    first_solution: float | None = None
    solutions: int = 0

    @property
    def deadline(self) -> float:
        return self.clock + self.time_limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.clock

    def report(self, stage: str, objective: float | None, bound: float | None) -> None:
        if self.progress is not None:
            self.progress(
                SolveProgress(
                    stage, self.elapsed(), self.time_limit, objective, bound, self.solutions
                )
            )

    def solve(
        self,
        model: _Model,
        name: str,
        expr: cp_model.LinearExprT,
        budget: float,
        stage: str | None,
    ) -> LevelResult:
        """Minimise ``expr`` from the current solution; adopt what the solver finds."""
        m = model.model
        m.minimize(expr)
        model.hint(self.current)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, budget)
        solver.parameters.num_workers = self.num_workers
        solver.parameters.random_seed = self.seed
        # Probing the many presence literals costs seconds per round on large models before the
        # hint is even taken up; the search makes better use of that time.
        solver.parameters.cp_model_probing_level = 0

        def seen(objective: float, bound: float, count: int) -> None:
            self.solutions += 1
            if self.first_solution is None:
                self.first_solution = self.elapsed()
            if stage is not None:
                self.report(stage, objective, bound)

        started = time.perf_counter()
        status = solver.solve(m, _Watch(seen))
        seconds = time.perf_counter() - started
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {m.validate()}")
        if status == cp_model.INFEASIBLE:
            started = [j.order for j in model.inst.jobs if j.order.fixed is not None]
            named = "; ".join(
                f"order {o.order_id} in suite {o.fixed.suite_id} from {o.fixed.start}"
                for o in started[:5]
                if o.fixed is not None
            )
            raise RuleViolation(
                "no plan satisfies the hard rules: the batches already in manufacturing ("
                + (named or "none")
                + (f" and {len(started) - 5} more" if len(started) > 5 else "")
                + ") clash with each other, with downtime or with a capacity limit"
            )
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            for job in model.jobs:
                self.current.pop(job.index, None)
            self.current.update(model.values(solver))
            value = float(solver.objective_value)
        else:
            value = float(model.evaluate(name, self.current)) if name in model.exprs else 0.0
        bound = min(float(solver.best_objective_bound), value)
        return LevelResult(name, value, bound, _STATUS.get(status, "UNKNOWN"), seconds)

    def levels(
        self, model: _Model, objectives: Objectives, until: float, stage: str | None = ""
    ) -> list[LevelResult]:
        """Optimise ``model`` by ``objectives`` until ``until`` (a ``perf_counter`` time)."""
        names = list(objectives.levels)
        if objectives.mode == "weighted":
            expr = sum(objectives.weights.get(n, 0) * model.exprs[n] for n in names)
            budget = until - time.perf_counter()
            label = "weighted" if stage == "" else stage
            result = self.solve(model, "weighted", expr, budget, label)
            if result.status not in ("OPTIMAL", "FEASIBLE"):  # value of the hint kept
                value = sum(
                    objectives.weights.get(n, 0) * model.evaluate(n, self.current) for n in names
                )
                result = dataclasses.replace(result, value=float(value), bound=0.0)
            return [result]
        results = []
        for number, name in enumerate(names):
            expr = model.exprs[name]
            value = model.evaluate(name, self.current)
            floor = model.floor(name)
            remaining = until - time.perf_counter()
            if floor is not None and value <= floor:
                result = LevelResult(name, float(value), float(floor), "OPTIMAL", 0.0)
            elif remaining < 0.05:
                bound = float(floor) if floor is not None else 0.0
                result = LevelResult(name, float(value), bound, "NOT_RUN", 0.0)
            else:
                later = sum(LEVEL_SHARE[n] for n in names[number:])
                budget = remaining * LEVEL_SHARE[name] / later
                result = self.solve(model, name, expr, budget, name if stage == "" else stage)
            results.append(result)
            model.model.add(expr <= round(result.value))
        return results


def solve_cpsat(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    num_workers: int = 2,
    objectives: Objectives | None = None,
    hint: Plan | None = None,
    published: Mapping[str, tuple[str, dt.date]] | None = None,
    progress: ProgressFn | None = None,
    seed: int = 0,
    strategy: str = "auto",
) -> Plan:
    """Optimise the plan of ``problem`` with CP-SAT within ``time_limit`` wall-clock seconds
    (model building included).

    ``hint`` is a complete plan that satisfies the hard rules, to start from (default: the better
    of the greedy and the due-date dispatching plans). ``published`` maps order ids to the
    (suite id, start) of a published plan; the
    ``changes`` objective counts the batches that leave it. ``strategy`` is ``full`` (one model),
    ``windows`` (rolling-horizon neighbourhoods) or ``auto`` (full up to ``FULL_MODEL_LIMIT``
    movable orders). The plan returned is the best found; ``info.gap`` is the relative gap of the
    most important objective not proven optimal.
    """
    clock = time.perf_counter()
    objectives = objectives or Objectives()
    if not published:
        objectives = objectives.without("changes")
    if strategy not in ("auto", "full", "windows"):
        raise ValueError(f"unknown strategy {strategy!r}")
    inst = Instance(problem)
    start_plan = hint if hint is not None else _best_start(inst, problem)
    jobs_by_id = {j.order.order_id: j for j in inst.jobs}
    current = _choices(inst, start_plan)
    fixed = [j for j in inst.jobs if j.fixed_room is not None]
    for job in fixed:
        current[job.index] = (job.fixed_room, job.lo)  # type: ignore[assignment]
    published_idx = {
        jobs_by_id[oid].index: (inst.room_by_id[sid].index, inst.day(start))
        for oid, (sid, start) in (published or {}).items()
        if oid in jobs_by_id and sid in inst.room_by_id
    }
    movable = [j for j in inst.jobs if j.rooms and j.fixed_room is None]
    run = _Run(clock, time_limit, num_workers, seed, progress, current)
    if strategy == "auto":
        strategy = "full" if len(movable) <= FULL_MODEL_LIMIT else "windows"
    held = [(j, current[j.index]) for j in fixed]
    # The relaxation's bound first (its share of the time limit): it holds for every plan that
    # leaves no more orders unplaced than the starting plan, so for every plan the search keeps.
    fixed_late = sum(max(0, j.lo + j.lead - j.due) for j in fixed)
    start_late = fixed_late + sum(
        max(0, current[j.index][1] + j.lead - j.due) for j in movable if j.index in current
    )
    bound = days_late_bound(
        problem,
        placed=[inst.jobs[i].order.order_id for i in current],
        time_limit=bound_seconds(time_limit),
        target=start_late,
        instance=inst,
    )
    relaxed = {
        "days_late": bound.value - fixed_late,  # in the model's terms: movable orders
        "unscheduled": _unplaced_bound(run, inst, movable, held),
    }
    if not movable:
        levels: list[LevelResult] = []
    elif strategy == "full":
        model = _Model(inst, movable, _blocks(inst, held), published_idx, bounds=relaxed)
        levels = run.levels(model, objectives, run.deadline)
    else:
        levels = _by_windows(run, inst, movable, published_idx, objectives, relaxed)
    levels = [_with_bound(lv, relaxed) for lv in levels]
    gap = next((lv.gap for lv in levels if lv.status != "OPTIMAL"), 0.0)
    status = "OPTIMAL" if all(lv.status == "OPTIMAL" for lv in levels) else "FEASIBLE"
    assignments = tuple(
        inst.assignment(inst.jobs[i], inst.rooms[k], t) for i, (k, t) in run.current.items()
    )
    late = fixed_late + sum(
        max(0, t + inst.jobs[i].lead - inst.jobs[i].due)
        for i, (_, t) in run.current.items()
        if inst.jobs[i].fixed_room is None
    )
    lower = _days_late_lower_bound(inst, movable, run.current, levels, bound, fixed_late)
    return solved_plan(
        problem,
        assignments=tuple(sorted(assignments, key=lambda a: (a.start, a.suite_id, a.order_id))),
        unscheduled=_unscheduled(inst, run.current),
        info=SolveInfo(
            method="cpsat",
            status=status,
            wall_seconds=time.perf_counter() - clock,
            first_feasible_seconds=run.first_solution,
            gap=gap,
            levels=tuple(levels),
            options={
                "time_limit": time_limit,
                "num_workers": num_workers,
                "seed": seed,
                "strategy": strategy,
                "objectives": objectives.mode,
                "levels": list(objectives.levels),
                "hint": start_plan.info.method if start_plan.info else "given",
                "bound": ("cp-sat and " if strategy == "full" else "")
                + "lagrangian relaxation of capacity (days late)",
            },
            lower_bound_days_late=lower,
            days_late_gap=relative_gap(late, lower),
            bound=bound.to_dict(),
        ),
    )


def _with_bound(level: LevelResult, known: Mapping[str, int]) -> LevelResult:
    """``level`` with the bound known for its objective when better (then maybe proven)."""
    proven = known.get(level.name)
    if proven is None or proven <= level.bound:
        return level
    bound = min(float(proven), level.value)
    status = "OPTIMAL" if bound >= level.value else level.status
    return dataclasses.replace(level, bound=bound, status=status)


def _unplaced_bound(
    run: _Run, inst: Instance, movable: Sequence[Job], held: Sequence[tuple[Job, Choice]]
) -> int:
    """How many orders every plan leaves unplaced, at least, proven on small relaxations.

    For each order the plan leaves unplaced, the orders with a short hold that could use the same
    suites at the same time form a cluster (clusters that share an order merge). Each cluster is
    solved exactly on its own, with the started batches and downtime but without any other
    order, which only makes room: the fewest unplaced there is a lower bound for the cluster in
    every plan, and the clusters are disjoint, so their sum bounds the total.
    """
    unplaced = [j for j in movable if j.index not in run.current]
    if not unplaced:
        return 0

    def reach(job: Job) -> tuple[int, int]:
        longest = max(inst.occupation(job, inst.rooms[k]) for k in job.rooms)
        return job.lo, job.hi + longest

    short = [j for j in movable if j.hi - j.lo <= PROOF_HOLD_DAYS]
    clusters: list[set[int]] = []
    for u in unplaced:
        a, b = reach(u)
        members = {u.index} | {
            j.index
            for j in short
            if set(j.rooms) & set(u.rooms) and reach(j)[0] < b and a < reach(j)[1]
        }
        for other in [c for c in clusters if c & members]:
            members |= other
            clusters.remove(other)
        clusters.append(members)
    total = 0
    for members in clusters:
        if time.perf_counter() + PROOF_SECONDS >= run.deadline:
            break
        model = _Model(inst, [inst.jobs[i] for i in sorted(members)], _blocks(inst, held), {})
        model.model.minimize(model.exprs["unscheduled"])
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = PROOF_SECONDS
        solver.parameters.num_workers = run.num_workers
        status = solver.solve(model.model)
        if status == cp_model.OPTIMAL:
            total += round(solver.objective_value)
        elif status == cp_model.FEASIBLE:
            total += max(0, math.ceil(solver.best_objective_bound - 1e-6))
    return total


def _days_late_lower_bound(
    inst: Instance,
    movable: Sequence[Job],
    current: Mapping[int, Choice],
    levels: Sequence[LevelResult],
    bound: DaysLateBound,
    fixed_late: int,
) -> int:
    """The better of the relaxation's bound and the solver's own on total days late.

    CP-SAT's bound is on the model's days-late objective over movable orders, where an unplaced
    order counts its lateness on the first day of its start domain; a plan leaving at most as many
    unplaced has total days late at least that bound, plus the started batches' lateness, less
    the largest such lateness of as many orders.
    """
    level = next((lv for lv in levels if lv.name == "days_late"), None)
    if level is None:
        return bound.value
    unplaced = sum(1 for j in movable if j.index not in current)
    floors = sorted((max(0, _first_day(inst, j) + j.lead - j.due) for j in movable), reverse=True)
    own = math.ceil(level.bound - 1e-6) + fixed_late - sum(floors[:unplaced])
    return max(bound.value, own)


def _best_start(inst: Instance, problem: Problem) -> Plan:
    """The lexicographically best of the first-come-first-served plan and the dispatching plans
    (earliest due date and apparent tardiness cost)."""
    jobs = [j for j in inst.jobs if j.rooms]

    def rank(plan: Plan) -> tuple[int, int, int]:
        current = _choices(inst, plan)
        return (
            _value("unscheduled", jobs, current, {}, lambda j: j.lo),
            _value("days_late", jobs, current, {}, lambda j: j.lo),
            _value("vein_to_vein", jobs, current, {}, lambda j: j.lo),
        )

    starts = [greedy_plan(problem), dispatch_plan(problem)]
    starts += [dispatch_plan(problem, rule="atc", k=k) for k in ATC_LOOK_AHEAD]
    return min(starts, key=rank)


def _choices(inst: Instance, plan: Plan) -> dict[int, Choice]:
    index = {j.order.order_id: j.index for j in inst.jobs}
    return {
        index[a.order_id]: (inst.room_by_id[a.suite_id].index, inst.day(a.start))
        for a in plan.assignments
        if a.order_id in index and a.suite_id in inst.room_by_id
    }


def _by_windows(
    run: _Run,
    inst: Instance,
    movable: Sequence[Job],
    published: Mapping[int, Choice],
    objectives: Objectives,
    known: Mapping[str, int],
) -> list[LevelResult]:
    """Improve ``run.current`` window by window until time runs out or nothing improves."""
    clock = time.perf_counter()
    names = list(objectives.levels)
    shown = "days_late" if "days_late" in names else names[0]

    def earliest(job: Job) -> int:
        return job.lo

    def key(job: Job) -> int:
        choice = run.current.get(job.index)
        return choice[1] if choice is not None else job.lo

    def score(jobs: Sequence[Job]) -> tuple[int, ...]:
        return tuple(
            _value(n, jobs, run.current, published, earliest)
            - (_floor(n, jobs, published, earliest, set(published)) or 0)
            for n in searching.levels
            if n != "makespan"
        )

    def proven(objectives: Objectives) -> bool:
        """Whether every level searched is at a known bound already (nothing to gain)."""
        return all(
            n in known and _value(n, movable, run.current, published, earliest) <= known[n]
            for n in objectives.levels
        )

    reach = max(j.p for j in movable) + inst.turnaround_max + max(j.q for j in movable) + 1
    size, passes, solved = WINDOW_ORDERS, 0, 0
    tried: set[tuple[tuple[int, Choice | None], ...]] = set()
    # Lexicographic: the levels up to days late first; the later ones (vein-to-vein, makespan)
    # in the last share of the time, when windows stop finding days to save, or both at once
    # when days late are not among the objectives.
    late_first = objectives
    if objectives.mode == "lexicographic" and "days_late" in names[:-1]:
        cut = names.index("days_late") + 1
        late_first = Objectives(objectives.mode, tuple(names[:cut]), objectives.weights)
    polish_at = run.deadline - POLISH_SHARE * max(0.0, run.deadline - time.perf_counter())
    searching = late_first
    while time.perf_counter() < run.deadline - 0.1:
        if searching is not objectives and (
            time.perf_counter() >= polish_at
            or size > max(2 * WINDOW_ORDERS, len(movable))
            or proven(searching)
        ):
            searching, size, passes = objectives, WINDOW_ORDERS, 0
            tried.clear()
        elif size > max(2 * WINDOW_ORDERS, len(movable)):
            break
        ordered = sorted(movable, key=lambda j: (key(j), j.index))
        step = max(1, size // 2)
        offset = (step // 2) if passes % 2 else 0
        firsts = range(-offset, len(ordered) - step + 1 if len(ordered) > size else 1, step)
        windows = [ordered[max(0, f) : f + size] for f in firsts]
        ranked = sorted(((score(w), w) for w in windows), key=lambda sw: sw[0], reverse=True)
        improved = False
        for potential, window in ranked:
            now = time.perf_counter()
            if now >= run.deadline - 0.1 or (searching is not objectives and now >= polish_at):
                break
            signature = tuple((j.index, run.current.get(j.index)) for j in window)
            if not any(potential) or signature in tried:
                continue  # nothing to gain, or already searched in this very state
            tried.add(signature)
            before = potential
            a, b = min(key(j) for j in window), max(key(j) for j in window)
            span = (a - WINDOW_SLACK_DAYS - reach, b + WINDOW_SLACK_DAYS + reach)
            inside = {j.index for j in window}
            held = [(inst.jobs[i], choice) for i, choice in run.current.items() if i not in inside]
            model = _Model(
                inst,
                window,
                _blocks(inst, held, span),
                published,
                window=(a - WINDOW_SLACK_DAYS, b + WINDOW_SLACK_DAYS),
            )
            until = min(run.deadline, time.perf_counter() + WINDOW_SECONDS)
            run.levels(model, searching, until, stage=None)
            solved += 1
            improved |= score(window) < before
            total = _value(shown, movable, run.current, published, earliest)
            run.report(f"pass {passes + 1}, window {solved}, {shown}", total, None)
        passes += 1
        if not improved:
            size = int(size * 1.5)
    seconds = time.perf_counter() - clock
    keepable = set(published)
    results = []
    for name in names:
        value = _value(name, movable, run.current, published, earliest)
        floor = _floor(name, movable, published, earliest, keepable)
        bound = float(floor) if floor is not None else 0.0
        status = "OPTIMAL" if floor is not None and value <= floor else "FEASIBLE"
        results.append(LevelResult(name, float(value), bound, status, seconds))
    return results


def _first_day(inst: Instance, job: Job) -> int:
    """The first day of the job's start domain in the whole model (its first allowed weekday)."""
    return next(
        (t for t in range(job.lo, min(job.hi, job.lo + 6) + 1) if inst.weekday_ok(job.order, t)),
        job.lo,
    )


def _unscheduled(inst: Instance, placed: Mapping[int, Choice]) -> tuple[Unscheduled, ...]:
    return tuple(
        Unscheduled(
            job.order.order_id,
            job.reason
            or f"no slot in an eligible suite before {job.order.latest_start} (end of hold) "
            f"in the best plan found{job.note}",
        )
        for job in inst.jobs
        if job.index not in placed
    )
