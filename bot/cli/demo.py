"""`datacall demo`: the whole loop on SQLite and the sandbox network, in under a minute."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

from bot.cli.common import ConfigOption, config_or_exit, console, fail
from bot.demo.scenario import play
from bot.runtime import Runtime
from storage import migrate

DEMO_CONFIG = """# Written by `datacall demo`: the demo's database, with the sandbox network only.
[database]
url = "sqlite:///datacall.db"

[networks.sandbox]
enabled = true
"""


def demo(
    directory: Path = typer.Option(
        Path("datacall-demo"), "--dir", help="Folder for the demo's database (emptied first)."
    ),
    config: ConfigOption = None,
) -> None:
    """Run the main job on the embedded default: SQLite, the sandbox network, sample replies."""
    started = time.monotonic()
    settings = config_or_exit(config)  # only [classifier] settings are taken from it
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("datacall.db*"):
        stale.unlink()
    config_file = directory / "datacall.toml"
    config_file.write_text(DEMO_CONFIG, encoding="utf-8")
    demo_settings = config_or_exit(config_file).model_copy(update={"classifier": settings.classifier})

    console.print(f"datacall demo in {directory}")
    rt = Runtime.from_config(demo_settings, say=lambda text: console.print(text, markup=False))
    try:
        migrate.upgrade(rt.engine)
        outcome = play(rt)
    finally:
        rt.close()
    if outcome.failures:
        fail("the demo hit an error: " + "; ".join(outcome.failures))

    total = sum(outcome.messages.values())
    lines = [
        f"[bold]messages[/bold]  {total} collected on the sandbox network: "
        f"{outcome.messages.get('data_request', 0)} data requests, {outcome.messages.get('off_topic', 0)} off-topic "
        f"(classifier agreed with the expected label on {outcome.agreed}/{total})",
        "[bold]review[/bold]    " + _reviewed(outcome.reviewed, outcome.spot_checks),
        "[bold]requests[/bold]  " + ", ".join(f"{n} {status}" for status, n in sorted(outcome.requests.items())),
        "[bold]replies[/bold]   " + ", ".join(f"{n} {state}" for state, n in sorted(outcome.replies.items()))
        + f"; a second pass sent {outcome.second_pass_new_replies} more",
    ]
    if outcome.published is not None:
        lines.append(f"[bold]published[/bold] request #{outcome.published.id} \"{outcome.published.title}\"")
    if outcome.merged:
        lines.append(
            f"[bold]merged[/bold]    request #{outcome.merged[0]} into #{outcome.merged[1]} "
            "(same dataset, every supporter kept)"
        )
    prog = _program()
    # A console that wraps: the summary must be read whole, not cut at the panel's edge.
    Console().print(Panel("\n".join(lines), title="datacall demo", expand=False))
    # Paths and commands unwrapped, so they can be copied as they are.
    hints = [
        f"database: {directory / 'datacall.db'}",
        "try next:",
        f"  {prog} request list --config {config_file}",
        f"  {prog} request show {outcome.published.id if outcome.published else 1} --config {config_file}",
        f"  {prog} serve --config {config_file}",
        f"  echo 'Pouvez-vous publier les horaires des piscines ?' | {prog} classify",
        f"(took {time.monotonic() - started:.0f} s)",
    ]
    for hint in hints:
        console.print(hint, markup=False, highlight=False)


def _reviewed(reviewed: dict[str, int], spot_checks: int) -> str:
    """The officer's share of the work: the messages the classifier left to a person."""
    total = sum(reviewed.values())
    if not total:
        return "every message was decided automatically"
    why = f"{total - spot_checks} uncertain" + (f", {spot_checks} drawn for a spot check" if spot_checks else "")
    return (
        f"{total} messages left to an officer ({why}), who confirmed {reviewed.get('data_request', 0)} "
        f"as requests and {reviewed.get('off_topic', 0)} as off-topic (the review queue)"
    )


def _program() -> str:
    """How the user called datacall (e.g. .venv/bin/datacall), so the hints can be pasted."""
    called = Path(sys.argv[0])
    return str(called) if called.name == "datacall" else "datacall"
