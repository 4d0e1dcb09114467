"""The database schema: one typed class per table.

Every unit of work is a row (a message to classify, a message to route, a reply
to send, a post to publish), so workers claim rows instead of holding state in
memory and a crash loses nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REQUEST_STATUSES = (
    "received",
    "under_review",
    "accepted",
    "in_progress",
    "published",
    "already_available",
    "out_of_scope",
    "declined",
    "duplicate",
)
REPLY_STATES = ("pending", "sending", "sent", "failed", "dead", "unknown")
# `sending`: claimed by a worker; `skipped`: its moment passed (see `skip_reason`).
POST_STATES = ("pending", "sending", "posted", "failed", "dead", "skipped")
POST_KINDS = ("call", "reminder", "meetup", "meetup_reminder", "survey", "research_update", "note")
CAMPAIGN_PHASES = ("call", "sorting", "research", "note")
LABELS = ("data_request", "off_topic")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Campaign(Base):
    """One call for contribution, e.g. the quarterly call `2027-q1`."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    call_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    posts: Mapped[list[Post]] = relationship(back_populates="campaign")
    # The 12-week calendar (None: a campaign posted on demand, without phases).
    starts_on: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str | None] = mapped_column(String(64))
    meetup_at: Mapped[datetime | None]
    meetup_place: Mapped[str | None] = mapped_column(String(300))
    meetup_url: Mapped[str | None] = mapped_column(String(500))
    phases: Mapped[list[CampaignPhase]] = relationship(
        back_populates="campaign", order_by="CampaignPhase.position", cascade="all, delete-orphan"
    )


class Post(Base):
    """Something datacall publishes on a network; a row in the posting queue."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    network: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(500))
    posted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign | None] = relationship(back_populates="posts")
    # Why a post was not published (its phase or event had passed, nothing to survey...).
    skip_reason: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    # Which worker holds the `sending` claim (its heartbeat says whether it is alive), when the network
    # call started (NULL: claimed but never sent, safe to release), and failures that did not count
    # against `attempts` (5xx, timeouts, 429) but still lengthen the backoff.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    send_started_at: Mapped[datetime | None]
    transient_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Requester(Base):
    """A person on one network. Handles are personal data: never exported."""

    __tablename__ = "requesters"
    __table_args__ = (UniqueConstraint("network", "external_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    external_user_id: Mapped[str] = mapped_column(String(128))
    handle: Mapped[str | None] = mapped_column(String(200))
    lang: Mapped[str | None] = mapped_column(String(8))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # Public pages and exports show this person's handle and words only if they agreed.
    consented_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Request(Base):
    """One dataset wanted, supported by one or more messages."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32), default="received", index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When an `accepted` request is expected out (a calendar day, set with the status): overdue after it.
    expected_at: Mapped[date | None] = mapped_column(Date)

    # The title the public sees, written or approved by an officer; until then a neutral
    # "Request #N" (`title` is the draft made from the first message, for officers).
    public_title: Mapped[str | None] = mapped_column(String(300))
    # The message the draft title was made from (no foreign key: messages already point here).
    title_message_id: Mapped[int | None] = mapped_column(Integer)
    # Closed because its only message was not a data request: it leaves the public views.
    not_a_request: Mapped[bool] = mapped_column(Boolean, default=False)

    messages: Mapped[list[Message]] = relationship(back_populates="request")
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="request", order_by="StatusEvent.id", foreign_keys="StatusEvent.request_id"
    )
    # The officer who looks after it ("mine / unassigned" in the queue); freed when the account goes.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    # Supporters plus survey votes, as storage.support counts them, stored so that the queue's
    # "most supported" sort walks an index; kept right by storage.support.keep_counts.
    support: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The networks its own messages came from, sorted, comma-separated ("mastodon,twitter"), kept with
    # `support`: the dashboard counts requests per network from the requests alone.
    networks: Mapped[str] = mapped_column(String(200), default="", server_default="")
    __table_args__ = (Index("ix_requests_support_id", "support", "id"),)


