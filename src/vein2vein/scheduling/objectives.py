"""Objectives of the capacity plan and how they are combined.

- ``unscheduled``: orders left without a batch (their material expires first);
- ``days_late``: total days of delivery after ``required_by``;
- ``vein_to_vein``: total vein-to-vein days (so their mean, the number is per order);
- ``makespan``: the day the last batch is released;
- ``changes``: batches of a published plan that move (suite or start), when re-planning.

``lexicographic`` optimises them one after the other, each keeping the best value of those before
it; ``weighted`` optimises ``sum(weight * objective)`` in one search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vein2vein.core.errors import InputError

OBJECTIVE_NAMES = ("unscheduled", "days_late", "vein_to_vein", "makespan", "changes")
DEFAULT_LEVELS = ("unscheduled", "days_late", "vein_to_vein", "makespan")
REPLAN_LEVELS = ("unscheduled", "days_late", "changes", "vein_to_vein", "makespan")
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "unscheduled": 100_000,
    "days_late": 1_000,
    "changes": 50,
    "vein_to_vein": 10,
    "makespan": 1,
}


@dataclass(frozen=True)
class Objectives:
    mode: str = "lexicographic"
    levels: tuple[str, ...] = DEFAULT_LEVELS
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        if self.mode not in ("lexicographic", "weighted"):
            raise InputError(f"objective mode {self.mode!r}: use lexicographic or weighted")
        unknown = [name for name in self.levels if name not in OBJECTIVE_NAMES]
        if unknown or not self.levels:
            raise InputError(
                f"unknown objective(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(OBJECTIVE_NAMES)}"
            )
        if len(set(self.levels)) != len(self.levels):
            raise InputError("an objective is listed twice")
        for name in self.levels:
            if self.weights.get(name, 0) < 0:
                raise InputError(f"weight of {name} must be >= 0")

    def without(self, name: str) -> Objectives:
        return Objectives(self.mode, tuple(n for n in self.levels if n != name), self.weights)

    @classmethod
    def parse(cls, text: str, mode: str = "lexicographic") -> Objectives:
        """``"days_late,vein_to_vein"`` or, weighted, ``"days_late=1000,vein_to_vein=10"``."""
        levels: list[str] = []
        weights = dict(DEFAULT_WEIGHTS)
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, _, weight = part.partition("=")
            name = name.strip()
            levels.append(name)
            if weight:
                try:
                    weights[name] = int(weight)
                except ValueError:
                    raise InputError(f"weight {weight!r} of {name} is not a whole number") from None
        return cls(mode=mode, levels=tuple(levels), weights=weights)
