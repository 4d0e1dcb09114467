"""Telegram: calls go to a channel; people answer in its comments, in groups or in private.

python-telegram-bot is asyncio while datacall's connectors are blocking, so the
connector owns one event loop in a daemon thread (`asyncio_thread.LoopThread`,
started on first use, stopped by `close`) and every method submits one coroutine
to it. The bot, its HTTP session and its rate limiter live on that loop for the
connector's lifetime; private chats are paced by `pacing.KeyedPacing`, and the
token is kept out of logs by `log_redaction`.

For comments to arrive, the bot must be an administrator of the channel (to
post) and of the channel's discussion group (to read comments); in other groups
it hears mentions, commands and replies to its own messages.

Every id handed out is "<chat_id>:<message_id>": Telegram numbers messages per chat.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, Chat, Message, MessageEntity, MessageOriginChannel, ReplyParameters, User
from telegram.constants import ChatType, FloodLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.config import ConfigError, NetworkConfig
from bot.networks.asyncio_thread import LoopThread
from bot.networks.base import Batch, Connector, Incoming, NetworkError, PollResult, PostRef, ReplyTarget
from bot.networks.log_redaction import hide_in_logs, redact
from bot.networks.pacing import KeyedPacing

log = logging.getLogger(__name__)

T = TypeVar("T")

# Only messages matter; other update kinds are skipped by Telegram (and by fetch, for old ones).
ALLOWED_UPDATES = ("message",)
# One getUpdates page per fetch: asking for the next page would confirm this one
# to Telegram before the pipeline has stored it, and a crash would lose it.
PAGE_SIZE = 100
# Discussion threads remembered in the cursor state, to place nested comments.
MAX_THREADS = 1000
# Telegram's own account, which posts the automatic forwards into discussion groups.
SERVICE_USER_ID = 777000
# Loggers that print request URLs, which carry the token.
_URL_LOGGERS = (
    "httpx",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class TelegramConfig(NetworkConfig):
    """`[networks.telegram]`."""

    # python-telegram-bot's base_url: a local Bot API server works too.
    base_url: str = "https://api.telegram.org/bot"
    token_env: str = "DATACALL_TELEGRAM_TOKEN"
    # Where calls are posted; the bot administers it and its discussion group.
    channel: str = "@city_opendata"
    max_length: Annotated[int, Field(ge=50)] = 4096


class TelegramConnector(Connector):
    name = "telegram"
    config_model = TelegramConfig
    max_length = 4096
    idempotent_sends = False  # the Bot API has no idempotency key
    # sendPoll takes up to 10 options here (the survey's own cap) of up to 100 characters.
    poll_options = 10
    poll_option_length = 100

    def __init__(
        self,
        bot: Bot,
        *,
        channel: str,
        max_length: int = 4096,
        poll_timeout: int = 0,
        call_timeout: float = 60.0,
    ):
        self.bot = bot
        self.channel = ChannelRef.parse(channel)
        self.max_length = max_length
        self.poll_timeout = poll_timeout
        self.call_timeout = call_timeout
        self._loop = LoopThread("datacall-telegram")
        hide_in_logs(bot.token, _URL_LOGGERS)

    @classmethod
    def from_config(
        cls, network_config: NetworkConfig, environ: Mapping[str, str], *, sessions: sessionmaker[Session] | None = None
    ) -> TelegramConnector:
        """A connector paced like Telegram asks; no request is made before the first call."""
        assert isinstance(network_config, TelegramConfig)
        token = environ.get(network_config.token_env, "")
        if not token:
            raise ConfigError(
                f"networks.telegram.token_env: environment variable {network_config.token_env} is not set"
            )
        hide_in_logs(token, _URL_LOGGERS)  # before the bot exists: its constructor logs its URL
        bot = ExtBot(token, base_url=network_config.base_url, rate_limiter=ChatPacing())
        return cls(bot, channel=network_config.channel, max_length=network_config.max_length)

    # -- the Connector interface ------------------------------------------------------------

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        self._check_length(text)
        message = self._call(lambda bot: bot.send_message(chat_id=self.channel.chat_id, text=text))
        self.channel.learn(message.chat)
        return post_ref(message)

    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        offset = int(cursor) if cursor else None
        me, updates = self._call(lambda bot: self._updates(bot, offset))
        for external_id in watched:  # our posts: their chat is the channel
            with contextlib.suppress(NetworkError):
                self.channel.learn_id(split_ref(external_id)[0])
        threads = dict(state.get("threads", {}))
        messages = []
        for update in updates:
            if update.message is None:
                continue  # an old update of a kind no longer asked for; the cursor still passes it
            remember_thread(update.message, self.channel, threads)
            incoming = to_incoming(update.message, me=me, channel=self.channel, threads=threads)
            if incoming is not None:
                messages.append(incoming)
        if not updates:
            return Batch((), cursor, state)
        new_state = {**state, "threads": dict(list(threads.items())[-MAX_THREADS:])}
        # A full page: Telegram holds more updates (getUpdates has no other "more" signal).
        return Batch(tuple(messages), str(updates[-1].update_id + 1), new_state, more=len(updates) >= PAGE_SIZE)

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        self._check_length(text)
        chat_id, message_id = split_ref(target.external_id)
        reply_to = ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
        message = self._call(lambda bot: bot.send_message(chat_id=chat_id, text=text, reply_parameters=reply_to))
        return post_ref(message)

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        """An anonymous native poll in the channel: channels cannot hold non-anonymous ones.

        It stays open until `poll_results` stops it: stopPoll is the only way to read
        an anonymous channel poll's counts, and it fails on a poll already closed.
        """
        message = self._call(
            lambda bot: bot.send_poll(
                chat_id=self.channel.chat_id,
                question=question,
                options=list(options),
                is_anonymous=True,
            )
        )
        return post_ref(message)

    def poll_results(self, external_id: str) -> PollResult:
        """stopPoll closes the poll and returns it with each option's voter_count."""
        chat_id, message_id = split_ref(external_id)
        poll = self._call(lambda bot: bot.stop_poll(chat_id=chat_id, message_id=message_id))
        return PollResult(votes=tuple(option.voter_count for option in poll.options), closed=poll.is_closed)

    def text_length(self, text: str) -> int:
        """UTF-16 code units, as Telegram counts its limit: an emoji outside the BMP is 2."""
        return len(text.encode("utf-16-le")) // 2

    def whoami(self) -> str:
        me = self._call(lambda bot: bot.get_me())
        return f"@{me.username}"

    def close(self) -> None:
        try:
            self._loop.stop(self.bot.shutdown, timeout=self.call_timeout)
        except Exception as exc:  # noqa: BLE001 - closing must not hide the error that led here
            log.warning("telegram: closing the bot failed: %s", redact(str(exc), self.bot.token))

    # -- internals --------------------------------------------------------------------------

    async def _updates(self, bot: Bot, offset: int | None) -> tuple[User, tuple]:
        updates = await bot.get_updates(
            offset=offset, limit=PAGE_SIZE, timeout=self.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
        )
        return bot.bot, updates

    def _call(self, make: Callable[[Bot], Awaitable[T]]) -> T:
        """Run one Bot API exchange on the connector's loop; Telegram errors become NetworkError."""

        async def run() -> T:
            await self.bot.initialize()  # once: opens the HTTP session and caches getMe
            return await make(self.bot)

        try:
            return self._loop.run(run(), timeout=self.call_timeout)
        except TelegramError as exc:
            # `from None`: the library's own message may quote the token (InvalidToken does).
            raise network_error(exc, self.bot.token) from None
        except TimeoutError:
            # Our own deadline, possibly after the request left: as a read timeout.
            raise NetworkError(f"telegram: no answer within {self.call_timeout:g} s", outcome_unknown=True) from None

    def _check_length(self, text: str) -> None:
        if self.text_length(text) > self.max_length:
            raise NetworkError(
                f"telegram: message of {self.text_length(text)} characters exceeds {self.max_length}", permanent=True
            )


