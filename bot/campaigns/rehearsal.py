"""`datacall campaign rehearse`: the whole quarter on a copy of the database, in seconds.

The copy runs on the sandbox network only, under a simulated clock: every
timestamp the pipeline writes (messages, replies, status events) is the
simulated one, so the rehearsal's database reads like the real quarter will.
Citizens are played by the demo's sample messages; the officer's decisions
are a fixed script (accept the most supported requests, publish the first).
Nothing touches the source database or a real network.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.campaigns import survey
from bot.campaigns.publishing import cycle_of, values
from bot.config import Config, DatabaseConfig, NetworksConfig
from bot.demo.scenario import sample_messages
from bot.jobs import classify_and_route
from bot.networks.sandbox import say, vote
from bot.pipeline import ingest
from bot.pipeline.outbox import post_due, send_due_replies
from bot.pipeline.status import set_status
from bot.runtime import Runtime, database_url
from storage.copy import CopyError, copy_to_sqlite
from storage.models import Campaign, Message, Post, Request, SandboxEntry, SurveyOption
from storage.support import support_count

OFFICER = "rehearsal officer"
PUBLISHED_URL = "https://data.example.org/datasets/rehearsal"
SEED = 2027
VOTERS = 12  # per survey post


class RehearsalError(Exception):
    """The rehearsal cannot run (unknown campaign, no calendar, unreadable database)."""


@dataclass
class Rehearsal:
    runtime: Runtime
    campaign_id: int
    zone: ZoneInfo
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    posted: set[int] = field(default_factory=set)

    def log(self, moment: datetime, text: str) -> None:
        self.lines.append((moment, text))


def rehearse(config: Config, slug: str, *, out: Path | None = None, say: Callable[[str], None] = print) -> list[str]:
    """Play campaign `slug` from its first day to its last; returns the timeline, one dated line each."""
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="datacall-rehearsal-"))
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "rehearsal.db"
    copy.unlink(missing_ok=True)
    try:
        copy_to_sqlite(database_url(config), copy)
    except CopyError as exc:
        raise RehearsalError(str(exc)) from None
    sandbox = config.networks.sandbox.model_copy(update={"enabled": True})
    rehearsal_config = config.model_copy(update={
        "database": DatabaseConfig(url=f"sqlite:///{copy}"),
        "networks": NetworksConfig({"sandbox": sandbox}),
    })
    runtime = Runtime.from_config(rehearsal_config, say=say)
    try:
        play = _prepare(runtime, slug)
        _play(play)
        note = write_note(runtime, slug, folder)
        end = _campaign_end(runtime, play.campaign_id)
        if note is not None:
            play.log(end, f"publication note written: {note}")
        play.log(end, f"end of the rehearsal; its database is {copy}")
    finally:
        runtime.close()
    return [f"{moment.astimezone(play.zone):%Y-%m-%d %H:%M}  {text}" for moment, text in sorted(
        play.lines, key=lambda line: line[0]
    )]


def write_note(runtime: Runtime, slug: str, folder: Path) -> Path | None:
    """The one place where the rehearsal writes the publication note (`datacall report`) into `folder`.

    Returns the path of the note's HTML page.
    """
    from bot.report import write_report  # matplotlib is loaded only when a note is written

    written = write_report(runtime.sessions, slug, folder, lang=runtime.config.campaigns.default_language)
    return next(path for path in written if path.name == "index.html")


# -- the copy -------------------------------------------------------------------------------------


def _prepare(runtime: Runtime, slug: str) -> Rehearsal:
    """In the copy: the campaign's posts still to come go to the sandbox, other campaigns' wait."""
    sandbox = runtime.connectors["sandbox"]
    with runtime.sessions() as session, session.begin():
        campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
        if campaign is None:
            raise RehearsalError(f"no campaign {slug}; see: datacall campaign list")
        if not campaign.phases:
            raise RehearsalError(
                f"campaign {slug} has no calendar; create it with: datacall campaign create {slug} --start DATE"
            )
        session.execute(delete(Post).where(
            Post.state.in_(("pending", "failed")), Post.campaign_id.is_not(campaign.id) | Post.campaign_id.is_(None)
        ).execution_options(synchronize_session=False))
        waiting = session.scalars(
            select(Post).where(Post.campaign_id == campaign.id, Post.state.in_(("pending", "failed")))
            .order_by(Post.due_at, Post.id)
        ).all()
        kept: set[tuple[str, datetime]] = set()
        for post in waiting:
            key = (post.kind, post.due_at)
            if key in kept:  # one post per moment: the sandbox stands for every network
                session.delete(post)
                continue
            kept.add(key)
            lang = post.lang or runtime.config.campaigns.default_language
            data = values(session, campaign, lang, public_url=runtime.config.web.public_url)
            data.update(count_requests=0, count_accepted=0, count_published=0)
            post.network, post.state, post.attempts = "sandbox", "pending", 0
            post.text = runtime.campaign_texts.render(
                post.kind, lang, data, max_length=sandbox.max_length, length=sandbox.text_length
            )
        zone = ZoneInfo(campaign.timezone or runtime.config.campaigns.timezone)
        return Rehearsal(runtime=runtime, campaign_id=campaign.id, zone=zone)


# -- the quarter ----------------------------------------------------------------------------------


def _play(play: Rehearsal) -> None:
    rt = play.runtime
    with rt.sessions() as session:
        campaign = _campaign(session, play.campaign_id)
        cycle = {phase.name: phase for phase in cycle_of(campaign)}
        meetup_at = campaign.meetup_at
        posts = session.execute(
            select(Post.kind, Post.due_at).where(Post.campaign_id == play.campaign_id).order_by(Post.due_at)
        ).all()
    for phase in cycle.values():
        play.log(phase.starts_at, f"phase {phase.name} begins")
    if meetup_at:
        play.log(meetup_at, "meetup")
    samples = sample_messages()
    rng = random.Random(SEED)
    rng.shuffle(samples)
    # When citizens write, relative to the posts: most answer the call, some the reminders.
    answer_to = [(due, kind) for kind, due in posts if kind in ("call", "reminder")]
    waves = _waves(samples, answer_to)
    moments: dict[datetime, list[Callable[[datetime], None]]] = {}

    def at(moment: datetime, action: Callable[[datetime], None]) -> None:
        moments.setdefault(moment, []).append(action)

    for _kind, due in posts:
        at(due, lambda now: None)  # the post job's turn
    for (due, kind), wave in waves.items():
        at(due + timedelta(hours=3), partial(_citizens_write, play, due=due, kind=kind, wave=wave))
    survey_due = next((due for kind, due in posts if kind == "survey"), None)
    if survey_due:
        at(survey_due + timedelta(days=2), lambda now: _citizens_vote(play, now, rng))
    at(cycle["sorting"].ends_at + timedelta(minutes=1), lambda now: None)  # surveys close, votes are read
    at(cycle["research"].starts_at + timedelta(days=1, hours=10), lambda now: _officer_accepts(play, now))
    at(cycle["research"].starts_at + timedelta(weeks=2, hours=10), lambda now: _officer_publishes(play, now))
    for moment in sorted(moments):
        with time_machine.travel(moment, tick=False):
            for action in moments[moment]:
                action(moment)
            _run_pipeline(play, moment)


def _waves(samples: list[dict], answer_to: list[tuple[datetime, str]]) -> dict[tuple[datetime, str], list[dict]]:
    """Two thirds of the citizens answer the call, the rest share the reminders."""
    if not answer_to:
        return {}
    call, reminders = answer_to[0], answer_to[1:]
    first = len(samples) if not reminders else (2 * len(samples)) // 3
    waves = {call: samples[:first]}
    rest = samples[first:]
    for index, reminder in enumerate(reminders):
        waves[reminder] = rest[index::len(reminders)]
    return waves


def _citizens_write(play: Rehearsal, now: datetime, due: datetime, kind: str, wave: list[dict]) -> None:
    with play.runtime.sessions() as session, session.begin():
        post = session.scalar(select(Post).where(
            Post.campaign_id == play.campaign_id, Post.kind == kind, Post.due_at == due, Post.state == "posted"
        ))
        target = _sandbox_id(post) if post is not None else None
        for sample in wave:
            say(session, sample["handle"], sample["text"], in_reply_to_id=target)
    play.log(now, f"{len(wave)} citizens answer the {kind} of {due.astimezone(play.zone):%Y-%m-%d}")


def _sandbox_id(post: Post) -> int:
    """The sandbox entry a posted post became (its external id is the entry's number)."""
    if post.external_id is None:
        raise RehearsalError(f"post #{post.id} is marked posted but has no sandbox entry")
    return int(post.external_id)


def _citizens_vote(play: Rehearsal, now: datetime, rng: random.Random) -> None:
    """Voters answer the survey: in its native polls, or with "+N" replies to a text survey."""
    with play.runtime.sessions() as session, session.begin():
        posts = session.scalars(select(Post).where(
            Post.campaign_id == play.campaign_id, Post.kind == "survey", Post.state == "posted"
        )).all()
        votes = 0
        for post in posts:
            count = session.scalar(
                select(func.count()).select_from(SurveyOption).where(SurveyOption.post_id == post.id)
            )
            entry = session.get(SandboxEntry, _sandbox_id(post))
            native = entry is not None and entry.poll is not None
            for voter in range(VOTERS):
                if not count:
                    break
                choice = min(int(rng.expovariate(0.6)), count - 1)  # the first options draw most votes
                if native:
                    vote(session, _sandbox_id(post), choice)
                else:
                    say(session, f"@voter_{voter}", f"+{choice + 1}", in_reply_to_id=_sandbox_id(post))
                votes += 1
    if votes:
        play.log(now, f"{votes} votes in the survey")


def _officer_accepts(play: Rehearsal, now: datetime) -> None:
    rt = play.runtime
    with rt.sessions() as session, session.begin():
        chosen = survey.candidates(session, play.campaign_id, 3)
        support = support_count(session, [request.id for request in chosen])
        for request in chosen:
            if request.status in ("received", "under_review"):
                set_status(session, request.id, "accepted", actor=OFFICER, writer=rt.reply_writer(),
                           answer="Planned for next quarter.")
                play.log(now, f"officer accepts request #{request.id} (support {support[request.id]})")


def _officer_publishes(play: Rehearsal, now: datetime) -> None:
    rt = play.runtime
    with rt.sessions() as session, session.begin():
        request = session.scalar(select(Request).where(
            Request.campaign_id == play.campaign_id, Request.status == "accepted"
        ).order_by(Request.id))
        if request is not None:
            set_status(session, request.id, "published", actor=OFFICER, writer=rt.reply_writer(),
                       url=PUBLISHED_URL, answer="Published as open data.")
            play.log(now, f"officer publishes request #{request.id}")


def _run_pipeline(play: Rehearsal, now: datetime) -> None:
    """One pass of `datacall run` at the simulated `now`, and what it did, as timeline lines."""
    rt = play.runtime
    attempts, retry_base = rt.config.replies.max_attempts, rt.config.replies.retry_base_seconds
    with rt.sessions() as session:
        labels_before = _labels(session)
        read_before = session.scalar(
            select(func.count()).select_from(SurveyOption).where(SurveyOption.read_at.is_not(None))
        ) or 0
    post_due(
        rt.sessions, rt.connectors, publisher=rt.publisher(), now=lambda: now,
        max_attempts=attempts, retry_base_seconds=retry_base,
    )
    for connector in rt.connectors.values():
        ingest.poll(connector, rt.sessions)
    classify_and_route(rt)
    sent = send_due_replies(rt.sessions, rt.connectors, max_attempts=attempts, retry_base_seconds=retry_base)
    with rt.sessions() as session:
        for post in session.scalars(select(Post).where(
            Post.campaign_id == play.campaign_id, Post.state.in_(("posted", "skipped")), Post.id.not_in(play.posted)
        ).order_by(Post.id)):
            play.posted.add(post.id)
            if post.state == "skipped":
                play.log(now, f"{post.kind} skipped: {post.skip_reason}")
            else:
                play.log(post.posted_at or now, f"{post.kind} posted on {post.network}: {post.text}")
        labels = _labels(session)
        new = {label: labels.get(label, 0) - labels_before.get(label, 0) for label in labels}
        if any(new.values()):
            parts = ", ".join(f"{n} {label or 'to review'}" for label, n in sorted(new.items(), key=str) if n)
            play.log(now, f"messages classified: {parts}")
        read = session.scalar(
            select(func.count()).select_from(SurveyOption).where(SurveyOption.read_at.is_not(None))
        ) or 0
        if read > read_before:
            votes = session.execute(
                select(SurveyOption.request_id, SurveyOption.votes).where(SurveyOption.read_at.is_not(None))
                .order_by(SurveyOption.votes.desc(), SurveyOption.request_id)
            ).all()
            play.log(now, "survey closed, votes: " + ", ".join(f"#{r} {v}" for r, v in votes))
    if sent:
        play.log(now, f"replies sent to requesters: {sent}")


def _labels(session) -> dict[str | None, int]:
    return dict(session.execute(
        select(Message.label, func.count()).where(Message.classified_at.is_not(None)).group_by(Message.label)
    ).all())


def _campaign_end(runtime: Runtime, campaign_id: int) -> datetime:
    with runtime.sessions() as session:
        return _campaign(session, campaign_id).phases[-1].ends_at - timedelta(minutes=1)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:  # _prepare found it in this copy, which nothing else writes
        raise RehearsalError(f"campaign #{campaign_id} is missing from the rehearsal copy")
    return campaign
