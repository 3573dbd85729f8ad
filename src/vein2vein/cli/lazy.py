"""Sub-apps of ``v2v`` loaded when they are used, not at start-up (issue 15).

``v2v --help`` lists every sub-command with the help text its declaration gives, and imports
none of them; ``v2v coi ...`` imports the chain-of-identity CLI only. A test compares each
declared help text with the loaded sub-app's own, so the listing cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import click
import typer
from typer.core import TyperGroup


class LazyCommand(click.Command):
    """Stands for a sub-app in listings; resolving it loads the real command group."""

    def __init__(self, name: str, help: str, load: Callable[[], typer.Typer]) -> None:
        super().__init__(name, help=help, short_help=help)
        self._load = load
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        if self._real is None:
            command = typer.main.get_command(self._load())
            command.name = self.name
            self._real = command
        return self._real

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ):  # type: ignore[no-untyped-def]
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.real().invoke(ctx)

    def get_usage(self, ctx: click.Context) -> str:
        return self.real().get_usage(ctx)

    def get_help(self, ctx: click.Context) -> str:
        return self.real().get_help(ctx)

    def shell_complete(self, ctx: click.Context, incomplete: str):  # type: ignore[no-untyped-def]
        return self.real().shell_complete(ctx, incomplete)


class LazyGroup(TyperGroup):
    """The root group: its own commands, then the lazily loaded sub-apps in declared order."""

    lazy: ClassVar[dict[str, LazyCommand]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or self.lazy.get(cmd_name)


def lazy_group_class(mounts: list[tuple[str, str, Callable[[], typer.Typer]]]) -> type[LazyGroup]:
    """A root group class holding ``(name, help, loader)`` sub-apps (one class per built CLI)."""
    commands = {name: LazyCommand(name, help, load) for name, help, load in mounts}
    return type("V2VRootGroup", (LazyGroup,), {"lazy": commands})
