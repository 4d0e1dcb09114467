"""Mastodon, on any instance, through Mastodon.py.

Mentions come from the notifications API; replies to our own posts come from
each post's thread (`status_context`), so a citizen who drops the automatic
@mention still counts. Replies go back in the thread with the visibility of
the message they answer: a private mention is answered privately.

Mastodon.py is told to raise on a 429 instead of sleeping (the pipeline owns
waiting), but its rate-limit bookkeeping is kept: the connector refuses a call
once the server said the budget is spent, so a burst never earns a 429.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from functools import partial
from html.parser import HTMLParser
from typing import Any, TypeVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, NetworkConfig
from bot.networks.base import Batch, Connector, Incoming, NetworkError, PollResult, PostRef, ReplyTarget

log = logging.getLogger(__name__)

T = TypeVar("T")

# Blocking calls run inside a poll or send job: never wait minutes for one answer.
REQUEST_TIMEOUT = 30.0
# Used only when a 429 comes without the X-RateLimit-Reset header Mastodon always sends.
DEFAULT_RETRY_AFTER = 60.0
# Requests a fetch leaves unspent so that replies can still go out in the same window.
FETCH_RESERVE = 10
REQUEST_PAGE = 40  # notification requests per page (the API's default and a fair share of the budget)
# Mastodon counts every link as this many characters, whatever its length.
URL_LENGTH = 23
USER_AGENT = "datacall"
VISIBILITIES = ("public", "unlisted", "private", "direct")


class MastodonConfig(NetworkConfig):
    """`[networks.mastodon]`: any instance, the account's home server."""

    api_base_url: str = "https://mastodon.example"
    access_token_env: str = "DATACALL_MASTODON_ACCESS_TOKEN"