# -- where calls are posted -------------------------------------------------------------------


@dataclass
class ChannelRef:
    """The configured channel, by @username or numeric id; learns its numeric id from posts."""

    chat_id: int | str
    username: str | None = None
    ids: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, value: str) -> ChannelRef:
        value = value.strip()
        if value.lstrip("-").isdigit():
            return cls(int(value), ids={int(value)})
        username = value.removeprefix("@")
        return cls(f"@{username}", username=username.lower())

    def learn(self, chat: Chat) -> None:
        self.ids.add(chat.id)

    def learn_id(self, chat_id: int) -> None:
        self.ids.add(chat_id)

    def matches(self, chat: Chat | None) -> bool:
        if chat is None:
            return False
        if chat.id in self.ids:
            return True
        return bool(self.username and chat.username and chat.username.lower() == self.username)


# -- from Telegram messages to Incoming ---------------------------------------------------------


def to_incoming(message: Message, *, me: User, channel: ChannelRef, threads: dict[str, str]) -> Incoming | None:
    """The message as an Incoming if it is meant for datacall, else None."""
    author = message.from_user
    text = message.text or message.caption
    if author is None or author.is_bot or author.id == SERVICE_USER_ID or not text:
        return None
    if message.is_automatic_forward:
        return None
    route = _route(message, me=me, channel=channel, threads=threads)
    if route is None:
        return None
    in_reply_to_id, conversation_id = route
    return Incoming(
        external_id=make_ref(message.chat.id, message.message_id),
        author_id=str(author.id),
        author_handle=f"@{author.username}" if author.username else author.first_name,
        text=_without_bot_suffix(text, me),
        sent_at=message.date,
        in_reply_to_id=in_reply_to_id,
        conversation_id=conversation_id,
        url=message.link,
        is_private=message.chat.type == ChatType.PRIVATE,
    )


def _route(
    message: Message, *, me: User, channel: ChannelRef, threads: dict[str, str]
) -> tuple[str | None, str | None] | None:
    """(in_reply_to_id, conversation_id) for a message addressed to datacall, None otherwise."""
    replied = message.reply_to_message
    reply_id = make_ref(message.chat.id, replied.message_id) if replied else None
    if message.chat.type == ChatType.PRIVATE:
        return reply_id, None
    post = channel_post_of(replied, channel)
    if post is not None:  # a comment on one of the channel's posts
        return post, post
    thread = threads.get(make_ref(message.chat.id, message.message_thread_id)) if message.message_thread_id else None
    if thread is not None or _replies_to(replied, me) or _addresses(message, me):
        return reply_id, thread
    return None


