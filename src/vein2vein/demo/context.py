"""What the demo's foundation hands to every feature's demo loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoContext:
    """The demo's organisations and programs by name and code, and the settings in force.

    A feature's demo loader is called as ``loader(uow, ctx)`` inside the demo's one unit of work.
    """

    settings: Any
    organisations: dict[str, Any] = field(default_factory=dict)
    programs: dict[str, Any] = field(default_factory=dict)
    cdmo_name: str = ""

    @property
    def cdmo(self) -> Any:
        return self.organisations[self.cdmo_name]
