"""The `datacall` command: one typer app, one module per group of commands.

Command modules are imported when their command runs, not all at start-up:
`datacall classify` on one line then loads the classifier's imports only, not
the web app, the network clients and the exporters of the other commands.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from bot.logs import use_json_logs

if TYPE_CHECKING:  # typer builds on its own copy of click: its classes, not the `click` package's
    from typer._click import Command, Context

# Command name -> (module in bot.cli, attribute): a function (one command) or a typer app (a group).
COMMANDS = {
    "init": ("run", "init"),
    "run": ("run", "run"),
    "demo": ("demo", "demo"),
    "status": ("run", "status"),
    "doctor": ("doctor", "doctor"),
    "campaign": ("campaigns", "app"),
    "queue": ("request_commands", "queue"),
    "request": ("request_commands", "app"),
    "reply": ("replies", "app"),
    "classify": ("classifier", "classify"),
    "train": ("classifier", "train"),
    "evaluate": ("classifier", "evaluate"),
    "serve": ("web", "serve"),
    "user": ("web", "app"),
    "export": ("export", "export"),
    "report": ("report", "report"),
    "requester": ("requester", "app"),
    "catalogue": ("catalogue", "app"),
}


def load_command(name: str) -> Command:
    """The click command `name`, built from its module (imported now)."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"bot.cli.{module}"), attribute)
    command: Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # a group even when it has one command (`user add`)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name=name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyCommands(TyperGroup):
    """A typer group whose commands are imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None


app = typer.Typer(
    name="datacall",
    cls=LazyCommands,
    help="Run open-data calls for contribution on social networks, sort the replies, answer every requester.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


@app.callback()
def options(
    log_format: LogFormat = typer.Option(
        LogFormat.text, "--log-format", help="Log lines as text, or as one JSON object per line (for a log collector).",
    ),
) -> None:
    """Run open-data calls for contribution on social networks, sort the replies, answer every requester."""
    if log_format is LogFormat.json:
        use_json_logs()


def main() -> None:
    app()