class Message(Base):
    """One incoming reply, mention or private message, unique per network."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("network", "external_id"),
        # The officers' queue reads the messages to review in id order.
        Index("ix_messages_needs_review_id", "needs_review", "id"),
        # Counts from the index alone: the queue's new requests, the dashboard's requests per network.
        Index("ix_messages_request_id_needs_review_network", "request_id", "needs_review", "network"),
        Index("ix_messages_network_request_id", "network", "request_id"),
        # A part of the queue by id, however deep the page (see `queue_part`).
        Index("ix_messages_queue_part_id", "queue_part", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8), index=True)
    url: Mapped[str | None] = mapped_column(String(500))
    in_reply_to_id: Mapped[str | None] = mapped_column(String(128))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    visibility: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Classification step: filled once, by whichever worker claims the row.
    label: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float, index=True)  # the queue's "highest score" sort
    model_version: Mapped[str | None] = mapped_column(String(64))
    # In the classifier's uncertain band: an officer decides, no automatic reply before.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Decided automatically by the model's score, but drawn at random for an officer to check
    # (`[classifier] spot_check_share`): their decisions measure the automatic ones.
    spot_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    classified_at: Mapped[datetime | None] = mapped_column(index=True)
    # Routing step: a data request becomes (or joins) a Request.
    routed_at: Mapped[datetime | None] = mapped_column(index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))  # indexed at the end of the file

    requester: Mapped[Requester] = relationship()
    request: Mapped[Request | None] = relationship(back_populates="messages")
    # Our post this message answers or comments (call, reminder, survey...): which post brought what.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    # Its part of the officers' queue: 0 to review on a new request, 1 to review, 2 on a new request,
    # 3 the rest (NULL while needs_review is). Written by database triggers from `needs_review` and the
    # request's status (migration 0014_queue_part), never by this code: read it, do not set it.
    queue_part: Mapped[int | None] = mapped_column(SmallInteger)


class StatusEvent(Base):
    """Every status change of a request: who, when, the public answer. Never deleted."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    answer: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[Request] = relationship(back_populates="events", foreign_keys=[request_id])


class Reply(Base):
    """An outgoing status reply in the outbox: pending -> sent | failed (retrying) | dead | unknown.

    `sending` marks a row claimed by a worker. `unknown`: on a network without
    idempotency keys the send may have gone out (a timeout after the request
    left, a worker that died mid-send); an officer marks it sent or resends it. The idempotency key is unique per
    (status event, requester), so nobody is ever answered twice for one event.
    Answers to commands such as Telegram's /status have no status event.
    """

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("status_event_id", "requester_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status_event_id: Mapped[int | None] = mapped_column(ForeignKey("status_events.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    network: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship()
    requester: Mapped[Requester] = relationship()
    status_event: Mapped[StatusEvent | None] = relationship()
    # Which worker holds the `sending` claim (its heartbeat says whether it is alive), when the network
    # call started (NULL: claimed but never sent, safe to release), and failures that did not count
    # against `attempts` (5xx, timeouts, 429) but still lengthen the backoff.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    send_started_at: Mapped[datetime | None]
    transient_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class NetworkCursor(Base):
    """Where polling a network resumes, and how its last polls went."""

    __tablename__ = "network_cursors"

    network: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A network that keeps failing is left alone until then, while the others go on.
    paused_until: Mapped[datetime | None]


class SandboxEntry(Base):
    """The sandbox network's public timeline: what citizens and the bot said there."""

    __tablename__ = "sandbox_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_entries.id"))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    from_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A native poll the bot posted: {"options": [...], "votes": [...], "closed": bool}.
    poll: Mapped[dict | None] = mapped_column(JSON)


USER_ROLES = ("admin", "officer", "viewer")


class User(Base):
    """An officer account for the web app; passwords are stored as argon2 hashes only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="officer")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written into each session cookie at login; raising it (logout, new password) ends every session.
    session_version: Mapped[int] = mapped_column(Integer, default=0)


class LabelDecision(Base):
    """An officer confirming or correcting the classifier: training data for the next model."""

    __tablename__ = "label_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    previous_label: Mapped[str | None] = mapped_column(String(32))
    previous_score: Mapped[float | None] = mapped_column(Float)
    officer: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship()


class AppSetting(Base):
    """Small per-deployment values made once, e.g. the salt that pseudonymises exports."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


SUGGESTION_KINDS = ("duplicate", "already_available", "out_of_scope", "publish")