class MastodonConnector(Connector):
    name = "mastodon"
    config_model = MastodonConfig
    # Mastodon keeps an Idempotency-Key for an hour and answers a repeat with the first status.
    idempotent_sends = True
    # Mastodon's defaults (instance configuration.polls): 4 options of 50 characters, open up to a month.
    poll_options = 4
    poll_option_length = 50
    max_poll_seconds = 2629746

    def __init__(
        self,
        client: Mastodon,
        *,
        max_length: int = 500,
        page_size: int = 40,
        max_pages: int = 5,
        max_threads: int = 20,
    ):
        self.client = client
        self.max_length = max_length
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_threads = max_threads
        self._account_id: str | None = None
        self._policy_checked = False
        self._requests_checked = False
        # Notification requests accepted at start-up (people whose private mentions were filtered).
        self.accepted_requests = 0

    @classmethod
    def from_config(
        cls, network_config: NetworkConfig, environ: Mapping[str, str], *, sessions: sessionmaker[Session] | None = None
    ) -> MastodonConnector:
        """The client for `api_base_url`; nothing is requested until the first call."""
        assert isinstance(network_config, MastodonConfig)
        variable = network_config.access_token_env
        token = environ.get(variable)
        if not token:
            raise ConfigError(f"networks.mastodon.access_token_env: environment variable {variable} is not set")
        client = Mastodon(
            api_base_url=network_config.api_base_url,
            access_token=token,
            ratelimit_method="throw",
            version_check_mode="none",  # no instance lookup at construction; no call used here needs one
            request_timeout=REQUEST_TIMEOUT,
            user_agent=USER_AGENT,
        )
        return cls(client, max_length=network_config.max_length)

    # -- publishing -------------------------------------------------------

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        status = self._send(
            lambda: self.client.status_post(
                text, visibility="public", idempotency_key=sent_key(idempotency_key, text)
            ),
            gone_is_permanent=False,
        )
        return _post_ref(status)

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        poll = self.client.make_poll(list(options), expires_in=int(duration_seconds))
        status = self._send(
            lambda: self.client.status_post(
                question, poll=poll, visibility="public",
                idempotency_key=sent_key(idempotency_key, question, *options),
            ),
            gone_is_permanent=False,
        )
        return _post_ref(status)

    def poll_results(self, external_id: str) -> PollResult:
        """GET /api/v1/statuses/:id for the poll's id, then GET /api/v1/polls/:id for its counts."""
        status = self._call(lambda: self.client.status(external_id), gone_is_permanent=True)
        if not status.get("poll"):
            raise NetworkError(f"mastodon: status {external_id} has no poll", permanent=True)
        poll = self._call(lambda: self.client.poll(status["poll"]["id"]), gone_is_permanent=True)
        return PollResult(
            votes=tuple(int(option.get("votes_count") or 0) for option in poll["options"]),
            closed=bool(poll.get("expired")),
        )

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        """`text` was fitted by the reply writer with the mention counted (`addressed`): it is not cut here."""
        body = self.addressed(target.author_handle, text)
        if self.text_length(body) > self.max_length:
            raise NetworkError(
                f"mastodon: reply of {self.text_length(body)} characters exceeds {self.max_length}", permanent=True
            )
        visibility = target.visibility if target.visibility in VISIBILITIES else None
        if target.is_private:
            visibility = "direct"  # a private message is never answered where others can read it
        status = self._send(
            lambda: self.client.status_post(
                body,
                in_reply_to_id=target.external_id,
                visibility=visibility,
                idempotency_key=sent_key(idempotency_key, target.external_id, body),
            ),
            gone_is_permanent=True,
        )
        return _post_ref(status)

    def text_length(self, text: str) -> int:
        return status_length(text)

    def mention(self, handle: str) -> str:
        """Replies start with the requester's @mention: without it a reply reaches nobody's notifications."""
        return f"@{handle.lstrip('@')}" if handle.strip("@ ") else ""

    def whoami(self) -> str:
        account = self._call(self.client.account_verify_credentials)
        self._account_id = str(account.id)
        return f"@{account.username}"

    def close(self) -> None:
        self.client.session.close()

    # -- reading ----------------------------------------------------------

    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        """New mentions after `cursor`, then new replies in the threads of `watched` posts.

        When the rate budget runs low midway, what was read so far is returned with
        positions that match it, and the rest waits for the next poll.
        """
        state = {"threads": dict(state.get("threads", {})), "thread_offset": state.get("thread_offset", 0)}
        found: dict[str, Incoming] = {}
        position: dict[str, Any] = {"cursor": cursor, "more": False}
        try:
            self._budget(reserve=FETCH_RESERVE)
            self._accept_private_mentions()
            self._accept_notification_requests(found)
            self._read_mentions(position, found)
            self._read_threads(watched, state, found)
        except _BudgetSpent:
            if not found:
                raise
            position["more"] = False  # the rest waits for the budget's reset
        messages = tuple(sorted(found.values(), key=lambda item: _id_key(item.external_id)))
        return Batch(messages, position["cursor"], state, more=position["more"] and self._has_budget())

    def _has_budget(self) -> bool:
        try:
            self._budget(reserve=FETCH_RESERVE)
        except _BudgetSpent:
            return False
        return True

    def _read_mentions(self, position: dict, found: dict[str, Incoming]) -> None:
        """Walk forward from the cursor (min_id), so a capped fetch never leaves a gap behind it.

        `position["cursor"]` follows every page read, so a fetch cut short keeps its place.
        """
        me = self._me()
        page = None
        for _ in range(self.max_pages):
            self._budget(reserve=FETCH_RESERVE)
            if page is None:
                page = self._call(partial(
                    self.client.notifications, types=["mention"], min_id=position["cursor"] or "0", limit=self.page_size
                ))
            else:  # the Link rel="prev" of the last page: the ones just newer
                page = self._call(partial(self.client.fetch_previous, page))
            for notification in page or ():
                status = notification.get("status")
                if status and str(status.account.id) != me:
                    found.setdefault(str(status.id), to_incoming(status))
                position["cursor"] = _newest(position["cursor"], str(notification.id))
            if not page or len(page) < self.page_size:
                return
        position["more"] = True  # the page cap came before the last page

    def _read_threads(self, watched: Sequence[str], state: dict, found: dict[str, Incoming]) -> None:
        """Replies under our posts, newer than the highest one seen per post (kept in `state`)."""
        threads: dict[str, str | None] = state["threads"]
        posts = sorted({str(post) for post in watched}, key=_id_key)
        for post_id in _window(posts, state, self.max_threads):
            self._budget(reserve=FETCH_RESERVE)
            try:
                context = self._call(partial(self.client.status_context, post_id))
            except NetworkError as exc:
                if isinstance(exc.__cause__, MastodonNotFoundError):
                    continue  # our post was deleted: nothing more to read there
                raise
            threads[post_id] = self._collect_thread(post_id, context.descendants, threads.get(post_id), found)

    def _collect_thread(
        self, post_id: str, descendants, seen: str | None, found: dict[str, Incoming]
    ) -> str | None:
        me = self._me()
        newest = seen
        for status in descendants:
            status_id = str(status.id)
            if seen is not None and _id_key(status_id) <= _id_key(seen):
                continue
            newest = _newest(newest, status_id)
            if str(status.account.id) != me:
                # A status that is both a mention and a reply is kept once, with its thread.
                found[status_id] = to_incoming(status, conversation_id=post_id)
        return newest

    def _me(self) -> str:
        if self._account_id is None:
            self.whoami()
        assert self._account_id is not None  # whoami() stores it
        return self._account_id

    def _accept_private_mentions(self) -> None:
        """Mastodon 4.3+ files private mentions from strangers away by default; a bot must see them.

        Tried once per process; an older server or a token without write:notifications
        only costs a warning, and public mentions and replies still work.
        """
        if self._policy_checked:
            return
        self._policy_checked = True
        try:
            policy = self._call(self.client.notifications_policy, gone_is_permanent=True)
            if policy.get("for_private_mentions") not in (None, "accept"):
                self._call(
                    lambda: self.client.update_notifications_policy(for_private_mentions="accept"),
                    gone_is_permanent=True,
                )
                log.info("mastodon: the account now accepts private mentions from people it does not follow")
        except NetworkError as exc:
            if not exc.permanent:
                self._policy_checked = False  # busy or down: try again at the next fetch
                raise
            log.warning(
                "mastodon: could not make the account accept unsolicited private mentions (%s); "
                "set it in the account's notification settings so private messages reach datacall", exc,
            )

    def waiting_requests(self) -> int:
        """How many notification requests (filtered private mentions, one per account) wait now."""
        count = 0
        page = self._call(partial(self.client.notification_requests, limit=REQUEST_PAGE), gone_is_permanent=True)
        while page:
            count += len(page)
            if len(page) < REQUEST_PAGE:
                break
            page = self._call(partial(self.client.fetch_next, page))
        return count

    def _accept_notification_requests(self, found: dict[str, Incoming]) -> None:
        """At start-up, accept the notification requests Mastodon 4.3+ filed and read their mentions.

        Private mentions from strangers sent before the policy accepted them wait as
        notification requests; accepting one puts its notifications back in the list,
        but below a cursor already stored, so they are read here, by account.
        """
        if self._requests_checked:
            return
        try:
            waiting = []
            page = self._call(lambda: self.client.notification_requests(limit=REQUEST_PAGE), gone_is_permanent=True)
            while page:
                waiting.extend(page)
                if len(page) < REQUEST_PAGE:
                    break
                self._budget(reserve=FETCH_RESERVE)
                page = self._call(partial(self.client.fetch_next, page))
            me = self._me()
            for request in waiting:
                self._budget(reserve=FETCH_RESERVE)
                self._call(partial(self.client.accept_notification_request, request.id), gone_is_permanent=True)
                self.accepted_requests += 1
                mentions = self._call(partial(
                    self.client.notifications, account_id=request.account.id, types=["mention"], limit=REQUEST_PAGE
                ))
                for notification in mentions or ():
                    status = notification.get("status")
                    if status and str(status.account.id) != me:
                        found.setdefault(str(status.id), to_incoming(status))
        except NetworkError as exc:
            if not exc.permanent:
                raise  # busy or down: tried again at the next fetch
            log.warning("mastodon: could not read notification requests (%s): a server before 4.3 has none, "
                        "or the token lacks read:notifications / write:notifications", exc)
        self._requests_checked = True
        if self.accepted_requests:
            log.info("mastodon: accepted %d notification requests (private mentions filtered before start-up)",
                     self.accepted_requests)

    # -- the network seam -------------------------------------------------

    def _send(self, call: Callable[[], T], *, gone_is_permanent: bool) -> T:
        self._budget(reserve=0)
        return self._call(call, gone_is_permanent=gone_is_permanent)

    def _call(self, call: Callable[[], T], *, gone_is_permanent: bool = False) -> T:
        with self._translated(gone_is_permanent=gone_is_permanent):
            return call()

    def _budget(self, *, reserve: int) -> None:
        """Refuse to spend a request the server already said we do not have."""
        reset = self.client.ratelimit_reset
        wait = (reset - time.time()) if reset else 0.0
        if self.client.ratelimit_remaining <= reserve and wait > 0:
            raise _BudgetSpent(
                f"mastodon: rate limit budget spent ({self.client.ratelimit_remaining} left), "
                f"resets in {wait:.0f}s",
                retry_after=wait,
            )

    @contextmanager
    def _translated(self, *, gone_is_permanent: bool) -> Iterator[None]:
        try:
            yield
        except MastodonRatelimitError as exc:
            raise NetworkError(f"mastodon: rate limited: {exc}", retry_after=self._retry_after()) from exc
        except (MastodonNetworkError, MastodonServerError) as exc:
            raise NetworkError(f"mastodon: {_describe(exc)}") from exc
        except MastodonAPIError as exc:
            code = _status_code(exc)
            permanent = code in (401, 403, 404, 410, 422) if gone_is_permanent else code in (403, 422)
            refused = code is not None and 400 <= code < 500  # would be refused again: counts as an attempt
            raise NetworkError(f"mastodon: {_describe(exc)}", permanent=permanent, transient=not refused) from exc
        except MastodonError as exc:
            raise NetworkError(f"mastodon: {_describe(exc)}") from exc

    def _retry_after(self) -> float:
        reset = self.client.ratelimit_reset  # parsed by Mastodon.py from X-RateLimit-Reset
        if reset:
            return max(reset - time.time(), 1.0)
        return DEFAULT_RETRY_AFTER


