"""Completeness: the README's commands are the ones CI runs, and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer.main

from bot.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", README)[:2]


def test_readme_starts_with_the_demo_and_test_commands():
    demo, tests = readme_commands()
    assert README.index("```bash") < README.index("## ")
    assert demo.endswith("datacall demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    assert readme_commands()[1] in (ROOT / ".ci" / "run").read_text()


def all_commands() -> list[str]:
    group = typer.main.get_command(app)
    ctx = click.Context(group)
    names = []
    for name in group.list_commands(ctx):  # commands load lazily (bot/cli/app.py)
        command = group.get_command(ctx, name)
        if hasattr(command, "commands"):
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    return names


def test_every_command_is_in_the_readme():
    for name in all_commands():
        assert f"datacall {name}" in README, name
