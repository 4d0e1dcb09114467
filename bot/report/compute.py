"""Every number of a campaign's publication note, read from the database.

What counts (the note says it in words too):
- a campaign's messages are those stored with its `campaign_id`, except the
  answers to follow-up questions (reuse feedback is not a contribution);
- its requests are those opened with its `campaign_id`, except the duplicates
  merged into another request (their supporters count on that one);
- accepted = requests now `accepted`, `in_progress` or `published` (they all
  passed the decision to publish); published = requests now `published`;
- time to first answer: from a request's opening to its first status event
  other than `received` (an officer's decision), in days;
- support: distinct people whose messages back a request, merged
  duplicates' included, plus its survey votes (`storage.support.support_count`).
Only public titles, counts and officers' answers leave this module: never a
handle or a message text.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Date, cast, func, or_, select
from sqlalchemy.orm import Session

from storage.models import (
    REQUEST_STATUSES,
    Campaign,
    FollowUp,
    Message,
    Post,
    Reply,
    Request,
    ReuseFeedback,
    StatusEvent,
)
from storage.public_titles import public_titles
from storage.support import support_count

ACCEPTED = ("accepted", "in_progress", "published")
TOP = 10  # most supported requests shown
CHUNK = 5000  # ids per IN (...) list


class ReportError(LookupError):
    """No such campaign; the message names it."""


@dataclass(frozen=True)
class PostMark:
    """One of the campaign's published posts, for the chart and the per-post table."""

    network: str
    kind: str
    posted_at: datetime
    url: str | None
    replies: int  # messages answering it directly or in its thread
    requests: int  # requests those messages opened or joined


@dataclass(frozen=True)
class RequestLine:
    id: int
    title: str
    status: str
    answer: str | None
    url: str | None
    supporters: int
    feedback: int


@dataclass
class NoteData:
    slug: str
    title: str
    lang: str
    first_day: date | None
    last_day: date | None
    messages_per_day: dict[str, dict[date, int]]
    posts: list[PostMark]
    funnel: dict[str, int]  # messages, requests, accepted, published
    statuses: dict[str, int]
    merged_duplicates: int
    answer_days: list[float]  # one per answered request
    unanswered: int
    most_supported: list[RequestLine]
    followed_up: int  # questions sent
    feedback_answers: int
    feedback_requests: int  # requests with at least one answer
    requests: list[RequestLine] = field(default_factory=list)

    @property
    def median_answer_days(self) -> float | None:
        return statistics.median(self.answer_days) if self.answer_days else None

    @property
    def messages_total(self) -> int:
        return self.funnel["messages"]


def compute_note(session: Session, slug: str, *, lang: str = "fr") -> NoteData:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise ReportError(f"no campaign {slug!r}")
    # Counted in the database, not row by row: a campaign may have a million messages.
    contributions = (Message.campaign_id == campaign.id, Message.id.not_in(select(ReuseFeedback.message_id)))
    day = _utc_day(session, func.coalesce(Message.sent_at, Message.received_at))
    per_day: dict[str, dict[date, int]] = defaultdict(dict)
    for network, value, count in session.execute(
        select(Message.network, day, func.count()).where(*contributions).group_by(Message.network, day)
    ):
        per_day[network][_as_date(value)] = count

    requests = session.scalars(
        select(Request).where(Request.campaign_id == campaign.id).order_by(Request.id)
    ).all()
    # Merged duplicates count on the request they joined; what was not a data request is not listed.
    listed = [request for request in requests if request.status != "duplicate" and not request.not_a_request]
    listed_ids = select(Request.id).where(
        Request.campaign_id == campaign.id, Request.status != "duplicate", Request.not_a_request.is_(False)
    )
    supporters = support_count(session, [request.id for request in listed])
    titles = public_titles(session, listed, lang=lang)
    statuses = Counter(request.status for request in listed)
    answer_days, unanswered = _answer_days(session, listed, listed_ids)
    feedback = Counter(
        session.scalars(select(ReuseFeedback.request_id).where(ReuseFeedback.request_id.in_(listed_ids))).all()
    )
    followed_up = session.scalar(
        select(func.count()).select_from(FollowUp).join(Reply, Reply.id == FollowUp.reply_id)
        .where(FollowUp.request_id.in_(listed_ids), Reply.state == "sent")
    )

    lines = [
        RequestLine(
            id=request.id, title=titles[request.id], status=request.status,
            answer=request.answer, url=request.url, supporters=supporters.get(request.id, 0),
            feedback=feedback.get(request.id, 0),
        )
        for request in listed
    ]
    ranked = sorted((line for line in lines if line.supporters), key=lambda line: (-line.supporters, line.id))
    days = [day for counts in per_day.values() for day in counts]
    posts = _posts(session, campaign.id, contributions)
    days += [mark.posted_at.date() for mark in posts]
    return NoteData(
        slug=campaign.slug,
        title=campaign.title,
        lang=lang,
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        messages_per_day={network: dict(sorted(counts.items())) for network, counts in sorted(per_day.items())},
        posts=posts,
        funnel={
            "messages": sum(sum(counts.values()) for counts in per_day.values()),
            "requests": len(listed),
            "accepted": sum(statuses[status] for status in ACCEPTED),
            "published": statuses["published"],
        },
        statuses={status: statuses[status] for status in REQUEST_STATUSES if statuses[status]},
        merged_duplicates=len(requests) - len(listed),
        answer_days=answer_days,
        unanswered=unanswered,
        most_supported=ranked[:TOP],
        followed_up=followed_up or 0,
        feedback_answers=sum(feedback.values()),
        feedback_requests=len(feedback),
        requests=lines,
    )


def _answer_days(session: Session, requests: list[Request], listed_ids) -> tuple[list[float], int]:
    """Days from each request's opening to its first decision; and how many have none yet."""
    first = dict(
        session.execute(
            select(StatusEvent.request_id, func.min(StatusEvent.created_at))
            .where(StatusEvent.request_id.in_(listed_ids), StatusEvent.status != "received")
            .group_by(StatusEvent.request_id)
        ).all()
    )
    days = []
    for request in requests:
        answered = first.get(request.id)
        if answered is not None:
            # SQLite hands aggregates back as text or naive values: normalise before subtracting.
            answered = _aware(answered)
            days.append(round((answered - request.created_at).total_seconds() / 86400, 2))
    return sorted(days), len(requests) - len(days)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _posts(session: Session, campaign_id: int, contributions) -> list[PostMark]:
    """The campaign's posts, each with the messages that answered it (by reply target or thread)."""
    posts = session.scalars(
        select(Post).where(Post.campaign_id == campaign_id, Post.state == "posted", Post.posted_at.is_not(None))
        .order_by(Post.posted_at, Post.id)
    ).all()
    marks = []
    for post in posts:
        if post.posted_at is None:  # the query leaves these out
            continue
        replies, requests = 0, 0
        if post.external_id:
            replies, requests = session.execute(
                select(func.count(), func.count(func.distinct(Message.request_id))).where(
                    *contributions, Message.network == post.network,
                    or_(Message.in_reply_to_id == post.external_id, Message.conversation_id == post.external_id),
                )
            ).one()
        marks.append(PostMark(
            network=post.network, kind=post.kind, posted_at=post.posted_at, url=post.url,
            replies=replies, requests=requests,
        ))
    return marks


def _utc_day(session: Session, column):
    """The UTC calendar day of a timestamp, in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite keeps UTC timestamps as ISO text


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
