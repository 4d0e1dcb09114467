"""`datacall request list|show|set-status` and `datacall queue`."""

from __future__ import annotations

import getpass
import shlex

import typer
from rich.table import Table
from sqlalchemy import func, select

from bot.cli.common import ConfigOption, checked_id, console, fail, runtime
from bot.links import is_web_link
from bot.overdue import OverdueRule, overdue_among, overdue_requests, today_utc
from bot.pipeline.follow_up import reuse_feedback_of
from bot.pipeline.status import StatusError, parse_expected, set_status
from bot.pipeline.suggest import suggestions_for
from bot.pipeline.titles import TitleError, set_public_title
from storage import queries
from storage.models import (
    REQUEST_STATUSES,
    CatalogueDataset,
    FollowUp,
    Message,
    Reply,
    Request,
    StatusEvent,
    Suggestion,
    SurveyOption,
)
from storage.public_titles import public_titles
from storage.queries import UNKNOWN
from storage.support import support_count

app = typer.Typer(help="Dataset requests: list, inspect, answer.", no_args_is_help=True)


@app.command("list")
def list_(
    status: str = typer.Option(None, help=f"Only this status: {', '.join(REQUEST_STATUSES)}."),
    limit: int = typer.Option(50, callback=checked_id),
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
def show(request_id: int = typer.Argument(..., metavar="ID", callback=checked_id), config: ConfigOption = None) -> None:
    """One request: its messages, its history, its replies and the suggestions for it."""
    with runtime(config) as rt, rt.sessions() as session:
        request = session.get(Request, request_id)
        if request is None:
            fail(f"no request #{request_id}", 2)
        console.print(f"[bold]#{request.id}[/bold] {request.title}", highlight=False)
        public = request.public_title or (
            f"(none approved: the public sees {public_titles(session, [request])[request.id]!r})"
        )
        console.print(f"public title: {public}", highlight=False, markup=False)
        console.print(f"status: {request.status}" + (f" — {request.url}" if request.url else ""))
        if request.status == "accepted" and request.expected_at:
            console.print(f"expected: {request.expected_at.isoformat()}")
        rule = OverdueRule.from_config(rt.config)
        late = rule.reason(request, today_utc())
        if late:
            console.print(f"[bold red]overdue[/bold red]: {_overdue_text(late, rule)}")
        if request.duplicate_of_id:
            console.print(f"duplicate of #{request.duplicate_of_id}")
        votes = session.scalar(
            select(func.coalesce(func.sum(SurveyOption.votes), 0)).where(SurveyOption.request_id == request.id)
        )
        console.print(f"support: {support_count(session, [request.id])[request.id]} (survey votes: {votes})")
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
        if any(reply.state == UNKNOWN for reply in session.scalars(
            select(Reply).join(StatusEvent).where(StatusEvent.request_id == request.id)
        )):
            console.print("a reply marked unknown may have reached its requester: check the network, then "
                          "`datacall reply mark-sent ID` or `datacall reply resend ID`", highlight=False)
        _print_suggestions(session, request)
        _print_feedback(session, request)


def _overdue_text(reason: str, rule: OverdueRule) -> str:
    if reason == "accepted":
        return "accepted and past its expected date"
    return f"received and unanswered for more than {rule.working_days} working days"


def _print_feedback(session, request: Request) -> None:
    """What supporters said about the published data, when asked some weeks later."""
    asked = session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.request_id == request.id))
    answers = reuse_feedback_of(session, request_id=request.id)
    if not asked and not answers:
        return
    table = Table("message", "network", "when", "text", title=f"reuse feedback ({len(answers)} of {asked} asked)")
    for message in answers:
        table.add_row(str(message.id), message.network, message.received_at.strftime("%Y-%m-%d"), message.text)
    console.print(table)