def channel_post_of(message: Message | None, channel: ChannelRef) -> str | None:
    """The channel post a discussion-group message is the automatic forward of, as an external id."""
    if message is None:
        return None
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel) or not channel.matches(origin.chat):
        return None
    if not (message.is_automatic_forward or channel.matches(message.sender_chat)):
        return None
    return make_ref(origin.chat.id, origin.message_id)


def remember_thread(message: Message, channel: ChannelRef, threads: dict[str, str]) -> None:
    """Note which discussion thread belongs to which channel post, for comments on comments."""
    for root in (message, message.reply_to_message):
        post = channel_post_of(root, channel) if root is not None else None
        if root is not None and post is not None:
            key = make_ref(root.chat.id, root.message_id)
            threads.pop(key, None)
            threads[key] = post  # newest last, so trimming drops the oldest


def _replies_to(replied: Message | None, me: User) -> bool:
    return bool(replied and replied.from_user and replied.from_user.id == me.id)


def _addresses(message: Message, me: User) -> bool:
    """A mention of the bot, or a command for it (bare commands go to every bot in a group)."""
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION, MessageEntity.BOT_COMMAND]
    entities = {**message.parse_entities(kinds), **message.parse_caption_entities(kinds)}
    name = (me.username or "").lower()
    for entity, text in entities.items():
        if entity.type == MessageEntity.MENTION and text.lower() == f"@{name}":
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            addressee = text.partition("@")[2].lower()
            if addressee in ("", name):
                return True
    return False


def _without_bot_suffix(text: str, me: User) -> str:
    """"/status@datacall_bot" -> "/status", so commands read the same everywhere."""
    if not me.username:
        return text
    return re.sub(rf"^(/\w+)@{re.escape(me.username)}\b", r"\1", text, flags=re.IGNORECASE)


# -- ids ------------------------------------------------------------------------------------------


def make_ref(chat_id: int, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def split_ref(external_id: str) -> tuple[int, int]:
    chat_id, _, message_id = external_id.rpartition(":")
    try:
        return int(chat_id), int(message_id)
    except ValueError:
        raise NetworkError(f"telegram: {external_id!r} is not a <chat_id>:<message_id> id", permanent=True) from None


def post_ref(message: Message) -> PostRef:
    return PostRef(make_ref(message.chat.id, message.message_id), message.link)


# -- errors ---------------------------------------------------------------------------------------


def network_error(exc: TelegramError, token: str) -> NetworkError:
    """Telegram's verdict in the pipeline's terms: wait, retry later, or give up on this target."""
    message = redact(f"telegram: {type(exc).__name__}: {exc.message}", token)
    if isinstance(exc, RetryAfter):
        return NetworkError(message, retry_after=_seconds(exc))
    # Forbidden: blocked by the user, or removed from the chat. BadRequest: chat not
    # found, text refused... sending the same request again gets the same answer.
    if isinstance(exc, (Forbidden, BadRequest, ChatMigrated)):
        return NetworkError(message, permanent=True)
    if isinstance(exc, TimedOut) and _may_have_left(exc):
        # Telegram has no idempotency key: the message may be posted, a resend could repeat it.
        return NetworkError(message, outcome_unknown=True)
    # Transient: NetworkError, a timeout before the request left, Conflict, malformed answers,
    # and InvalidToken, which is about our credentials rather than the target: once fixed, retries go out.
    return NetworkError(message)


def _may_have_left(exc: TimedOut) -> bool:
    """A read or write timeout, not one waiting for a connection (the request never left then)."""
    return not isinstance(exc.__cause__, (httpx.ConnectTimeout, httpx.PoolTimeout))


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after will become a timedelta; accept both.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# -- pacing ------------------------------------------------------------------------------------------


class ChatPacing(AIORateLimiter):
    """PTB's limiter paces the bot overall (30/s) and per group (20/min); this adds 1/s per private chat.

    `max_retries=0`: on a 429 the limiter does not sleep and retry; the RetryAfter
    reaches the pipeline, which schedules the retry itself.
    """

    def __init__(self, *, per_chat_rate: float = FloodLimit.MESSAGES_PER_SECOND_PER_CHAT,
                 per_chat_period: float = 1.0, **kwargs: Any):
        super().__init__(max_retries=0, **kwargs)
        self._private_chats = KeyedPacing(per_chat_rate, per_chat_period)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        async with self._private_chats.slot(_private_chat(data.get("chat_id"))):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def _private_chat(chat_id: object) -> int | None:
    """The id of a private chat, or None for groups and channels, which PTB paces itself."""
    if not isinstance(chat_id, int | str):
        return None
    try:
        chat = int(chat_id)
    except ValueError:
        return None  # "@channel"
    return chat if chat > 0 else None  # groups and channels have negative ids