class _BudgetSpent(NetworkError):
    """Raised before a request, so a fetch can keep what it already read."""


# -- conversions ----------------------------------------------------------


def to_incoming(status, *, conversation_id: str | None = None) -> Incoming:
    """A Mastodon.py Status as the pipeline's plain message."""
    visibility = status.get("visibility")
    text = html_to_text(status.get("content") or "")
    if status.get("spoiler_text"):
        text = f"{status.spoiler_text}\n{text}"
    created_at = status.get("created_at")
    return Incoming(
        external_id=str(status.id),
        author_id=str(status.account.id),
        author_handle=f"@{status.account.acct}",
        text=text,
        sent_at=created_at.astimezone(UTC) if created_at else None,
        in_reply_to_id=str(status.in_reply_to_id) if status.get("in_reply_to_id") else None,
        conversation_id=conversation_id,
        lang=status.get("language") or None,
        url=status.get("url") or status.get("uri"),
        is_private=visibility == "direct",
        visibility=visibility,
    )


def sent_key(idempotency_key: str, *content: str) -> str:
    """The pipeline's key, tied to what is sent.

    Mastodon keeps keys per account for an hour: a second datacall database on the same
    account (a re-initialised one, a test run) reuses "datacall-post-1" for another text,
    and must not get the old status back. A retry of the same row sends the same content.
    """
    digest = hashlib.sha256("\x1f".join(content).encode("utf-8")).hexdigest()[:16]
    return f"{idempotency_key}-{digest}"


