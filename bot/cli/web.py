"""`datacall serve` (the web app) and `datacall user add|list|remove` (officer accounts)."""

from __future__ import annotations

import sys

import typer

from bot.cli.common import ConfigOption, console, fail, runtime
from bot.logs import json_logs_enabled
from storage.models import USER_ROLES

app = typer.Typer(help="Officer accounts for the web app.", no_args_is_help=True)


def serve(
    host: str = typer.Option(None, help="Address to listen on (default: [web] host)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port (default: [web] port)."),
    config: ConfigOption = None,
) -> None:
    """The web app: officers' queue behind a login at /queue, public dashboard at /."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from bot.web import create_app

    with runtime(config) as rt:
        host = host or rt.config.web.host
        port = port or rt.config.web.port
        console.print(f"datacall web app on http://{host}:{port}/ (queue at /queue); Ctrl-C stops it")
        # X-Forwarded-* headers are read by the app itself, only from `[web] trusted_proxies`.
        # Under --log-format json, uvicorn's records go to the JSON handler, not its own.
        log_config = None if json_logs_enabled() else LOGGING_CONFIG
        uvicorn.run(
            create_app(rt), host=host, port=port, proxy_headers=False, log_level="info", log_config=log_config
        )


@app.command("add")
def add(
    name: str = typer.Argument(..., metavar="NAME"),
    role: str = typer.Option("officer", help=f"One of: {', '.join(USER_ROLES)} (viewers only read)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin's first line."),
    update: bool = typer.Option(
        False, "--update", help="Change the password and role of an existing user (unlocks it)."
    ),
    config: ConfigOption = None,
) -> None:
    """Create an officer account; the password is asked twice (or read from stdin)."""
    from bot.web.accounts import AccountError, create_user

    if role not in USER_ROLES:
        fail(f"unknown role {role!r}; one of: {', '.join(USER_ROLES)}", 2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            create_user(session, name, password, role, update=update)
        except AccountError as exc:
            fail(str(exc), 2)
    console.print(f"user {name} ({role}) {'updated' if update else 'created'}")


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every account: name, role, locked or not, last login."""
    from bot.web.accounts import is_locked, list_users

    with runtime(config) as rt, rt.sessions() as session:
        users = list_users(session)
        if not users:
            console.print("no users yet: datacall user add NAME --role admin")
        for user in users:
            state = "locked" if is_locked(user) else "active"
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            typer.echo(f"{user.name}\t{user.role}\t{state}\tlast login {last}")  # tabs, for cut and awk


@app.command("remove")
def remove(
    name: str = typer.Argument(..., metavar="NAME"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    config: ConfigOption = None,
) -> None:
    """Remove an account; their decisions and notes keep their name, their assignments are freed."""
    from bot.web.accounts import AccountError, find_user, remove_user

    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            user = find_user(session, name)
            if not yes and not typer.confirm(f"Remove the account {user.name} ({user.role})?"):
                fail("nothing removed", 1)
            remove_user(session, user)
        except AccountError as exc:
            fail(str(exc), 2)
    console.print(f"user {name} removed")
