"""What the `post` job does with a campaign's scheduled posts beyond sending their text.

A post whose moment has passed is skipped with the reason (a reminder after the
call closed, a survey after sorting, a meetup reminder after the meetup, a
reminder overtaken by a later one), so a datacall that was down never floods a
network on restart. The research update is written when it goes out, with the
numbers of that day; the survey picks its requests then too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.campaigns import calendar, survey
from bot.campaigns.texts import CampaignTexts, day_text, note_url, time_text
from bot.networks.base import Connector, PostRef
from storage.models import Campaign, Post, Request

DEFAULT_SURVEY_DAYS = 14


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Sent:
    """What a post's network call carried: its text and, for a native poll, its options."""

    text: str
    poll_options: tuple[str, ...] = ()


def cycle_of(campaign: Campaign) -> list[calendar.Phase]:
    return [calendar.Phase(p.name, p.starts_at, p.ends_at) for p in campaign.phases]


def skip_passed(session: Session, *, now: datetime) -> int:
    """Mark skipped the due posts whose phase or event has passed; returns how many."""
    due = session.scalars(
        select(Post).where(Post.state.in_(("pending", "failed")), Post.due_at <= now, Post.campaign_id.is_not(None))
    ).all()
    skipped = 0
    for post in due:
        reason = skip_reason(session, post, now=now)
        if reason:
            post.state, post.skip_reason = "skipped", reason
            skipped += 1
    return skipped


def skip_reason(session: Session, post: Post, *, now: datetime) -> str | None:
    campaign = post.campaign
    if campaign is None:
        return None  # a call posted on demand has no phase to miss
    end = calendar.window_end(post.kind, cycle_of(campaign), campaign.meetup_at)
    if end is not None and end <= now:
        what = {"meetup": "the meetup", "meetup_reminder": "the meetup"}.get(post.kind, f"the {post.kind}'s phase")
        return f"{what} ended on {end:%Y-%m-%d %H:%M} UTC before it could be posted"
    if post.kind == "reminder":
        later = session.scalar(
            select(Post.id).where(
                Post.campaign_id == post.campaign_id, Post.network == post.network, Post.kind == "reminder",
                Post.due_at > post.due_at, Post.due_at <= now, Post.id != post.id,
            )
        )
        if later:
            return f"overtaken by the later reminder #{later}, posted instead"
    return None


def values(
    session: Session, campaign: Campaign, lang: str, *, public_url: str, with_counts: bool = False,
) -> dict[str, object]:
    """The placeholders of the campaign texts."""
    zone = ZoneInfo(campaign.timezone or "UTC")
    phases = {phase.name: phase for phase in campaign.phases}
    result: dict[str, object] = {
        "title": campaign.title,
        "note_url": note_url(public_url, campaign.slug),
        "link": f" {public_url.rstrip('/')}/" if public_url else "",
    }
    for name, key in (("call", "call_ends"), ("sorting", "survey_ends")):
        if name in phases:  # the phase's last day, not the exclusive end
            result[key] = day_text(phases[name].ends_at - timedelta(seconds=1), lang, zone)
    if campaign.meetup_at:
        result["meetup_date"] = day_text(campaign.meetup_at, lang, zone)
        result["meetup_time"] = time_text(campaign.meetup_at, lang, zone)
        where = " ".join(part for part in (campaign.meetup_place, campaign.meetup_url) if part)
        result["where"] = f", {where}" if where else ""
    if with_counts:
        result.update(request_counts(session, campaign.id))
    return result


def request_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Requests of the campaign so far (merged duplicates count once), accepted, published."""
    by_status = dict(session.execute(
        select(Request.status, func.count()).where(Request.campaign_id == campaign_id).group_by(Request.status)
    ).all())
    return {
        "count_requests": sum(n for status, n in by_status.items() if status != "duplicate"),
        "count_accepted": sum(by_status.get(s, 0) for s in ("accepted", "in_progress", "published")),
        "count_published": by_status.get("published", 0),
    }


@dataclass(frozen=True)
class Publisher:
    """Publishes one claimed post on its network, the campaign way."""

    texts: CampaignTexts
    public_url: str
    survey_size: int
    max_length: dict[str, int]

    def publish(self, session: Session, post: Post, connector: Connector, *, now: datetime) -> PostRef | Skip:
        """Called with the post claimed; the session's work is committed before the network call by the caller."""
        campaign = post.campaign
        if post.kind == "survey" and campaign is not None:
            return self._survey(session, post, campaign, connector, now=now)
        if post.kind == "research_update" and campaign is not None:
            post.text = self._render(session, post, campaign, connector, "research_update", with_counts=True)
        session.commit()
        return connector.post(post.text, idempotency_key=f"datacall-post-{post.id}")

    def sent_as(self, session: Session, post: Post, connector: Connector) -> Sent | None:
        """What `publish` handed the network for a post whose send started (its texts and options are
        committed before the call); None when the call cannot have been made (a poll without options)."""
        if post.kind == "survey" and post.campaign is not None and connector.poll_options:
            options = survey.options_of(session, post.id)
            return Sent(post.text, tuple(option.label for option in options)) if options else None
        return Sent(post.text)

    def _survey(
        self, session: Session, post: Post, campaign: Campaign, connector: Connector, *, now: datetime
    ) -> PostRef | Skip:
        phases = {phase.name: phase for phase in campaign.phases}
        closes_at = phases["sorting"].ends_at if "sorting" in phases else now + timedelta(days=DEFAULT_SURVEY_DAYS)
        options = survey.prepare(
            session, post, connector=connector, size=self.survey_size, closes_at=closes_at, now=now
        )
        if not options:
            return Skip("fewer than two open requests to survey")
        if connector.poll_options:
            question = post.text
            session.commit()
            seconds = max(int((options[0].closes_at - now).total_seconds()), 300)
            return connector.post_poll(
                question, [option.label for option in options], duration_seconds=seconds,
                idempotency_key=f"datacall-post-{post.id}",
            )
        post.text = self._render(session, post, campaign, connector, "survey_text", options=survey.numbered(options))
        session.commit()
        return connector.post(post.text, idempotency_key=f"datacall-post-{post.id}")

    def _render(
        self, session: Session, post: Post, campaign: Campaign, connector: Connector, name: str, *,
        with_counts: bool = False, **extra,
    ) -> str:
        lang = post.lang or "fr"
        data = values(session, campaign, lang, public_url=self.public_url, with_counts=with_counts)
        data.update(extra)
        return self.texts.render(
            name, lang, data, max_length=self.max_length.get(post.network, connector.max_length),
            length=connector.text_length,
        )