def _post_ref(status) -> PostRef:
    return PostRef(str(status.id), status.get("url") or status.get("uri"))


class _TextExtractor(HTMLParser):
    """Mastodon's sanitized HTML as the words a reader sees: links and mentions by their text."""

    BREAKS = {"br": "\n", "p": "\n\n", "li": "\n", "blockquote": "\n\n"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.BREAKS:
            self.parts.append(self.BREAKS[tag])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "blockquote"):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_BLANK_RUNS = re.compile(r"[ \t]*\n[ \t]*\n\s*")
# The addressing a reply starts with ("@datacall @ana@other.social ..."), not part of the message.
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.]+(?:@[\w.-]+)?[\s,:]+)+")


def html_to_text(html: str) -> str:
    """Plain text of a status: paragraphs and line breaks kept, entities unescaped, leading @mentions dropped."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in _BLANK_RUNS.sub("\n\n", text).strip().split("\n")]
    text = "\n".join(lines).strip()
    stripped = _LEADING_MENTIONS.sub("", text)
    return stripped or text


# -- text length ----------------------------------------------------------

_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\"»"


def status_length(text: str) -> int:
    """Characters as Mastodon counts them: any link is 23 (its trailing punctuation is text)."""

    def counted(match: re.Match) -> str:
        link = match.group(0)
        trailing = len(link) - len(link.rstrip(_TRAILING_PUNCTUATION))
        return "x" * (URL_LENGTH + trailing)

    return len(_LINK.sub(counted, text))


# -- small helpers --------------------------------------------------------


def _id_key(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings of growing length: order by length, then text."""
    return len(status_id), status_id


def _newest(current: str | None, candidate: str) -> str:
    if current is None or _id_key(candidate) > _id_key(current):
        return candidate
    return current


def _window(posts: list[str], state: dict, size: int) -> list[str]:
    """Up to `size` posts per fetch, taking turns when there are more, so every thread is read."""
    if len(posts) <= size:
        state["thread_offset"] = 0
        return posts
    offset = int(state.get("thread_offset", 0)) % len(posts)
    state["thread_offset"] = (offset + size) % len(posts)
    return (posts[offset:] + posts[:offset])[:size]


def _status_code(exc: MastodonAPIError) -> int | None:
    """Mastodon.py puts the HTTP status second in the args of the errors it raises for a response."""
    code = exc.args[1] if len(exc.args) > 1 else None
    return code if isinstance(code, int) else None


def _describe(exc: Exception) -> str:
    parts: list[Any] = [part for part in exc.args if part not in (None, "")]
    return f"{type(exc).__name__}: {' '.join(str(part) for part in parts)}"[:500]
