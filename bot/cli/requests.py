"""`datacall request list|show|set-status` and `datacall queue`."""

from __future__ import annotations

import getpass
import shlex

import typer
from rich.table import Table
from sqlalchemy import func, select

from bot.cli.common import ConfigOption, console, fail, runtime
from bot.jobs import reply_writer
from bot.pipeline.status import StatusError, set_status
from bot.pipeline.suggest import suggestions_for
from storage import queries
from storage.models import REQUEST_STATUSES, CatalogueDataset, Message, Reply, Request, StatusEvent, Suggestion

app = typer.Typer(help="Dataset requests: list, inspect, answer.", no_args_is_help=True)


@app.command("list")
def list_(
    status: str = typer.Option(None, help=f"Only this status: {', '.join(REQUEST_STATUSES)}."),
    limit: int = typer.Option(50, min=1),
    config: ConfigOption = None,
) -> None:
    """Requests, newest first, with their number of supporters."""
    if status and status not in REQUEST_STATUSES:
        fail(f"unknown status {status!r}; one of: {', '.join(REQUEST_STATUSES)}", 2)
    with runtime(config) as rt, rt.sessions() as session:
        supporters = (
            select(Message.request_id, func.count(func.distinct(Message.requester_id)).label("n"))
            .group_by(Message.request_id)
            .subquery()
        )
        query = (
            select(Request, func.coalesce(supporters.c.n, 0))
            .outerjoin(supporters, supporters.c.request_id == Request.id)
            .order_by(Request.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(Request.status == status)
        table = Table("id", "status", "supporters", "title")
        for request, count in session.execute(query):
            table.add_row(str(request.id), request.status, str(count), request.title)
        console.print(table)


@app.command()
def show(request_id: int = typer.Argument(..., metavar="ID"), config: ConfigOption = None) -> None:
    """One request: its messages, its history, its replies and the suggestions for it."""
    with runtime(config) as rt, rt.sessions() as session:
        request = session.get(Request, request_id)
        if request is None:
            fail(f"no request #{request_id}", 2)
        console.print(f"[bold]#{request.id}[/bold] {request.title}", highlight=False)
        console.print(f"status: {request.status}" + (f" — {request.url}" if request.url else ""))
        if request.duplicate_of_id:
            console.print(f"duplicate of #{request.duplicate_of_id}")
        messages = Table("message", "network", "from", "lang", "score", "text", title="supporting messages")
        for message in session.scalars(select(Message).where(Message.request_id == request.id).order_by(Message.id)):
            messages.add_row(
                str(message.id), message.network, message.requester.handle or "", message.lang or "",
                f"{message.score:.2f}" if message.score is not None else "", message.text,
            )
        console.print(messages)
        history = Table("when", "status", "by", "answer", title="history")
        for event in request.events:
            history.add_row(
                event.created_at.strftime("%Y-%m-%d %H:%M"), event.status, event.actor,
                event.answer or event.url or "",
            )
        console.print(history)
        replies = Table("reply", "to", "network", "state", "attempts", "error", title="replies")
        rows = session.scalars(
            select(Reply).join(StatusEvent).where(StatusEvent.request_id == request.id).order_by(Reply.id)
        )
        for reply in rows:
            replies.add_row(
                str(reply.id), reply.requester.handle or "", reply.network, reply.state,
                str(reply.attempts), reply.last_error or "",
            )
        console.print(replies)
        _print_suggestions(session, request)


def _print_suggestions(session, request: Request) -> None:
    """What the suggest step proposes for this request, as plain lines so links are never cut."""
    lines = []
    for suggestion in suggestions_for(session, request_id=request.id):
        kind, _, ref = suggestion.target.partition(":")
        if kind == "request":
            other = session.get(Request, int(ref))
            what = f"#{ref} ({other.status}) {other.title}" if other else f"#{ref}"
            hint = f"datacall request set-status {request.id} duplicate --of {ref}"
        elif kind == "dataset":
            dataset = session.get(CatalogueDataset, int(ref))
            what = f"{dataset.title if dataset else suggestion.target} {suggestion.url}"
            hint = f"datacall request set-status {request.id} already_available --url {shlex.quote(suggestion.url or '')}"
        else:
            what = f"{ref}: {suggestion.answer}"
            hint = f"datacall request set-status {request.id} out_of_scope --answer {shlex.quote(suggestion.answer or '')}"
        lines += [f"  {suggestion.kind} ({suggestion.score:.2f}) {what}", f"      {hint}"]
    newer = session.scalars(
        select(Suggestion.request_id)
        .where(Suggestion.kind == "duplicate", Suggestion.target == f"request:{request.id}")
        .order_by(Suggestion.request_id)
    ).all()
    lines += [f"  duplicate: #{other} may ask for the same dataset (datacall request show {other})" for other in newer]
    if lines:
        console.print("suggestions (nothing is applied until an officer decides):", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False)


@app.command("set-status")
def set_status_command(
    request_id: int = typer.Argument(..., metavar="ID"),
    status: str = typer.Argument(..., metavar="STATUS", help=", ".join(REQUEST_STATUSES)),
    answer: str = typer.Option(None, help="Public answer sent to every supporter."),
    url: str = typer.Option(None, help="Dataset link (published, already_available)."),
    of: int = typer.Option(None, "--of", help="For duplicate: the request it joins."),
    actor: str = typer.Option(None, help="Who decides (default: your login name)."),
    config: ConfigOption = None,
) -> None:
    """Change a request's status and queue a reply to every supporter."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            event = set_status(
                session, request_id, status,
                actor=actor or _login(), answer=answer, url=url, duplicate_of=of,
                writer=reply_writer(rt),
            )
        except StatusError as exc:
            fail(str(exc), 2)
        queued = session.scalar(select(func.count()).where(Reply.status_event_id == event.id))
    console.print(f"request #{request_id} is now {status}; {queued} reply(ies) queued for `datacall run`")


def queue(
    limit: int = typer.Option(30, min=1),
    least_sure_first: bool = typer.Option(
        False, "--least-sure-first",
        help="List the messages to review by how unsure the model was (score nearest the threshold first): "
        "each decision then teaches `train --with-decisions` the most.",
    ),
    config: ConfigOption = None,
) -> None:
    """What waits for an officer: messages to review, new requests, then those under review."""
    with runtime(config) as rt, rt.sessions() as session:
        threshold = rt.config.classifier.threshold
        review = queries.messages_to_review(
            session, least_sure_first=least_sure_first, threshold=threshold, limit=limit
        )
        if review:
            order = "least sure first" if least_sure_first else "oldest first"
            messages = Table("message", "network", "lang", "score", "label", "text", title=f"messages to review ({order})")
            for message in review:
                messages.add_row(
                    str(message.id), message.network, message.lang or "",
                    f"{message.score:.2f}" if message.score is not None else "", message.label or "", message.text,
                )
            console.print(messages)
        table = Table("id", "status", "created", "campaign", "title", title="requests to decide")
        rows = session.scalars(
            select(Request)
            .where(Request.status.in_(("received", "under_review")))
            .order_by(Request.status, Request.created_at)
            .limit(limit)
        )
        count = 0
        for request in rows:
            count += 1
            table.add_row(
                str(request.id), request.status, request.created_at.strftime("%Y-%m-%d"),
                str(request.campaign_id or ""), request.title,
            )
        console.print(table)
        if review:
            console.print("label messages in the web queue (`datacall serve`, /queue)")
        if count:
            console.print("decide with: datacall request set-status ID STATUS [--answer TEXT] [--url URL]")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "officer"
