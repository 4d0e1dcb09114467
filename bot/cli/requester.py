"""`datacall requester erase|consent`: a requester's personal data."""

from __future__ import annotations

import typer
from sqlalchemy import select

from bot.cli.common import ConfigOption, console, fail, runtime
from bot.pipeline.suggest import reindex_requests
from storage.erasure import RequesterNotFound, erase_requester, find_requester, set_public_consent
from storage.models import Message

app = typer.Typer(help="A requester's personal data: erase it, record consent to show it.", no_args_is_help=True)

NetworkArgument = typer.Argument(..., metavar="NETWORK", help="twitter, mastodon, telegram or sandbox.")
WhoArgument = typer.Argument(..., metavar="HANDLE_OR_ID", help="Handle (with or without @) or user id on that network.")


@app.command()
def erase(
    network: str = NetworkArgument,
    who: str = WhoArgument,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    config: ConfigOption = None,
) -> None:
    """Forget a person: handle, user id and message texts go; their requests stay, nothing more is sent."""
    with runtime(config) as rt:
        if not yes:
            # Asked outside any transaction: SQLite would hold its write lock while the officer reads.
            with rt.sessions() as session:
                requester = _find(session, network, who)
                label = requester.handle or requester.external_user_id
            typer.confirm(f"Erase {label} on {network}? Their requests stay, their words go", abort=True)
        with rt.sessions() as session, session.begin():
            erasure = erase_requester(session, _find(session, network, who))
            # The suggestion index holds the words of their messages too: rebuilt from what is left.
            reindex_requests(session, session.scalars(
                select(Message.request_id).where(Message.requester_id == erasure.requester_id,
                                                 Message.request_id.is_not(None)).distinct()
            ))
    if erasure.already_erased:
        console.print(f"requester #{erasure.requester_id} on {network} was already erased; nothing left to remove")
        return
    console.print(
        f"erased requester #{erasure.requester_id} on {network}: {erasure.messages} message(s) blanked, "
        f"{erasure.replies_dropped} waiting reply(ies) dropped; their requests and history are kept",
        highlight=False,
    )


@app.command()
def consent(
    network: str = NetworkArgument,
    who: str = WhoArgument,
    public: bool = typer.Option(
        ..., "--public/--private", help="May the public dashboard show their handle and words?"
    ),
    config: ConfigOption = None,
) -> None:
    """Record a requester's consent (or its withdrawal) to appear by name on the public dashboard."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        requester = _find(session, network, who)
        try:
            set_public_consent(requester, public)
        except RequesterNotFound as exc:
            fail(str(exc), 2)
        requester_id = requester.id
    shown = "may be shown" if public else "stays private"
    console.print(f"requester #{requester_id} on {network}: handle and words {shown}", highlight=False)


def _find(session, network: str, who: str):
    try:
        return find_requester(session, network, who)
    except RequesterNotFound as exc:
        fail(str(exc), 2)