def _print_suggestions(session, request: Request) -> None:
    """What the suggest step proposes for this request, as plain lines so links are never cut."""
    lines = []
    for suggestion in suggestions_for(session, request_id=request.id):
        if suggestion.dismissed_at is not None:  # an officer said no in the web app
            continue
        kind, _, ref = suggestion.target.partition(":")
        if kind == "request":
            other = session.get(Request, int(ref))
            what = f"#{ref} ({other.status}) {other.title}" if other else f"#{ref}"
            hint = f"datacall request set-status {request.id} duplicate --of {ref}"
        elif kind == "dataset":
            dataset = session.get(CatalogueDataset, int(ref))
            what = f"{dataset.title if dataset else suggestion.target} {suggestion.url}"
            # A promised request whose data just appeared is published; an open one was already available.
            status = "published" if suggestion.kind == "publish" else "already_available"
            hint = f"datacall request set-status {request.id} {status} --url {shlex.quote(suggestion.url or '')}"
        else:
            what = f"{ref}: {suggestion.answer}"
            answer = shlex.quote(suggestion.answer or "")
            hint = f"datacall request set-status {request.id} out_of_scope --answer {answer}"
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
    request_id: int = typer.Argument(..., metavar="ID", callback=checked_id),
    status: str = typer.Argument(..., metavar="STATUS", help=", ".join(REQUEST_STATUSES)),
    answer: str = typer.Option(None, help="Public answer sent to every supporter."),
    url: str = typer.Option(None, help="Dataset link (published, already_available)."),
    of: int = typer.Option(None, "--of", help="For duplicate: the request it joins.", callback=checked_id),
    expected: str = typer.Option(
        None, "--expected", metavar="YYYY-MM-DD",
        help="For accepted: the expected publication date (overdue after it).",
    ),
    actor: str = typer.Option(None, help="Who decides (default: your login name)."),
    reopen: bool = typer.Option(False, "--reopen", help="Confirm moving a published request back."),
    config: ConfigOption = None,
) -> None:
    """Change a request's status and queue a reply to every supporter."""
    if url and not is_web_link(url):  # the link is sent to citizens: the web form's rule
        fail(f"--url must be an http:// or https:// link with a host (got {url!r})", 2)
    try:
        expected_date = parse_expected(expected)
    except ValueError:
        fail(f"--expected {expected!r} is not a date (YYYY-MM-DD)", 2)
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            event = set_status(
                session, request_id, status,
                actor=actor or _login(), answer=answer, url=url, duplicate_of=of,
                writer=rt.reply_writer(), reopen=reopen, expected=expected_date,
            )
        except StatusError as exc:
            fail(str(exc), 2)
        queued = session.scalar(select(func.count()).where(Reply.status_event_id == event.id))
    console.print(f"request #{request_id} is now {status}; {queued} reply(ies) queued for `datacall run`")


@app.command("set-title")
def set_title_command(
    request_id: int = typer.Argument(..., metavar="ID"),
    title: str = typer.Argument(..., metavar="TEXT", help="The public title; \"\" withdraws it."),
    config: ConfigOption = None,
) -> None:
    """Write or approve the title the public sees; until then it reads "Request #ID"."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            request = set_public_title(session, request_id, title)
        except TitleError as exc:
            fail(str(exc), 2)
        shown = request.public_title
    if shown is None:
        console.print(f"request #{request_id} has no public title; the public sees \"Request #{request_id}\"",
                      highlight=False)
    else:
        console.print(f"request #{request_id} public title: {shown}", highlight=False, markup=False)


def queue(
    limit: int = typer.Option(30, callback=checked_id),
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
            messages = Table(
                "message", "network", "lang", "score", "label", "text", title=f"messages to review ({order})"
            )
            for message in review:
                messages.add_row(
                    str(message.id), message.network, message.lang or "",
                    f"{message.score:.2f}" if message.score is not None else "", message.label or "", message.text,
                )
            console.print(messages)
        table = Table("id", "status", "created", "campaign", "support", "overdue", "title", title="requests to decide")
        rows = session.scalars(
            select(Request)
            .where(Request.status.in_(("received", "under_review")))
            .order_by(Request.status, Request.created_at)
            .limit(limit)
        ).all()
        support = support_count(session, [request.id for request in rows])
        rule, today = OverdueRule.from_config(rt.config), today_utc()
        late = overdue_among(session, rule, [request.id for request in rows], today=today)
        count = 0
        for request in rows:
            count += 1
            table.add_row(
                str(request.id), request.status, request.created_at.strftime("%Y-%m-%d"),
                str(request.campaign_id or ""), str(support.get(request.id, 0)),
                "overdue" if request.id in late else "", request.title,
            )
        console.print(table)
        # Accepted requests past their date wait for an officer too, though not for a decision.
        promised = overdue_requests(session, rule, today=today, status="accepted")
        if promised:
            console.print(
                "overdue accepted requests (past their expected date): "
                + ", ".join(f"#{r.id} ({r.expected_at})" for r in promised),  # a date prints as YYYY-MM-DD
                highlight=False,
            )
        if review:
            console.print("label messages in the web queue (`datacall serve`, /queue)")
        if count:
            console.print("decide with: datacall request set-status ID STATUS [--answer TEXT] [--url URL]")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "officer"
