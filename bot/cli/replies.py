"""`datacall reply mark-sent|resend`: settle a reply whose delivery is unknown (or dead)."""

from __future__ import annotations

import getpass

import typer

from bot.cli.common import ConfigOption, console, fail, runtime
from bot.pipeline.reply_checks import ReplyCheckError, mark_sent, resend

app = typer.Typer(help="Outgoing replies an officer settles after checking the network.", no_args_is_help=True)

ReplyId = typer.Argument(..., metavar="ID", help="The reply number, as `datacall request show` lists it.")


@app.command("mark-sent")
def mark_sent_command(reply_id: int = ReplyId, config: ConfigOption = None) -> None:
    """You found the reply on the network: count it as sent, never send it again."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            mark_sent(session, reply_id, officer=_login())
        except ReplyCheckError as exc:
            fail(str(exc), 2)
    console.print(f"reply #{reply_id} is marked sent; it will not be sent again", highlight=False)


@app.command("resend")
def resend_command(reply_id: int = ReplyId, config: ConfigOption = None) -> None:
    """You checked the reply is not on the network: send it on the next `datacall run`."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            resend(session, reply_id)
        except ReplyCheckError as exc:
            fail(str(exc), 2)
    console.print(f"reply #{reply_id} is back in the outbox for `datacall run`", highlight=False)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "officer"
