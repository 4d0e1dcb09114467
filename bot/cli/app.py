"""The `datacall` command: one typer app, one module per group of commands."""

from __future__ import annotations

from enum import Enum

import typer

from bot.cli import (
    campaigns,
    catalogue,
    classifier,
    demo,
    doctor,
    export,
    replies,
    report,
    requester,
    requests,
    run,
    web,
)
from bot.logs import use_json_logs

app = typer.Typer(
    name="datacall",
    help="Run open-data calls for contribution on social networks, sort the replies, answer every requester.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
class LogFormat(str, Enum):
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


app.command()(run.init)
app.command()(run.run)
app.command()(demo.demo)
app.command()(run.status)
app.command()(doctor.doctor)
app.add_typer(campaigns.app, name="campaign")
app.command()(requests.queue)
app.add_typer(requests.app, name="request")
app.add_typer(replies.app, name="reply")
app.command()(classifier.classify)
app.command()(classifier.train)
app.command()(classifier.evaluate)
app.command()(web.serve)
app.add_typer(web.app, name="user")
app.command()(export.export)
app.command()(report.report)
app.add_typer(requester.app, name="requester")
app.add_typer(catalogue.app, name="catalogue")


def main() -> None:
    app()
