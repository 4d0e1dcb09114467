"""X (Twitter): post calls, read mentions and replies to our calls, answer in thread.

Driven by tweepy's API v2 `Client`. tweepy writes `https://api.twitter.com`
into every URL, so the client gets an `XSession` that re-aims each request at
`api_base_url` (after OAuth 1.0a signing, so a transparent proxy forwards a
signature X accepts), adds a timeout tweepy lacks, and keeps each endpoint's
rate-limit headers so that datacall stops calling an exhausted endpoint before
X answers 429. tweepy never sleeps (`wait_on_rate_limit=False`): the pipeline
owns waiting. No direct messages on X yet: every message is public.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, NetworkConfig
from bot.networks.base import (
    CANNOT_TELL,
    NOT_FOUND,
    Batch,
    Connector,
    Incoming,
    Lookup,
    NetworkError,
    PollResult,
    PostRef,
    ReplyTarget,
)

log = logging.getLogger(__name__)
# tweepy's DEBUG lines print request headers, the bearer token included: never let them out.
logging.getLogger("tweepy.client").setLevel(logging.INFO)

TWEEPY_HOST = "https://api.twitter.com"  # hard-coded in tweepy.BaseClient.request
WEB_URL = "https://x.com"
TWEET_FIELDS = ["author_id", "conversation_id", "created_at", "in_reply_to_user_id", "lang", "referenced_tweets"]
EXPANSIONS = ["author_id"]
USER_FIELDS = ["username"]
# The rate-limit windows X reports, as header prefixes: 15-minute, then daily caps on posting.
LIMIT_WINDOWS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
# A 429 without any reset header: X's windows are 15 minutes; try again in a minute.
DEFAULT_RETRY_AFTER = 60.0
# Recent search refuses a since_id older than its 7-day window (400), so such a since_id is left out.
SEARCH_WINDOW = timedelta(days=7) - timedelta(hours=1)
SNOWFLAKE_EPOCH_MS = 1288834974657
# A first poll reads back this far before "now" when no call is watched yet (clock skew, a late start).
FIRST_POLL_LOOKBACK = timedelta(minutes=5)
# X language codes that name no language (undetermined, media only, hashtags only, ...).
NO_LANGUAGE = {"und", "zxx", "art"}
MENTIONS = "GET /2/users/:id/mentions"
OWN_TWEETS = "GET /2/users/:id/tweets"
# Pages of our own timeline read when looking for a reply or post that may have gone out (100 tweets each).
LOOKUP_PAGES = 5
# A link in a text, as X finds it: punctuation that ends a sentence is not part of it.
LINK = re.compile(r"(https?://\S+?)(?=[.,;:!?'\")\]]*(?:\s|$))")
TCO = re.compile(r"https?://t\.co/\w+$")

T = TypeVar("T")
# Whether one of our tweets, with the polls X expanded (by id), is the one looked for.
Matcher = Callable[[tweepy.Tweet, Mapping[str, tweepy.Poll]], bool]


class RateLimits:
    """The latest rate-limit headers per endpoint, to refuse a call whose window is spent."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._exhausted_until: dict[str, float] = {}

    def record(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        key = endpoint_key(method, url)
        until = exhausted_until(headers)
        if until is None:
            self._exhausted_until.pop(key, None)
        else:
            self._exhausted_until[key] = until

    def wait_seconds(self, endpoint: str) -> float | None:
        """Seconds until `endpoint` ("GET /2/users/:id/mentions") may be called again, if it is spent."""
        until = self._exhausted_until.get(endpoint)
        if until is None:
            return None
        wait = until - self.clock()
        return wait if wait > 0 else None


class XSession(requests.Session):
    """tweepy's HTTP session, aimed at `api_base_url`, with a timeout and rate-limit bookkeeping."""

    def __init__(self, api_base_url: str, *, limits: RateLimits | None = None, timeout: tuple[float, float] = (5, 30)):
        super().__init__()
        self.api_base_url = api_base_url.rstrip("/")
        self.limits = limits or RateLimits()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Rewritten here, after auth signed the canonical URL (Session.request prepares, then sends).
        url = request.url
        if url and url.startswith(TWEEPY_HOST + "/") and self.api_base_url != TWEEPY_HOST:
            request = request.copy()
            request.url = self.api_base_url + url[len(TWEEPY_HOST):]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = super().send(request, **kwargs)
        self.limits.record(request.method or "GET", request.url or "", response.headers)
        return response


def make_client(
    api_base_url: str,
    *,
    bearer_token: str | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    access_token: str | None = None,
    access_token_secret: str | None = None,
) -> tweepy.Client:
    """A tweepy v2 Client that talks to `api_base_url` and never sleeps on rate limits."""
    client = tweepy.Client(
        bearer_token=bearer_token,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        wait_on_rate_limit=False,
    )
    client.session.close()
    client.session = XSession(api_base_url)
    return client


@dataclass(frozen=True)
class Window:
    """Where reading one timeline (newest first) stands.

    While a poll stopped at the page cap, `until_id` is the oldest tweet read and
    `newest` the newest: the next poll reads below `until_id`, and only then
    moves `since_id` up to `newest`, so a burst is never skipped.
    """

    since_id: str | None
    until_id: str | None = None
    newest: str | None = None

    @classmethod
    def load(cls, data: Mapping[str, Any] | None, since_id: str | None) -> Window:
        data = data or {}
        return cls(data.get("since_id", since_id), data.get("until_id"), data.get("newest"))

    def dump(self) -> dict[str, str]:
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass
class Page:
    """Tweets read from one timeline, with the authors X expanded."""

    tweets: list[tweepy.Tweet]
    users: dict[int, tweepy.User]


class TwitterConfig(NetworkConfig):
    """`[networks.twitter]`: a user-context OAuth 1.0a key set to post, or a bearer token alone to read."""

    # Honoured, so a proxy or an emulator works.
    api_base_url: str = "https://api.twitter.com"
    # The account's handle (without @); needed only with an app-only bearer token.
    username: str = ""
    bearer_token_env: str = "DATACALL_TWITTER_BEARER_TOKEN"
    consumer_key_env: str = "DATACALL_TWITTER_CONSUMER_KEY"
    consumer_secret_env: str = "DATACALL_TWITTER_CONSUMER_SECRET"
    access_token_env: str = "DATACALL_TWITTER_ACCESS_TOKEN"
    access_token_secret_env: str = "DATACALL_TWITTER_ACCESS_TOKEN_SECRET"
    max_length: Annotated[int, Field(ge=50)] = 280

    def missing_secrets(self, environ: Mapping[str, str]) -> dict[str, str]:
        """None when the four user-context keys are set, or the bearer token; else all that is missing."""
        missing = super().missing_secrets(environ)
        user_context_set = not any(key in missing for key in self.secret_keys() if key != "bearer_token_env")
        if user_context_set or "bearer_token_env" not in missing:
            return {}
        return missing


class TwitterConnector(Connector):
    name = "twitter"
    config_model = TwitterConfig
    idempotent_sends = False  # X has no idempotency key; a repeated text is refused as a duplicate
    # X polls: 2 to 4 options of 25 characters, open 5 minutes to 7 days.
    poll_options = 4
    poll_option_length = 25
    max_poll_seconds = 7 * 24 * 3600
    finds_own_replies = True  # GET /2/users/:id/tweets lists what the account posted
    finds_own_posts = True

    def __init__(
        self,
        client: tweepy.Client,
        *,
        max_length: int = 280,
        username: str | None = None,
        page_size: int = 100,
        max_pages: int = 5,
        clock: Callable[[], float] = time.time,
    ):
        self.client = client
        self.max_length = max_length
        # With an app-only bearer token X cannot say who "me" is: the handle is looked up instead.
        self.username = username.lstrip("@") if username else None
        self.page_size = page_size
        self.max_pages = max_pages
        self.clock = clock
        self.user_auth = all(
            (client.consumer_key, client.consumer_secret, client.access_token, client.access_token_secret)
        )
        session = client.session
        self.limits = session.limits if isinstance(session, XSession) else RateLimits(clock)
        self._me: tuple[str, str] | None = None
        self._me_lock = threading.Lock()

    @classmethod
    def from_config(
        cls, network_config: NetworkConfig, environ: Mapping[str, str], *, sessions: sessionmaker[Session] | None = None
    ) -> TwitterConnector:
        """OAuth 1.0a user context when all four keys are set, else the OAuth 2 bearer token."""
        assert isinstance(network_config, TwitterConfig)
        def secret(key: str) -> str | None:
            return environ.get(getattr(network_config, key)) or None

        user_keys = {
            "consumer_key": secret("consumer_key_env"),
            "consumer_secret": secret("consumer_secret_env"),
            "access_token": secret("access_token_env"),
            "access_token_secret": secret("access_token_secret_env"),
        }
        if all(user_keys.values()):
            client = make_client(network_config.api_base_url, **user_keys)
        elif bearer := secret("bearer_token_env"):
            client = make_client(network_config.api_base_url, bearer_token=bearer)
        else:
            raise ConfigError(
                f"networks.twitter: set {network_config.consumer_key_env}, {network_config.consumer_secret_env}, "
                f"{network_config.access_token_env} and {network_config.access_token_secret_env}, "
                f"or {network_config.bearer_token_env}"
            )
        return cls(
            client,
            max_length=network_config.max_length,
            username=network_config.username or None,
        )

    # Publishing

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        self._check_length(text)
        response = self._call("POST /2/tweets", lambda: self.client.create_tweet(text=text, user_auth=self.user_auth))
        return self._ref(response.data["id"])

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        if target.is_private:
            raise NetworkError("X direct messages are not supported", permanent=True)
        self._check_length(text)
        response = self._call(
            "POST /2/tweets",
            lambda: self.client.create_tweet(
                text=text, in_reply_to_tweet_id=target.external_id, user_auth=self.user_auth
            ),
        )
        return self._ref(response.data["id"])

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        if not 2 <= len(options) <= 4 or any(not 1 <= len(option) <= 25 for option in options):
            raise NetworkError("X polls take 2 to 4 options of 1 to 25 characters", permanent=True)
        self._check_length(question)
        minutes = min(max(round(duration_seconds / 60), 5), 7 * 24 * 60)
        response = self._call(
            "POST /2/tweets",
            lambda: self.client.create_tweet(
                text=question, poll_options=list(options), poll_duration_minutes=minutes, user_auth=self.user_auth
            ),
        )
        return self._ref(response.data["id"])

    def poll_results(self, external_id: str) -> PollResult:
        """GET /2/tweets/:id with the poll expanded: each option's position, label and votes."""
        response = self._call(
            "GET /2/tweets/:id",
            lambda: self.client.get_tweet(
                external_id, expansions=["attachments.poll_ids"],
                poll_fields=["duration_minutes", "end_datetime", "options", "voting_status"],
                user_auth=self.user_auth,
            ),
        )
        polls = (response.includes or {}).get("polls") or []
        if response.data is None or not polls:
            raise NetworkError(f"X: tweet {external_id} has no poll", permanent=True)
        options = sorted(polls[0].options, key=lambda option: option["position"])
        return PollResult(
            votes=tuple(int(option.get("votes", 0)) for option in options),
            closed=polls[0].voting_status == "closed",
        )

    def text_length(self, text: str) -> int:
        return weighted_length(text)

    def whoami(self) -> str:
        return f"@{self._account()[1]}"

    def probe(self) -> None:
        """GET /2/users/me (by username with a bearer token), asked every time, never the cached answer."""
        if self.username:
            self._call("GET /2/users/by/username/:username",
                       lambda: self.client.get_user(username=self.username, user_auth=self.user_auth))
        else:
            self._call("GET /2/users/me", lambda: self.client.get_me(user_auth=self.user_auth))

    def find_own_reply(self, target: ReplyTarget, *, since: datetime, known: Collection[str] = ()) -> Lookup:
        """Our tweets since `since` (GET /2/users/:id/tweets), newest first: the oldest one replying to `target`.

        Cannot tell when more than `LOOKUP_PAGES` pages were posted since and none of them is it.
        """
        def answers(tweet: tweepy.Tweet, polls: Mapping[str, tweepy.Poll]) -> bool:
            return target.external_id in {str(ref.id) for ref in tweet.referenced_tweets or []
                                          if ref.type == "replied_to"}

        return self._find_own(since, known, answers, exclude=["retweets"],
                              tweet_fields=["created_at", "referenced_tweets"])

    def find_own_post(
        self, text: str, *, since: datetime, known: Collection[str] = (), poll_options: Sequence[str] = ()
    ) -> Lookup:
        """Our tweets since `since` that are not replies (GET /2/users/:id/tweets), newest first: the oldest
        one showing `text` as X shows it (`shows_as`), with a poll of exactly `poll_options` if any, else none.

        Cannot tell when more than `LOOKUP_PAGES` pages were posted since and none of them is it.
        """
        wanted = tuple(_plain(option) for option in poll_options)

        def is_it(tweet: tweepy.Tweet, polls: Mapping[str, tweepy.Poll]) -> bool:
            if any(ref.type == "replied_to" for ref in tweet.referenced_tweets or []):
                return False
            note = tweet.data.get("note_tweet") or {}  # a long post: `text` is cut, the note holds it whole
            shown = note.get("text") or tweet.text
            links = (note.get("entities") if note.get("text") else tweet.entities) or {}
            return shows_as(text, shown, links.get("urls") or ()) and _poll_labels(tweet, polls) == wanted

        return self._find_own(
            since, known, is_it, exclude=["replies", "retweets"],
            tweet_fields=["attachments", "created_at", "entities", "note_tweet", "referenced_tweets"],
            expansions=["attachments.poll_ids"], poll_fields=["options"],
        )

    def _find_own(
        self, since: datetime, known: Collection[str], matches: Matcher, **params: Any
    ) -> Lookup:
        """The oldest of our tweets since `since` that `matches` (with the polls X expanded), not among `known`."""
        my_id, _ = self._account()
        since_id = snowflake_at(since.timestamp())
        found, token = None, None
        for _ in range(LOOKUP_PAGES):
            response = self._call(
                OWN_TWEETS,
                partial(
                    self.client.get_users_tweets, my_id, since_id=since_id, pagination_token=token, max_results=100,
                    user_auth=self.user_auth, **params,
                ),
            )
            polls = {str(poll.id): poll for poll in (response.includes or {}).get("polls") or []}
            for tweet in response.data or []:
                if str(tweet.id) not in known and matches(tweet, polls):
                    found = tweet  # newest first: the last match is the oldest
            token = (response.meta or {}).get("next_token")
            if found is not None:
                return Lookup(checked=True, found=self._ref(str(found.id)))
            if not token:
                return NOT_FOUND
        return CANNOT_TELL

    def close(self) -> None:
        self.client.session.close()

    # Reading

    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        """Mentions since `cursor`, plus replies in the conversation of every watched post.

        The first poll starts at our oldest watched post, or at "now": the account's
        older mentions predate datacall and must not get acknowledgements years late.
        """
        my_id, _ = self._account()
        pending = state.get("mentions") or {}
        if cursor is None:
            start = self.clock() - FIRST_POLL_LOOKBACK.total_seconds()
            cursor = min(watched, key=int) if watched else snowflake_at(start)
        mentions = Window(cursor, pending.get("until_id"), pending.get("newest"))
        page, mentions = self._read(self._mentions_page, mentions)
        tweets = {tweet.id: tweet for tweet in page.tweets}
        users = dict(page.users)
        conversations, polls = self._read_conversations(state, watched, tweets, users)
        new_state: dict[str, Any] = {"conversations": conversations, "polls": polls}
        if mentions.until_id:
            new_state["mentions"] = {"until_id": mentions.until_id, "newest": mentions.newest}
        messages = tuple(
            _incoming(tweet, users)
            for tweet in sorted(tweets.values(), key=lambda t: t.id)
            if str(tweet.author_id) != my_id and not _is_retweet(tweet)
        )
        # Older mentions remain below the page cap: more, if the endpoint's window is not spent.
        more = mentions.until_id is not None and self.limits.wait_seconds(MENTIONS) is None
        return Batch(messages, mentions.since_id, new_state, more=more)

    def _read_conversations(
        self, state: dict, watched: Sequence[str], tweets: dict[int, tweepy.Tweet], users: dict[int, tweepy.User]
    ) -> tuple[dict[str, dict], int]:
        """Each watched post's replies since its own since_id; a spent search window waits for the next poll."""
        polls = int(state.get("polls", 0)) + 1
        known = state.get("conversations", {})
        kept = {post_id: dict(known.get(post_id, {})) for post_id in watched}
        # Least recently read first, so that a rate limit never starves the same posts.
        for post_id in sorted(kept, key=lambda p: (kept[p].get("read", 0), int(p))):
            window = Window.load(kept[post_id], post_id)
            try:
                page, window = self._read(partial(self._replies_page, post_id), window)
            except NetworkError as exc:
                if exc.retry_after is None:
                    raise
                log.warning("twitter: conversation search paused for %.0fs: %s", exc.retry_after, exc)
                break
            for tweet in page.tweets:
                tweets.setdefault(tweet.id, tweet)  # a reply that is also a mention counts once
            users.update(page.users)
            kept[post_id] = {**window.dump(), "read": polls}
        return kept, polls

    def _read(self, read_page: Callable[[Window, str | None], Any], window: Window) -> tuple[Page, Window]:
        """Follow one timeline's pages, newest first, up to `max_pages`."""
        page = Page([], {})
        token = None
        for _ in range(self.max_pages):
            response = read_page(window, token)
            page.tweets.extend(response.data or [])
            page.users.update({user.id: user for user in response.includes.get("users", [])})
            token = response.meta.get("next_token")
            if not token:
                break
        ids = [tweet.id for tweet in page.tweets]
        newest = max([*ids, *([int(window.newest)] if window.newest else [])], default=None)
        if token and ids:  # older tweets remain unread: next time, read below the oldest one read
            return page, Window(window.since_id, str(min(ids)), str(newest))
        return page, Window(str(newest) if newest else window.since_id)

    def _mentions_page(self, window: Window, token: str | None):
        my_id, _ = self._account()
        return self._call(
            MENTIONS,
            lambda: self.client.get_users_mentions(
                my_id,
                since_id=window.since_id,
                until_id=window.until_id,
                pagination_token=token,
                max_results=self.page_size,
                expansions=EXPANSIONS,
                tweet_fields=TWEET_FIELDS,
                user_fields=USER_FIELDS,
                user_auth=self.user_auth,
            ),
        )

    def _replies_page(self, post_id: str, window: Window, token: str | None):
        since_id = window.since_id if window.since_id and self._searchable(window.since_id) else None
        return self._call(
            "GET /2/tweets/search/recent",
            lambda: self.client.search_recent_tweets(
                f"conversation_id:{post_id}",
                since_id=since_id,
                until_id=window.until_id,
                next_token=token,
                max_results=max(self.page_size, 10),
                expansions=EXPANSIONS,
                tweet_fields=TWEET_FIELDS,
                user_fields=USER_FIELDS,
                user_auth=self.user_auth,
            ),
        )

    def _searchable(self, tweet_id: str) -> bool:
        return self.clock() - snowflake_time(tweet_id) < SEARCH_WINDOW.total_seconds()

    # Plumbing

    def _account(self) -> tuple[str, str]:
        """Our own user id and handle, asked once: our tweets must never come back as citizens'."""
        with self._me_lock:
            if self._me is None:
                if self.username:
                    response = self._call(
                        "GET /2/users/by/username/:username",
                        lambda: self.client.get_user(username=self.username, user_auth=self.user_auth),
                    )
                else:
                    response = self._call("GET /2/users/me", lambda: self.client.get_me(user_auth=self.user_auth))
                if response.data is None:
                    raise NetworkError(f"X did not return the account: {response.errors}")
                self._me = (str(response.data.id), response.data.username)
            return self._me

    def _call(self, endpoint: str, request: Callable[[], T]) -> T:
        wait = self.limits.wait_seconds(endpoint)
        if wait is not None:
            raise NetworkError(f"X {endpoint}: rate-limit window spent, resets in {wait:.0f}s", retry_after=wait)
        with x_errors(endpoint, self.clock):
            return request()

    def _ref(self, tweet_id: str) -> PostRef:
        return PostRef(str(tweet_id), f"{WEB_URL}/{self._account()[1]}/status/{tweet_id}")

    def _check_length(self, text: str) -> None:
        length = weighted_length(text)
        if length > self.max_length:
            raise NetworkError(f"X post of weighted length {length} exceeds {self.max_length}", permanent=True)


@contextmanager
def x_errors(endpoint: str, clock: Callable[[], float] = time.time) -> Iterator[None]:
    """tweepy and requests errors as NetworkError: 429 waits for X's reset, 5xx and I/O are transient."""
    try:
        yield
    except tweepy.TooManyRequests as exc:
        wait = retry_after(exc.response.headers, clock())
        raise NetworkError(f"X {endpoint}: rate limited ({exc})", retry_after=wait) from exc
    except (tweepy.BadRequest, tweepy.Unauthorized, tweepy.Forbidden, tweepy.NotFound) as exc:
        raise NetworkError(f"X {endpoint}: {exc}", permanent=True) from exc
    except tweepy.HTTPException as exc:  # 5xx and unexpected statuses; an unexpected 4xx would repeat
        status = getattr(exc.response, "status_code", None) or 500
        raise NetworkError(f"X {endpoint}: {exc}", transient=not 400 <= status < 500) from exc
    except requests.ReadTimeout as exc:
        # The request left and no answer came: X may have posted it, and X has no idempotency key.
        raise NetworkError(f"X {endpoint}: {type(exc).__name__}: {exc}", outcome_unknown=True) from exc
    except (requests.exceptions.InvalidJSONError, requests.exceptions.ChunkedEncodingError) as exc:
        # X answered, but not readably: a POST may have gone through.
        raise NetworkError(f"X {endpoint}: malformed response: {exc!r}", outcome_unknown=_writes(endpoint)) from exc
    except requests.RequestException as exc:  # connection, connect timeout
        raise NetworkError(f"X {endpoint}: {type(exc).__name__}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise NetworkError(f"X {endpoint}: malformed response: {exc!r}", outcome_unknown=_writes(endpoint)) from exc


def _writes(endpoint: str) -> bool:
    return endpoint.startswith("POST ")


def retry_after(headers: Mapping[str, str], now: float) -> float:
    """Seconds until the spent window resets (X sends no Retry-After, only epoch resets)."""
    until = exhausted_until(headers)
    if until is None:
        resets = [_int(headers.get(f"{window}-reset")) for window in LIMIT_WINDOWS]
        until = max((reset for reset in resets if reset), default=None)
    if until is None:
        return DEFAULT_RETRY_AFTER
    return max(until - now, 1.0)


def exhausted_until(headers: Mapping[str, str]) -> float | None:
    """The latest reset among the windows these headers report as spent."""
    resets = []
    for window in LIMIT_WINDOWS:
        remaining, reset = _int(headers.get(f"{window}-remaining")), _int(headers.get(f"{window}-reset"))
        if remaining is not None and remaining <= 0 and reset is not None:
            resets.append(float(reset))
    return max(resets, default=None)


def endpoint_key(method: str, url: str) -> str:
    """"GET /2/users/:id/mentions": X limits per endpoint, whatever the ids in the path."""
    path = requests.utils.urlparse(url).path
    _, _, rest = path.partition("/2/")  # after any prefix of api_base_url
    if rest.startswith("users/by/username/"):
        return f"{method} /2/users/by/username/:username"
    return f"{method} /2/" + "/".join(":id" if part.isdigit() else part for part in rest.split("/"))


def weighted_length(text: str) -> int:
    """X's count: a link is 23, most of Latin and punctuation 1, everything else (CJK, emoji) 2."""
    text = unicodedata.normalize("NFC", text)
    weight = 0
    for part in re.split(r"(https?://\S+)", text):
        if part.startswith(("http://", "https://")):
            weight += 23
            continue
        weight += sum(1 if _light(ord(char)) else 2 for char in part)
    return weight


def shows_as(sent: str, shown: str, links: Sequence[Mapping[str, Any]] = ()) -> bool:
    """Whether `shown`, a tweet's text as X returns it, is the text `sent`.

    X wraps every link in a t.co link (`links`, the tweet's entities.urls, say where each leads),
    escapes &, < and >, and trims the ends; the rest is compared after NFC and collapsing spaces.
    A t.co link X says nothing about stands for any link.
    """
    expanded = {str(link.get("url")): link.get("expanded_url") for link in links if link.get("url")}
    ours, theirs = _text_and_links(sent), _text_and_links(unescape_x(shown))
    if len(ours) != len(theirs):
        return False
    for index, (mine, seen) in enumerate(zip(ours, theirs, strict=True)):
        if index % 2 == 0:  # the text between two links
            if mine != seen:
                return False
            continue
        target = expanded.get(seen) or (None if TCO.match(seen) else seen)
        if target is not None and _link_key(target) != _link_key(mine):
            return False
    return True


def unescape_x(text: str) -> str:
    """A tweet's text as written: X's API escapes exactly these three characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_and_links(text: str) -> list[str]:
    """Text, link, text, link, ..., text: links at the odd positions."""
    return LINK.split(_plain(text))


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _link_key(url: str) -> tuple[str, str, str, str]:
    """A link, whatever its scheme, host case or trailing slash."""
    parts = urlsplit(url)
    return parts.netloc.lower(), parts.path.rstrip("/"), parts.query, parts.fragment


def _poll_labels(tweet: tweepy.Tweet, polls: Mapping[str, tweepy.Poll]) -> tuple[str, ...]:
    """The options of the tweet's poll (expanded in `polls`), in order; () without a poll."""
    for poll_id in (tweet.attachments or {}).get("poll_ids") or []:
        poll = polls.get(str(poll_id))
        if poll is not None:
            return tuple(_plain(option["label"]) for option in sorted(poll.options, key=lambda o: o["position"]))
    return ()


def snowflake_time(tweet_id: str) -> float:
    """When X made an id, in epoch seconds: ids are Twitter snowflakes."""
    return ((int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000


def snowflake_at(epoch_seconds: float) -> str:
    """The smallest id X could give a tweet made at that time: a since_id meaning "from then on"."""
    return str((int(epoch_seconds * 1000) - SNOWFLAKE_EPOCH_MS) << 22)


def _light(code: int) -> bool:
    return code <= 4351 or 8192 <= code <= 8205 or 8208 <= code <= 8223 or 8242 <= code <= 8247


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _is_retweet(tweet: tweepy.Tweet) -> bool:
    return any(ref.type == "retweeted" for ref in tweet.referenced_tweets or [])


def _incoming(tweet: tweepy.Tweet, users: Mapping[int, tweepy.User]) -> Incoming:
    author = users.get(tweet.author_id)
    username = author.username if author else None
    replied_to = next((ref.id for ref in tweet.referenced_tweets or [] if ref.type == "replied_to"), None)
    lang = tweet.lang if tweet.lang and tweet.lang not in NO_LANGUAGE and not tweet.lang.startswith("q") else None
    return Incoming(
        external_id=str(tweet.id),
        author_id=str(tweet.author_id),
        author_handle=f"@{username}" if username else "",
        text=tweet.text,
        sent_at=tweet.created_at.astimezone(UTC) if isinstance(tweet.created_at, datetime) else None,
        in_reply_to_id=str(replied_to) if replied_to else None,
        conversation_id=str(tweet.conversation_id) if tweet.conversation_id else None,
        lang=lang,
        url=f"{WEB_URL}/{username or 'i/web'}/status/{tweet.id}",
        is_private=False,
        visibility="public",
    )
