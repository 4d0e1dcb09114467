"""A stateful X API v2 server on 127.0.0.1, for driving the real tweepy client.

It implements the endpoints datacall uses, with the documented shapes
(https://docs.x.com, tests/data/twitter/x-api-v2-openapi.json): users/me,
users/by/username, POST tweets (replies, polls), users/:id/mentions,
users/:id/tweets (an account's own timeline) and tweets/search/recent
(`conversation_id:` queries only), with since_id, until_id, max_results,
pagination tokens, fields and expansions (polls too). A tweet posted through
the API reads back as X shows it: each link wrapped in a t.co link (with its
`entities.urls` entry), & < > escaped. It checks credentials (bearer
tokens, and OAuth 1.0a HMAC-SHA1 signatures computed over
https://api.twitter.com, the URL tweepy signs), counts 15-minute rate-limit
windows and sends the x-rate-limit-* headers, and can be told to fail. Every
request and response is recorded so tests can check them against the spec.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oauthlib.oauth1.rfc5849 import signature, utils
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.server import LocalServer

SIGNED_HOST = "https://api.twitter.com"
SNOWFLAKE_EPOCH_MS = 1288834974657
SEARCH_WINDOW_SECONDS = 7 * 24 * 3600
RATE_WINDOW_SECONDS = 15 * 60
# A link in a posted text, as X finds it: sentence punctuation right after it stays outside.
LINK = re.compile(r"https?://[^\s]+?(?=[.,;:!?)\]'\"]*(?:\s|$))")

# Enumerations from the OpenAPI document's TweetFields, TweetExpansions and UserFields parameters.
TWEET_FIELDS = {
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id",
    "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes",
    "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld",
}
EXPANSIONS = {
    "article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet",
    "attachments.poll_ids", "author_id", "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id",
    "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id",
}
USER_FIELDS = {
    "affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id",
    "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription",
    "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld",
}

# endpoint name -> (rate-limit key, path in the OpenAPI document, requests per 15 minutes)
ENDPOINTS = {
    "users_me": ("GET /2/users/me", "/2/users/me", 75),
    "user_by_username": ("GET /2/users/by/username/:username", "/2/users/by/username/{username}", 900),
    "create_tweet": ("POST /2/tweets", "/2/tweets", 100),
    "mentions": ("GET /2/users/:id/mentions", "/2/users/{id}/mentions", 180),
    "user_tweets": ("GET /2/users/:id/tweets", "/2/users/{id}/tweets", 900),
    "search_recent": ("GET /2/tweets/search/recent", "/2/tweets/search/recent", 180),
    "tweet_lookup": ("GET /2/tweets/:id", "/2/tweets/{id}", 900),
}
URLS = Map([
    Rule("/2/users/me", endpoint="users_me", methods=["GET"]),
    Rule("/2/users/by/username/<username>", endpoint="user_by_username", methods=["GET"]),
    Rule("/2/users/<user_id>/mentions", endpoint="mentions", methods=["GET"]),
    Rule("/2/users/<user_id>/tweets", endpoint="user_tweets", methods=["GET"]),
    Rule("/2/tweets", endpoint="create_tweet", methods=["POST"]),
    Rule("/2/tweets/search/recent", endpoint="search_recent", methods=["GET"]),
    Rule("/2/tweets/<tweet_id>", endpoint="tweet_lookup", methods=["GET"]),
])
USER_ONLY = {"users_me", "create_tweet"}  # refused to an app-only bearer token

PROBLEMS = {
    401: {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    404: {"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"},
    429: {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
    500: {"title": "Internal Server Error", "detail": "Internal Server Error", "type": "about:blank", "status": 500},
    503: {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503},
}
APP_ONLY_FORBIDDEN = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
              "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}


def forbidden(detail: str) -> dict:
    return {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def invalid(parameter: str, value: str, message: str) -> ApiError:
    return ApiError(400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    args: dict[str, str]
    json: Any
    auth: str  # "oauth1", "bearer-user" or "bearer-app"


@dataclass
class Exchange:
    """One response the fake sent, with the OpenAPI operation it answers."""

    method: str
    spec_path: str
    status: int
    body: Any
    request_json: Any = None


@dataclass
class Scripted:
    endpoint: str | None
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass
class RateWindow:
    limit: int
    used: int = 0
    reset: int = 0


@dataclass
class FakeX(LocalServer):
    """The X API v2 subset datacall uses. Start it, aim `api_base_url` at `url`, drive it from tests."""

    bot_username: str = "datacall_city"
    bearer_token: str | None = "fake-user-bearer"      # an OAuth 2.0 user-context token
    app_bearer_token: str | None = "fake-app-bearer"   # an app-only token: read-only
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1498765432101234567-fakeaccesstoken"
    access_token_secret: str = "fake-access-token-secret"
    clock: Any = time.time
    requests: list[Recorded] = field(default_factory=list)
    responses: list[Exchange] = field(default_factory=list)

    def __post_init__(self):
        self.bot_id = self.access_token.partition("-")[0]
        self.users: dict[str, dict] = {}
        self.tweets: dict[str, dict] = {}
        self.limits = {name: RateWindow(limit) for name, (_, _, limit) in ENDPOINTS.items()}
        self._scripted: list[Scripted] = []
        self._user_ids = itertools.count(2_000_000_001)
        self._short_links = itertools.count(1_000_000)
        self._last_id = 0
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self._add_user(self.bot_id, self.bot_username, "City open data")

    # Lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # What tests do on the network

    def citizen_reply(
        self, to_tweet_id: str, username: str, text: str, *, lang: str = "en",
        mention_author: bool = True, at: datetime | None = None,
    ) -> str:
        """`username` replies to a tweet; like X, the text starts with the replied-to author's handle."""
        with self._lock:
            parent = self.tweets[str(to_tweet_id)]
            parent_author = self.users[parent["author_id"]]["username"]
            if mention_author and f"@{parent_author}".lower() not in text.lower():
                text = f"@{parent_author} {text}"
            return self._add_tweet(self._citizen(username), text, lang=lang, parent=parent, at=at)["id"]

    def citizen_mention(self, username: str, text: str, *, lang: str = "en", at: datetime | None = None) -> str:
        """`username` posts a tweet mentioning the bot."""
        with self._lock:
            if f"@{self.bot_username}".lower() not in text.lower():
                text = f"@{self.bot_username} {text}"
            return self._add_tweet(self._citizen(username), text, lang=lang, at=at)["id"]

    def citizen_retweet(self, tweet_id: str, username: str) -> str:
        """`username` retweets a tweet: "RT @author: text"."""
        with self._lock:
            original = self.tweets[str(tweet_id)]
            author = self.users[original["author_id"]]["username"]
            tweet = self._add_tweet(self._citizen(username), f"RT @{author}: {original['text']}", lang=original["lang"])
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": original["id"]}]
            return tweet["id"]

    def bot_tweet(self, text: str, *, at: datetime | None = None) -> str:
        """Something the bot account posted (e.g. before datacall ran), possibly in the past."""
        with self._lock:
            return self._add_tweet(self.bot_id, text, lang="en", at=at)["id"]

    def posts_by_bot(self) -> list[dict]:
        """Everything the bot account tweeted, oldest first."""
        with self._lock:
            return [t for t in self._ordered() if t["author_id"] == self.bot_id]

    def tweet(self, tweet_id: str) -> dict:
        return self.tweets[str(tweet_id)]

    def fail(
        self, status: int, *, endpoint: str | None = None, times: int = 1,
        reset_in: int = RATE_WINDOW_SECONDS, headers: dict[str, str] | None = None, body: Any = None,
    ) -> None:
        """The next `times` requests (to `endpoint`, a key like "GET /2/users/:id/mentions") fail with `status`.

        A 429 carries the x-rate-limit-* headers with `remaining` 0 and a reset `reset_in` seconds ahead;
        a `body` string is sent as is (not JSON), to play a broken proxy.
        """
        if status == 429 and headers is None:
            headers = {
                "x-rate-limit-limit": "180",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(self.clock()) + reset_in),
            }
        with self._lock:
            self._scripted.append(Scripted(endpoint, status, body if body is not None else PROBLEMS.get(status),
                                           headers or {}, times))

    def respond_with(self, endpoint: str, body: Any, *, status: int = 200) -> None:
        """The next request to `endpoint` gets `body` (e.g. a documented sample payload)."""
        with self._lock:
            self._scripted.append(Scripted(endpoint, status, body, {}, 1))

    def set_limit(self, endpoint: str, limit: int) -> None:
        """Requests allowed per 15-minute window on `endpoint` (a key like "GET /2/tweets/search/recent")."""
        name = next(name for name, (key, _, _) in ENDPOINTS.items() if key == endpoint)
        with self._lock:
            self.limits[name] = RateWindow(limit)

    def calls(self, endpoint: str) -> list[Recorded]:
        """The requests received on `endpoint` (a key like "POST /2/tweets")."""
        method, _, template = endpoint.partition(" ")
        pattern = re.compile("^" + re.sub(r":\w+", r"[^/]+", template) + "$")
        return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    # HTTP

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, values = URLS.bind_to_environ(environ).match()
        except HTTPException:
            return self._respond(request, None, 404, PROBLEMS[404], {})(environ, start_response)
        with self._lock:
            status, body, headers = self._handle(request, endpoint, values)
        return self._respond(request, endpoint, status, body, headers)(environ, start_response)

    def _handle(self, request: Request, endpoint: str, values: dict) -> tuple[int, Any, dict]:
        auth = self._authenticate(request)
        payload = request.get_json(silent=True) if request.method == "POST" else None
        self.requests.append(Recorded(request.method, request.path, dict(request.args), payload, auth or "none"))
        if auth is None:
            return 401, PROBLEMS[401], {}
        key = ENDPOINTS[endpoint][0]
        scripted = self._take_scripted(key)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        window_headers = self._count(endpoint)
        if window_headers is None:
            return 429, PROBLEMS[429], self._window_headers(self.limits[endpoint])
        if auth == "bearer-app" and endpoint in USER_ONLY:
            return 403, APP_ONLY_FORBIDDEN, window_headers
        try:
            status, body = getattr(self, f"_{endpoint}")(request, payload, auth=auth, **values)
        except ApiError as exc:
            return exc.status, exc.body, {**window_headers, **exc.headers}
        return status, body, window_headers

    def _respond(self, request, endpoint, status, body, headers) -> Response:
        spec_path = ENDPOINTS[endpoint][1] if endpoint else request.path
        self.responses.append(Exchange(request.method.lower(), spec_path, status, body,
                                       request.get_json(silent=True) if request.method == "POST" else None))
        if isinstance(body, str):
            return Response(body, status=status, headers=headers, content_type="text/html")
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type="application/json; charset=utf-8")

    def _take_scripted(self, key: str) -> Scripted | None:
        for scripted in self._scripted:
            if scripted.endpoint in (None, key):
                scripted.times -= 1
                if scripted.times <= 0:
                    self._scripted.remove(scripted)
                return scripted
        return None

    def _count(self, endpoint: str) -> dict | None:
        """Count one request in the endpoint's window: its headers, or None when the window is spent."""
        window = self.limits[endpoint]
        now = int(self.clock())
        if now >= window.reset:
            window.used, window.reset = 0, now + RATE_WINDOW_SECONDS
        if window.used >= window.limit:
            return None
        window.used += 1
        return self._window_headers(window)

    @staticmethod
    def _window_headers(window: RateWindow) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(window.limit),
            "x-rate-limit-remaining": str(max(window.limit - window.used, 0)),
            "x-rate-limit-reset": str(window.reset),
        }

    def _authenticate(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer "):]
            if self.bearer_token and token == self.bearer_token:
                return "bearer-user"
            if self.app_bearer_token and token == self.app_bearer_token:
                return "bearer-app"
            return None
        if header.startswith("OAuth ") and self._oauth1_valid(request, header):
            return "oauth1"
        return None

    def _oauth1_valid(self, request: Request, header: str) -> bool:
        params = {name: utils.unescape(value) for name, value in utils.parse_authorization_header(header)}
        if params.get("oauth_consumer_key") != self.consumer_key or params.get("oauth_token") != self.access_token:
            return False
        collected = signature.collect_parameters(
            uri_query=request.query_string.decode(), headers={"Authorization": header}, exclude_oauth_signature=True
        )
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(SIGNED_HOST + request.path),
            signature.normalize_parameters(collected),
        )
        key = f"{utils.escape(self.consumer_secret)}&{utils.escape(self.access_token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        return signature.safe_string_equals(expected, params.get("oauth_signature", ""))

    # Endpoints

    def _users_me(self, request, payload, *, auth):
        return 200, {"data": self._user_view(self.bot_id, request)}

    def _user_by_username(self, request, payload, *, auth, username):
        for user_id, user in self.users.items():
            if user["username"].lower() == username.lower():
                return 200, {"data": self._user_view(user_id, request)}
        return 200, {"errors": [{
            "value": username, "detail": f"Could not find user with username: [{username}].",
            "title": "Not Found Error",
            "resource_type": "user", "parameter": "username", "resource_id": username,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }]}

    def _create_tweet(self, request, payload, *, auth):
        payload = payload or {}
        text = payload.get("text", "")
        if not text and "poll" not in payload:
            raise invalid("text", "", "The `text` field is required when no media or poll is attached")
        parent = None
        if reply := payload.get("reply"):
            parent = self.tweets.get(str(reply.get("in_reply_to_tweet_id")))
            if parent is None:
                raise ApiError(403, forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you."))
        elif any(t.get("written", t["text"]) == text for t in self.tweets.values() if t["author_id"] == self.bot_id):
            raise ApiError(403, forbidden("You are not allowed to create a Tweet with duplicate content."))
        shown, links = self._as_x_shows(text)
        tweet = self._add_tweet(self.bot_id, shown, lang="und", parent=parent)
        tweet["written"] = text
        if links:
            tweet["entities"] = {"urls": links}
        if poll := payload.get("poll"):
            tweet["poll"] = {
                "id": str(1_700_000_000_000_000_000 + len(self.tweets)),
                "options": poll["options"],
                "votes": [0] * len(poll["options"]),
                "duration_minutes": poll["duration_minutes"],
                "ends": self.clock() + 60 * int(poll["duration_minutes"]),
            }
            tweet["attachments"] = {"poll_ids": [tweet["poll"]["id"]]}
        return 201, {"data": {"id": tweet["id"], "text": shown, "edit_history_tweet_ids": [tweet["id"]]}}

    def _as_x_shows(self, text: str) -> tuple[str, list[dict]]:
        """A posted text as X returns it: each link replaced by a t.co link (with its entities.urls entry,
        indices in code points), then &, < and > escaped, as X's API does."""
        shown, links, position = "", [], 0
        for match in LINK.finditer(text):
            shown += text[position:match.start()]
            short = f"https://t.co/{base36(next(self._short_links)).rjust(10, 'a')}"
            links.append({"start": len(shown), "end": len(shown) + len(short), "url": short,
                          "expanded_url": match.group(), "display_url": display(match.group())})
            shown += short
            position = match.end()
        shown += text[position:]
        escaped = escape(shown)
        if escaped != shown:  # X counts the indices in the escaped text
            links = [{**link, "start": len(escape(shown[:link["start"]])),
                      "end": len(escape(shown[:link["start"]])) + len(link["url"])} for link in links]
        return escaped, links

    def _tweet_lookup(self, request, payload, *, auth, tweet_id):
        """GET /2/tweets/:id; with expansions=attachments.poll_ids the poll comes in includes.polls."""
        tweet = self.tweets.get(tweet_id)
        if tweet is None:
            return 200, {"errors": [{
                "value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].", "title": "Not Found Error",
                "resource_type": "tweet", "parameter": "id", "resource_id": tweet_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }]}
        data = {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        body: dict[str, Any] = {"data": data}
        poll = tweet.get("poll")
        if poll:
            data["attachments"] = {"poll_ids": [poll["id"]]}
        expansions = set(filter(None, request.args.get("expansions", "").split(",")))
        if poll and "attachments.poll_ids" in expansions:
            body["includes"] = {"polls": [self._poll_view(poll, request)]}
        return 200, body

    def _poll_view(self, poll: dict, request: Request) -> dict:
        """A poll as includes.polls shows it, with the poll.fields asked for."""
        fields = set(filter(None, request.args.get("poll.fields", "").split(",")))
        view = {
            "id": poll["id"],
            "options": [
                {"position": index + 1, "label": label, "votes": votes}
                for index, (label, votes) in enumerate(zip(poll["options"], poll["votes"], strict=True))
            ],
        }
        extra = {
            "duration_minutes": poll["duration_minutes"],
            "end_datetime": datetime.fromtimestamp(poll["ends"], UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "voting_status": "closed" if self.clock() >= poll["ends"] else "open",
        }
        view.update({name: value for name, value in extra.items() if name in fields})
        return view

    def vote(self, tweet_id: str, option_index: int, votes: int = 1) -> None:
        """People vote in the poll of the bot's tweet."""
        with self._lock:
            self.tweets[tweet_id]["poll"]["votes"][option_index] += votes

    def _mentions(self, request, payload, *, auth, user_id):
        max_results = self._int_arg(request, "max_results", 10, 5, 100)
        handle = f"@{self.users[user_id]['username']}".lower() if user_id in self.users else None
        found = [t for t in self._ordered() if handle and re.search(re.escape(handle) + r"\b", t["text"].lower())]
        token = request.args.get("pagination_token")
        return 200, self._timeline(request, found, max_results, token)

    def _user_tweets(self, request, payload, *, auth, user_id):
        """GET /2/users/:id/tweets: what the user posted, newest first; `exclude` replies and/or retweets,
        `start_time`/`end_time` when no since_id/until_id (which take precedence, as documented)."""
        max_results = self._int_arg(request, "max_results", 10, 5, 100)
        exclude = self._list_arg(request, "exclude", {"replies", "retweets"})
        start, end = (self._time_arg(request, name) for name in ("start_time", "end_time"))
        found = [
            t for t in self._ordered()
            if t["author_id"] == user_id
            and not ("replies" in exclude and t.get("in_reply_to_user_id"))
            and not ("retweets" in exclude and any(r["type"] == "retweeted" for r in t.get("referenced_tweets", [])))
            and (start is None or request.args.get("since_id") or tweet_time(t["id"]) >= start)
            and (end is None or request.args.get("until_id") or tweet_time(t["id"]) <= end)
        ]
        token = request.args.get("pagination_token")
        return 200, self._timeline(request, found, max_results, token)

    def _search_recent(self, request, payload, *, auth):
        query = request.args.get("query", "")
        match = re.fullmatch(r"\s*conversation_id:(\d{1,19})\s*", query)
        if not match:
            raise invalid("query", query, "This fake supports only `conversation_id:<id>` queries")
        max_results = self._int_arg(request, "max_results", 10, 10, 100)
        oldest_allowed = self.clock() - SEARCH_WINDOW_SECONDS
        since_id = request.args.get("since_id")
        if since_id and tweet_time(since_id) < oldest_allowed:
            after = datetime.fromtimestamp(oldest_allowed, UTC).strftime("%Y-%m-%dT%H:%MZ")
            raise invalid("since_id", since_id,
                          f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after {after}.")
        found = [
            t for t in self._ordered()
            if t["conversation_id"] == match.group(1) and tweet_time(t["id"]) >= oldest_allowed
        ]
        token = request.args.get("next_token") or request.args.get("pagination_token")
        return 200, self._timeline(request, found, max_results, token)

    def _timeline(self, request, found: list[dict], max_results: int, token: str | None) -> dict:
        """Newest first, between since_id and until_id, one page after `token`."""
        tweet_fields = self._list_arg(request, "tweet.fields", TWEET_FIELDS)
        expansions = self._list_arg(request, "expansions", EXPANSIONS)
        since_id, until_id = request.args.get("since_id"), request.args.get("until_id")
        below = int(token, 36) if token else None
        selected = [
            t for t in reversed(found)
            if (not since_id or int(t["id"]) > int(since_id))
            and (not until_id or int(t["id"]) < int(until_id))
            and (below is None or int(t["id"]) < below)
        ]
        page, rest = selected[:max_results], selected[max_results:]
        if not page:
            return {"meta": {"result_count": 0}}
        body: dict[str, Any] = {"data": [self._tweet_view(t, tweet_fields, expansions) for t in page]}
        if "author_id" in expansions:
            authors = dict.fromkeys(t["author_id"] for t in page)
            body["includes"] = {"users": [self._user_view(user_id, request) for user_id in authors]}
        polls = [self._poll_view(t["poll"], request) for t in page if t.get("poll")]
        if polls and "attachments.poll_ids" in expansions:
            body.setdefault("includes", {})["polls"] = polls
        meta = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if rest:
            meta["next_token"] = base36(int(page[-1]["id"]))
        body["meta"] = meta
        return body

    # Views and state

    def _tweet_view(self, tweet: dict, fields: set[str], expansions: set[str]) -> dict:
        view = {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        # An expansion brings the field it expands, as on X.
        wanted = set(fields) | ({"author_id"} if "author_id" in expansions else set())
        wanted |= {"attachments"} if "attachments.poll_ids" in expansions else set()
        view.update({name: tweet[name] for name in sorted(wanted) if name in tweet and name not in view})
        return view

    def _user_view(self, user_id: str, request: Request) -> dict:
        user = self.users[user_id]
        fields = self._list_arg(request, "user.fields", USER_FIELDS)
        view = {"id": user["id"], "name": user["name"], "username": user["username"]}
        view.update({name: user[name] for name in sorted(fields) if name in user and name not in view})
        return view

    def _citizen(self, username: str) -> str:
        username = username.lstrip("@")
        for user_id, user in self.users.items():
            if user["username"].lower() == username.lower():
                return user_id
        return self._add_user(str(next(self._user_ids)), username, username.replace("_", " ").title())

    def _add_user(self, user_id: str, username: str, name: str) -> str:
        self.users[user_id] = {
            "id": user_id, "username": username, "name": name,
            "created_at": "2020-05-04T09:00:00.000Z", "description": "", "protected": False,
        }
        return user_id

    def _add_tweet(self, author_id: str, text: str, *, lang: str, parent: dict | None = None,
                   at: datetime | None = None) -> dict:
        when = at.timestamp() if at else self.clock()
        tweet_id = self._snowflake(when, monotonic=at is None)
        tweet = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "created_at": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "lang": lang,
        }
        if parent:
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        self.tweets[tweet_id] = tweet
        return tweet

    def _snowflake(self, when: float, *, monotonic: bool) -> str:
        tweet_id = (int(when * 1000) - SNOWFLAKE_EPOCH_MS) << 22
        if monotonic:
            tweet_id = max(tweet_id, self._last_id + 1)
            self._last_id = tweet_id
        while str(tweet_id) in self.tweets:
            tweet_id += 1
        return str(tweet_id)

    def _ordered(self) -> list[dict]:
        return sorted(self.tweets.values(), key=lambda t: int(t["id"]))

    @staticmethod
    def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise invalid(name, raw, f"The `{name}` query parameter value [{raw}] is not between {low} and {high}")
        return int(raw)

    @staticmethod
    def _time_arg(request: Request, name: str) -> float | None:
        raw = request.args.get(name)
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise invalid(name, raw, f"Invalid '{name}':'{raw}'. '{name}' must be a date-time") from None

    @staticmethod
    def _list_arg(request: Request, name: str, allowed: set[str]) -> set[str]:
        values = {value for value in request.args.get(name, "").split(",") if value}
        for value in values - allowed:
            raise invalid(name, value, f"The `{name}` query parameter value [{value}] is not one of {sorted(allowed)}")
        return values


def tweet_time(tweet_id: str) -> float:
    """When a snowflake id was made, in epoch seconds."""
    return ((int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def display(url: str) -> str:
    """display_url: without the scheme, cut after 23 characters."""
    bare = re.sub(r"^https?://", "", url)
    return bare if len(bare) <= 26 else bare[:23] + "…"


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
