"""The relevance survey: the most supported open requests as polls, and their votes.

Options never quote a citizen's words: a request's officer-approved public
title when it has one, else a neutral "Request #N".
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.networks.base import Connector, NetworkError
from storage.models import Post, Request, Requester, SurveyOption, SurveyVote
from storage.public_titles import neutral_title
from storage.support import support_count

log = logging.getLogger(__name__)

OPEN_STATUSES = ("received", "under_review", "accepted", "in_progress")
# "+3", "+2 +5", "+1, +4": a vote on a text survey, not a message to classify.
VOTE = re.compile(r"^\s*(?:\+\s?\d{1,3}[\s,;.!]*)+$")
VOTE_NUMBER = re.compile(r"\+\s?(\d{1,3})")


def option_label(request: Request, lang: str, max_length: int) -> str:
    # Only words an officer approved go on a public poll, never the draft made from a message.
    label = (request.public_title or "").strip() or neutral_title(request.id, lang)
    return label if len(label) <= max_length else label[: max_length - 1].rstrip() + "…"


def candidates(session: Session, campaign_id: int | None, size: int) -> list[Request]:
    """The most supported open requests of the campaign (older first on a tie)."""
    query = select(Request).where(Request.status.in_(OPEN_STATUSES), Request.not_a_request.is_(False))
    if campaign_id is not None:
        query = query.where(Request.campaign_id == campaign_id)
    requests = list(session.scalars(query))
    counts = support_count(session, [request.id for request in requests])
    return sorted(requests, key=lambda request: (-counts.get(request.id, 0), request.id))[:size]


def split(items: Sequence, per_poll: int) -> list[list]:
    """Even chunks of at most `per_poll`, so no poll is left with a single option."""
    if not items:
        return []
    polls = math.ceil(len(items) / per_poll) if per_poll else 1
    size, extra = divmod(len(items), polls)
    chunks, start = [], 0
    for index in range(polls):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


def prepare(
    session: Session, post: Post, *, connector: Connector, size: int, closes_at: datetime, now: datetime,
) -> list[SurveyOption]:
    """Give a due survey post its options; more polls become new posts due now. [] means nothing to ask."""
    existing = options_of(session, post.id)
    if existing:
        return existing
    chosen = candidates(session, post.campaign_id, size)
    if len(chosen) < 2:
        return []
    native = connector.poll_options > 0
    if native and connector.max_poll_seconds:
        closes_at = min(closes_at, now + timedelta(seconds=connector.max_poll_seconds))
    length = connector.poll_option_length if native else 80
    lang = post.lang or "fr"
    chunks = split(chosen, connector.poll_options if native else 0)
    question = post.text
    for number, chunk in enumerate(chunks):
        target = post
        if number:
            target = Post(
                campaign_id=post.campaign_id, network=post.network, kind="survey", text=question,
                lang=post.lang, due_at=post.due_at,
            )
            session.add(target)
            session.flush()
        if len(chunks) > 1:
            target.text = numbered_question(question, number + 1, len(chunks), connector)
        for index, request in enumerate(chunk):
            session.add(SurveyOption(
                post_id=target.id, request_id=request.id, option_index=index,
                label=option_label(request, lang, length), votes=0, closes_at=closes_at,
            ))
    session.flush()
    return options_of(session, post.id)


def numbered_question(question: str, number: int, polls: int, connector: Connector) -> str:
    """The question of poll `number` of `polls`, "… (2/3)": X refuses a second post with the same text."""
    numbered = f"{question} ({number}/{polls})"
    return numbered if connector.text_length(numbered) <= connector.max_length else question


def options_of(session: Session, post_id: int, *, lock: bool = False) -> list[SurveyOption]:
    query = select(SurveyOption).where(SurveyOption.post_id == post_id).order_by(SurveyOption.option_index)
    # PostgreSQL: a second worker reading the same closed poll waits, then sees it read.
    return list(session.scalars(query.with_for_update() if lock else query))


def numbered(options: Sequence[SurveyOption]) -> str:
    """The options of a text survey: "+1 Request #4 · +2 Request #9"."""
    return " · ".join(f"+{option.option_index + 1} {option.label}" for option in options)


def record_votes(session: Session, *, post: Post, requester: Requester, external_id: str, text: str) -> int:
    """Count a "+N" reply to a survey post: one vote per person and option; returns votes added."""
    options = {option.option_index + 1: option for option in options_of(session, post.id)}
    added = 0
    for number in dict.fromkeys(int(n) for n in VOTE_NUMBER.findall(text)):
        option = options.get(number)
        if option is None or option.read_at is not None:
            continue  # no such option, or the survey is closed
        if requester.id is not None and session.scalar(
            select(SurveyVote.id).where(
                SurveyVote.survey_option_id == option.id, SurveyVote.requester_id == requester.id
            )
        ):
            continue
        session.add(SurveyVote(survey_option_id=option.id, requester=requester, external_id=external_id))
        option.votes += 1
        added += 1
    session.flush()
    return added


def read_closed(sessions: sessionmaker[Session], connectors: dict[str, Connector], *, now: datetime) -> int:
    """Read back the votes of every survey post whose poll has closed; returns polls read."""
    with sessions() as session:
        due = session.execute(
            select(Post.id, Post.network, Post.external_id)
            .join(SurveyOption, SurveyOption.post_id == Post.id)
            .where(Post.state == "posted", SurveyOption.read_at.is_(None), SurveyOption.closes_at <= now)
            .distinct()
        ).all()
    read = 0
    for post_id, network, external_id in due:
        connector = connectors.get(network)
        if connector is None:
            continue
        native: tuple[int, ...] = ()
        if connector.poll_options and external_id is not None:
            try:
                native = connector.poll_results(external_id).votes
            except NetworkError as exc:
                if not exc.permanent:
                    log.warning("survey post %s: reading the poll failed, retried next pass: %s", post_id, exc)
                    continue
                # Gone, or closed by someone else: its votes cannot be read any more; keep the "+N" ones.
                log.warning("survey post %s: the poll's votes cannot be read: %s", post_id, exc)
            except Exception as exc:  # noqa: BLE001 - one network's failure must not stop the others
                log.warning("survey post %s: reading the poll failed, retried next pass: %s", post_id, exc)
                continue
        with sessions() as session, session.begin():
            for option in options_of(session, post_id, lock=True):
                if option.read_at is not None:
                    continue
                text_votes = session.scalar(
                    select(func.count()).select_from(SurveyVote).where(SurveyVote.survey_option_id == option.id)
                ) or 0
                poll_votes = native[option.option_index] if option.option_index < len(native) else 0
                option.votes = poll_votes + text_votes
                option.read_at = now
        read += 1
    return read