class CatalogueDataset(Base):
    """A dataset already published in a catalogue (CKAN, udata, Opendatasoft), for matching requests."""

    __tablename__ = "catalogue_datasets"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(1000))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """What datacall proposes to the officers for a request: never applied without a decision."""

    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("request_id", "kind", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # What is suggested: "request:<id>", "dataset:<id>" or "rule:<name>".
    target: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[float] = mapped_column(Float)
    url: Mapped[str | None] = mapped_column(String(1000))
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An officer said no: kept (not deleted) so the suggester, which skips existing rows, never offers it again.
    dismissed_at: Mapped[datetime | None]
    dismissed_by: Mapped[str | None] = mapped_column(String(100))



class MatchTerm(Base):
    """One index key of a request or catalogue dataset, so suggestions find candidates without a scan.

    Keys come from `classifiers.matching.index_terms`; the primary key's order makes
    "who holds this term" one index range, and (kind, ref_id) lets a text be re-indexed.
    """

    __tablename__ = "match_terms"
    __table_args__ = (Index("ix_match_terms_kind_ref_id", "kind", "ref_id"),)

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "request" or "dataset"
    ref_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class CampaignPhase(Base):
    """One phase of a campaign's cycle: call, sorting, research, note; `ends_at` is exclusive."""

    __tablename__ = "campaign_phases"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship(back_populates="phases")


class SurveyOption(Base):
    """One request offered in a relevance survey post; `votes` is read back when the poll closes.

    On a network without native polls the survey is a numbered text post and each
    "+N" reply adds a vote here at once (one per person and option, see SurveyVote).
    """

    __tablename__ = "survey_options"
    __table_args__ = (UniqueConstraint("post_id", "option_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    option_index: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    votes: Mapped[int] = mapped_column(Integer, default=0)
    closes_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    post: Mapped[Post] = relationship()
    request: Mapped[Request] = relationship()


class SurveyVote(Base):
    """A "+N" reply to a text survey: one vote per person and option, however often they repeat it."""

    __tablename__ = "survey_votes"
    __table_args__ = (UniqueConstraint("survey_option_id", "requester_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_option_id: Mapped[int] = mapped_column(ForeignKey("survey_options.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    requester: Mapped[Requester] = relationship()


class FollowUp(Base):
    """The one question asked to a supporter some weeks after their request was published.

    Unique per (request, requester): the reply row it queued carries the key
    `datacall-followup-<request>-<requester>`, so nobody is asked twice.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("request_id", "requester_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("replies.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reply: Mapped[Reply] = relationship()


class ReuseFeedback(Base):
    """A supporter's answer to the follow-up question: did the data meet their need, what they built.

    The words stay in the message (so erasing the requester erases them too).
    """

    __tablename__ = "reuse_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship()


class RequestNote(Base):
    """An officer's internal note on a request: never public, never exported."""

    __tablename__ = "request_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The queue's "least sure first" sort walks the scores of the messages to review, from 0.5 up and down.
Index("ix_messages_needs_review_score", Message.needs_review, Message.score)
# The queue's "highest score" and "lowest score" sorts walk each queue part by score and merge the runs.
Index("ix_messages_queue_part_score_id", Message.queue_part, Message.score, Message.id)
# A request's messages by queue part, in id order, from the index alone (PostgreSQL too): the officer's
# own requests ("mine"), each request's first message in the "most supported" sort. Replaces the index on
# request_id alone.
Index("ix_messages_request_id_queue_part_id", Message.request_id, Message.queue_part, Message.id)
# Overdue requests (the dashboard's count): `received` by date, `accepted` by expected date, from the index alone.
Index("ix_requests_status_created_at_expected_at", Request.status, Request.created_at, Request.expected_at)
# The dashboard's requests per status, campaign and network: one walk of this index, no table read.
Index("ix_requests_status_campaign_id_networks_not_a_request", Request.status, Request.campaign_id, Request.networks,
      Request.not_a_request)
# Support counts walk the merges down from each request shown (storage.support.merged_into).
Index("ix_requests_duplicate_of_id", Request.duplicate_of_id)


class Worker(Base):
    """A `datacall run` process, by its stable name: its heartbeat tells others whether its claims are alive."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
