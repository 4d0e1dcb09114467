"""A stateful Mastodon server on 127.0.0.1, spoken to by the real Mastodon.py over HTTP.

It implements the few REST endpoints datacall uses, as the Mastodon API
reference describes them: entities are built from the documented samples in
tests/data/mastodon/, ids are strings, dates ISO 8601, content HTML. It honours
Idempotency-Key, paginates notifications with Link headers, files private
mentions from strangers away as Mastodon 4.3's default policy does (as
notification requests, one per account, that can be listed and accepted), counts a
rate-limit budget with X-RateLimit-* headers, and can be told to fail.
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.server import LocalServer

DATA = Path(__file__).resolve().parent.parent / "data" / "mastodon"
VISIBILITIES = ("public", "unlisted", "private", "direct")


def sample(name: str) -> dict:
    """A documented payload from tests/data/mastodon/, fresh each time."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    """Mastodon's datetime format: UTC, milliseconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Failure:
    status: int | str  # an HTTP status, or "malformed" for a 200 whose body is not JSON
    reset_in: float


class FakeMastodon(LocalServer):
    """One instance with one bot account (the token's owner) and the citizens the tests add."""

    def __init__(
        self,
        *,
        token: str = "fake-mastodon-token",
        username: str = "datacall",
        domain: str = "mastodon.example",
        max_characters: int = 500,
        rate_limit: int = 300,
        rate_period: float = 300.0,
    ):
        self.token = token
        self.domain = domain
        self.max_characters = max_characters
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.requests: list[tuple[str, str]] = []
        self.policy = sample("notifications_policy")
        self._lock = threading.RLock()
        self._accounts: dict[str, dict] = {}
        self._statuses: dict[str, dict] = {}
        self._sources: dict[str, str] = {}
        self._notifications: list[dict] = []
        self._idempotency: dict[tuple[str, str], str] = {}
        self._failures: list[Failure] = []
        self._last_snowflake = 0
        self._next_notification = 1000
        self._notification_requests: dict[str, dict] = {}  # by account id, while not accepted
        self._accepted_accounts: set[str] = set()
        self._next_request = 5000
        self._next_account = 1
        self._remaining = rate_limit
        self._window_reset = time.time() + rate_period
        self.bot = self._account(username, template="credential_account")
        self._server = None
        self._thread = None
        self._routes = Map([
            Rule("/api/v1/instance", endpoint="instance_v1", methods=["GET"]),
            Rule("/api/v2/instance", endpoint="instance_v2", methods=["GET"]),
            Rule("/api/v1/accounts/verify_credentials", endpoint="verify_credentials", methods=["GET"]),
            Rule("/api/v1/statuses", endpoint="create_status", methods=["POST"]),
            Rule("/api/v1/statuses/<status_id>", endpoint="get_status", methods=["GET"]),
            Rule("/api/v1/statuses/<status_id>/context", endpoint="context", methods=["GET"]),
            Rule("/api/v1/notifications", endpoint="notifications", methods=["GET"]),
            Rule("/api/v2/notifications/policy", endpoint="policy", methods=["GET", "PATCH"]),
            Rule("/api/v1/notifications/requests", endpoint="notification_requests", methods=["GET"]),
            Rule("/api/v1/notifications/requests/<request_id>/accept", endpoint="accept_request", methods=["POST"]),
            Rule("/api/v1/polls/<poll_id>", endpoint="get_poll", methods=["GET"]),
        ])

    # -- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what citizens do ---------------------------------------------------

    def citizen_reply(
        self,
        to_status_id: str,
        acct: str,
        html_content: str,
        visibility: str = "public",
        language: str | None = None,
    ) -> str:
        """A citizen answers a status; the bot is notified only if the HTML mentions it."""
        with self._lock:
            if str(to_status_id) not in self._statuses:
                raise KeyError(f"no status {to_status_id}")
            return self._citizen_status(acct, _paragraph(html_content), visibility, language, str(to_status_id))

    def citizen_mention(
        self, acct: str, html_content: str, visibility: str = "public", language: str | None = None
    ) -> str:
        """A citizen writes to the bot: its h-card mention is put first unless the HTML has one."""
        with self._lock:
            content = _paragraph(html_content)
            if self.bot["url"] not in _mentioned_urls(content):
                content = content.replace("<p>", f"<p>{self.mention_html()} ", 1)
            return self._citizen_status(acct, content, visibility, language, None)

    def mention_html(self, acct: str | None = None) -> str:
        """The h-card Mastodon renders for a mention (the bot's by default)."""
        account = self.bot if acct is None else self._account(acct)
        return (
            f'<span class="h-card" translate="no"><a href="{account["url"]}" class="u-url mention">'
            f'@<span>{html.escape(account["username"])}</span></a></span>'
        )

    def delete_status(self, status_id: str) -> None:
        with self._lock:
            self._statuses.pop(str(status_id))

    # -- what tests read ----------------------------------------------------

    def posts_by_bot(self) -> list[dict]:
        """The bot's statuses, oldest first, each with its source `text`."""
        with self._lock:
            return [
                dict(copy.deepcopy(status), text=self._sources[status_id])
                for status_id, status in sorted(self._statuses.items(), key=lambda item: int(item[0]))
                if status["account"]["id"] == self.bot["id"]
            ]

    def status(self, status_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._statuses[str(status_id)])

    def vote(self, status_id: str, option_index: int, votes: int = 1, *, expire: bool = False) -> None:
        """People vote in the poll of the bot's status; `expire` closes it as its end time would."""
        poll = self._statuses[status_id]["poll"]
        poll["options"][option_index]["votes_count"] += votes
        poll["votes_count"] += votes
        poll["expired"] = poll["expired"] or expire

    def count(self, method: str, path: str) -> int:
        return sum(1 for seen in self.requests if seen == (method, path))

    # -- error modes ----------------------------------------------------------

    def fail_next(self, status: int | str, *, times: int = 1, reset_in: float = 60.0) -> None:
        """The next `times` API calls answer `status` (429, 500, 503...) or "malformed" JSON."""
        with self._lock:
            self._failures.extend(Failure(status, reset_in) for _ in range(times))

    def set_rate_limit(self, *, remaining: int, reset_in: float) -> None:
        """Start a rate-limit window with `remaining` calls left, ending in `reset_in` seconds."""
        with self._lock:
            self._remaining = remaining
            self._window_reset = time.time() + reset_in

    # -- entities -------------------------------------------------------------

    def _account(self, acct: str, *, template: str = "account") -> dict:
        acct = acct.lstrip("@")
        if acct in self._accounts:
            return self._accounts[acct]
        username, _, host = acct.partition("@")
        host = host or self.domain
        account = sample(template)
        account.update(
            id=str(109302453198770000 + self._next_account),
            username=username,
            acct=acct,
            display_name=username.title(),
            url=f"https://{host}/@{username}",
            uri=f"https://{host}/users/{username}",
        )
        self._next_account += 1
        self._accounts[acct] = account
        return account

    def _public_account(self, account: dict) -> dict:
        return {key: value for key, value in copy.deepcopy(account).items() if key not in ("source", "role")}

    def _snowflake(self) -> str:
        """Ids like Mastodon's: milliseconds shifted left 16 bits, always growing."""
        candidate = int(time.time() * 1000) << 16
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return str(self._last_snowflake)

    def _new_status(self, author: dict, content: str, *, visibility: str, language: str | None,
                    in_reply_to: str | None, mentions: list[dict], source: str) -> dict:
        status_id = self._snowflake()
        status = sample("status")
        host = author["url"].split("/")[2]
        parent = self._statuses.get(in_reply_to) if in_reply_to else None
        status.update(
            id=status_id,
            created_at=iso(datetime.now(UTC)),
            in_reply_to_id=in_reply_to,
            in_reply_to_account_id=parent["account"]["id"] if parent else None,
            visibility=visibility,
            language=language,
            uri=f"https://{host}/users/{author['username']}/statuses/{status_id}",
            url=f"https://{host}/@{author['username']}/{status_id}",
            content=content,
            account=self._public_account(author),
            mentions=[
                {"id": m["id"], "username": m["username"], "url": m["url"], "acct": m["acct"]} for m in mentions
            ],
        )
        if parent:
            parent["replies_count"] += 1
        self._statuses[status_id] = status
        self._sources[status_id] = source
        return status

    def _citizen_status(self, acct, content, visibility, language, in_reply_to) -> str:
        if visibility not in VISIBILITIES:
            raise ValueError(f"unknown visibility {visibility!r}")
        author = self._account(acct)
        by_url = {account["url"]: account for account in self._accounts.values()}
        mentions = [by_url[url] for url in _mentioned_urls(content) if url in by_url]
        status = self._new_status(
            author, content, visibility=visibility, language=language,
            in_reply_to=in_reply_to, mentions=mentions, source=_plain(content),
        )
        if any(m["id"] == self.bot["id"] for m in mentions):
            self._notify(status, author)
        return status["id"]

    def _notify(self, status: dict, author: dict) -> None:
        """A mention notification, filtered or dropped the way the account's policy says."""
        parent = self._statuses.get(status["in_reply_to_id"] or "")
        answers_bot = parent is not None and parent["account"]["id"] == self.bot["id"]
        policy = self.policy["for_private_mentions"]
        filtered = (status["visibility"] == "direct" and not answers_bot and policy != "accept"
                    and author["id"] not in self._accepted_accounts)
        if filtered and policy == "drop":
            return
        notification = sample("notification")
        notification.update(
            id=str(self._next_notification),
            group_key=f"ungrouped-{self._next_notification}",
            created_at=status["created_at"],
            account=self._public_account(author),
            status=status,
        )
        self._next_notification += 1
        self._notifications.append({"entity": notification, "filtered": filtered})
        if filtered:
            self._file_request(author, status)

    def _file_request(self, author: dict, status: dict) -> None:
        """Filtered notifications from one account make one notification request (Mastodon 4.3)."""
        request = self._notification_requests.get(author["id"])
        if request is None:
            request = sample("notification_request")
            request.update(id=str(self._next_request), created_at=status["created_at"],
                           account=self._public_account(author), notifications_count="0")
            self._next_request += 1
            self._notification_requests[author["id"]] = request
        request["updated_at"] = status["created_at"]
        request["last_status"] = status
        request["notifications_count"] = str(int(request["notifications_count"]) + 1)

    def pending_requests(self) -> list[dict]:
        """Notification requests not accepted yet, as the API lists them."""
        with self._lock:
            return list(self._notification_requests.values())

    def _visible_to_bot(self, status: dict) -> bool:
        if status["visibility"] in ("public", "unlisted") or status["account"]["id"] == self.bot["id"]:
            return True
        return any(m["id"] == self.bot["id"] for m in status["mentions"])

    # -- HTTP -----------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.requests.append((request.method, request.path))
            response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        try:
            endpoint, args = self._routes.bind_to_environ(request.environ).match()
        except NotFound:
            return _json({"error": "Record not found"}, 404)
        except HTTPException as exc:
            return _json({"error": exc.description}, exc.code or 400)
        if endpoint.startswith("instance"):  # public, outside the account's budget
            return _json(sample(endpoint))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(sample("errors")["401"], 401)
        limited = self._spend()
        if limited is not None:
            return limited
        if self._failures:
            return self._fail(self._failures.pop(0))
        response = getattr(self, f"_api_{endpoint}")(request, **args)
        response.headers.update(self._rate_headers())
        return response

    def _spend(self) -> Response | None:
        now = time.time()
        if now >= self._window_reset:
            self._remaining, self._window_reset = self.rate_limit, now + self.rate_period
        if self._remaining <= 0:
            return self._too_many()
        self._remaining -= 1
        return None

    def _rate_headers(self) -> dict[str, str]:
        reset = datetime.fromtimestamp(self._window_reset, UTC)
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self._remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def _too_many(self) -> Response:
        response = _json(sample("errors")["429"], 429)
        response.headers.update(self._rate_headers())
        return response

    def _fail(self, failure: Failure) -> Response:
        if failure.status == 429:
            self._remaining, self._window_reset = 0, time.time() + failure.reset_in
            return self._too_many()
        if failure.status == "malformed":
            body = "<html><body>Service temporarily unavailable</body></html>"
            return Response(body, 200, content_type="application/json")
        return Response("<html><body>We're sorry, but something went wrong.</body></html>",
                        int(failure.status), content_type="text/html")

    # -- endpoints ------------------------------------------------------------

    def _api_verify_credentials(self, request: Request) -> Response:
        return _json(self.bot)

    def _api_create_status(self, request: Request) -> Response:
        params = _params(request)
        key = request.headers.get("Idempotency-Key")
        if key and (self.bot["id"], key) in self._idempotency:
            kept = self._statuses.get(self._idempotency[(self.bot["id"], key)])
            if kept is not None:
                return _json(kept)
        error = self._invalid_status(params)
        if error is not None:
            return error
        in_reply_to = params.get("in_reply_to_id") or None
        text = params.get("status") or ""
        content, mentions = self._render(text)
        status = self._new_status(
            self.bot, content, visibility=params.get("visibility") or self.bot["source"]["privacy"],
            language=params.get("language") or None, in_reply_to=in_reply_to, mentions=mentions, source=text,
        )
        if params.get("poll"):
            status["poll"] = self._poll(params["poll"])
        if key:
            self._idempotency[(self.bot["id"], key)] = status["id"]
        return _json(status)

    def _invalid_status(self, params: dict) -> Response | None:
        errors = sample("errors")
        text = params.get("status") or ""
        if not text.strip() and not params.get("poll"):
            return _json(errors["422_blank"], 422)
        if _counted_length(text) > self.max_characters:
            message = f"Validation failed: Text character limit of {self.max_characters} exceeded"
            return _json({"error": message}, 422)
        if params.get("visibility") and params["visibility"] not in VISIBILITIES:
            return _json(errors["422_visibility"], 422)
        reply_to = params.get("in_reply_to_id")
        if reply_to and (reply_to not in self._statuses or not self._visible_to_bot(self._statuses[reply_to])):
            return _json(errors["404_reply"], 404)
        poll = params.get("poll")
        if poll and not (
            2 <= len(poll.get("options", [])) <= 4 and 300 <= int(poll.get("expires_in", 0)) <= 2629746
        ):
            return _json(errors["422_poll"], 422)
        return None

    def _render(self, text: str) -> tuple[str, list[dict]]:
        """Plain text to Mastodon's HTML: paragraphs, line breaks, linked URLs and mentions."""
        mentions: list[dict] = []

        def link(match: re.Match) -> str:
            token = match.group(0)
            if token.startswith("@"):
                account = self._accounts.get(token[1:])
                if account is None:
                    return html.escape(token)
                mentions.append(account)
                return (f'<span class="h-card" translate="no"><a href="{account["url"]}" class="u-url mention">'
                        f'@<span>{html.escape(account["username"])}</span></a></span>')
            scheme, _, rest = token.partition("://")
            return (f'<a href="{html.escape(token)}" target="_blank" rel="nofollow noopener" translate="no">'
                    f'<span class="invisible">{scheme}://</span><span class="">{html.escape(rest)}</span>'
                    f'<span class="invisible"></span></a>')

        paragraphs = []
        for paragraph in re.split(r"\n{2,}", text.strip()):
            parts, last = [], 0
            for match in _TOKENS.finditer(paragraph):
                parts.append(html.escape(paragraph[last:match.start()]))
                parts.append(link(match))
                last = match.end()
            parts.append(html.escape(paragraph[last:]))
            paragraphs.append("<p>" + "".join(parts).replace("\n", "<br />") + "</p>")
        return "".join(paragraphs), mentions

    def _poll(self, spec: dict) -> dict:
        poll = sample("poll")
        poll.update(
            id=str(34830 + len(self._statuses)),
            expires_at=iso(datetime.now(UTC) + timedelta(seconds=int(spec["expires_in"]))),
            multiple=bool(spec.get("multiple")) and spec.get("multiple") not in ("0", "false"),
            options=[{"title": title, "votes_count": 0} for title in spec["options"]],
        )
        return poll

    def _api_get_status(self, request: Request, status_id: str) -> Response:
        status = self._statuses.get(status_id)
        if status is None or not self._visible_to_bot(status):
            return _json(sample("errors")["404"], 404)
        return _json(status)

    def _api_context(self, request: Request, status_id: str) -> Response:
        status = self._statuses.get(status_id)
        if status is None or not self._visible_to_bot(status):
            return _json(sample("errors")["404"], 404)
        ancestors, parent = [], self._statuses.get(status["in_reply_to_id"] or "")
        while parent is not None:
            ancestors.insert(0, parent)
            parent = self._statuses.get(parent["in_reply_to_id"] or "")
        descendants = [s for s in self._descendants(status_id) if self._visible_to_bot(s)]
        return _json({"ancestors": ancestors, "descendants": descendants})

    def _descendants(self, status_id: str) -> list[dict]:
        """Depth first, oldest first among siblings, as Mastodon orders a thread."""
        children = sorted(
            (s for s in self._statuses.values() if s["in_reply_to_id"] == status_id), key=lambda s: int(s["id"])
        )
        result = []
        for child in children:
            result.append(child)
            result.extend(self._descendants(child["id"]))
        return result

    def _api_notification_requests(self, request: Request) -> Response:
        """GET /api/v1/notifications/requests: newest first, paginated by id with Link headers."""
        limit = min(int(request.args.get("limit", 40)), 80)
        page = _paginate(list(self._notification_requests.values()), request.args, limit)
        response = _json(page)
        if page:
            base = f"{request.host_url.rstrip('/')}/api/v1/notifications/requests?"
            keep = [("limit", request.args["limit"])] if "limit" in request.args else []
            response.headers["Link"] = (f'<{base + urlencode(keep + [("max_id", page[-1]["id"])])}>; rel="next", '
                                        f'<{base + urlencode(keep + [("min_id", page[0]["id"])])}>; rel="prev"')
        return response

    def _api_accept_request(self, request: Request, request_id: str) -> Response:
        """POST .../requests/:id/accept: the account's filtered notifications join the main list."""
        found = next((a for a, r in self._notification_requests.items() if r["id"] == request_id), None)
        if found is None:
            return _json({"error": "Record not found"}, 404)
        del self._notification_requests[found]
        self._accepted_accounts.add(found)
        for notification in self._notifications:
            if notification["entity"]["account"]["id"] == found:
                notification["filtered"] = False
        return _json({})

    def _api_notifications(self, request: Request) -> Response:
        args = request.args
        types = args.getlist("types[]")
        excluded = args.getlist("exclude_types[]")
        limit = min(int(args.get("limit", 40)), 80)
        account_id = args.get("account_id")
        items = [
            n["entity"] for n in self._notifications
            if not n["filtered"]
            and (account_id is None or n["entity"]["account"]["id"] == account_id)
            and (not types or n["entity"]["type"] in types)
            and n["entity"]["type"] not in excluded
            and (n["entity"]["status"] is None or n["entity"]["status"]["id"] in self._statuses)
        ]
        page = _paginate(items, args, limit)
        response = _json(page)
        if page:
            keep = [("limit", args["limit"])] if "limit" in args else []
            keep += [("account_id", account_id)] if account_id else []
            keep += [("types[]", t) for t in types] + [("exclude_types[]", t) for t in excluded]
            base = f"{request.host_url.rstrip('/')}/api/v1/notifications?"
            next_url = base + urlencode(keep + [("max_id", page[-1]["id"])])
            prev_url = base + urlencode(keep + [("min_id", page[0]["id"])])
            response.headers["Link"] = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
        return response

    def _api_policy(self, request: Request) -> Response:
        if request.method == "PATCH":
            params = _params(request)
            for key in ("for_not_following", "for_not_followers", "for_new_accounts",
                        "for_private_mentions", "for_limited_accounts"):
                if key in params:
                    if params[key] not in ("accept", "filter", "drop"):
                        return _json({"error": f"Validation failed: {key} is invalid"}, 422)
                    self.policy[key] = params[key]
        return _json(self.policy)

    def _api_get_poll(self, request: Request, poll_id: str) -> Response:
        for status in self._statuses.values():
            if status.get("poll") and status["poll"]["id"] == poll_id:
                return _json(status["poll"])
        return _json(sample("errors")["404"], 404)


# -- helpers ------------------------------------------------------------------


_TOKENS = re.compile(r"https?://\S+|@[\w.]+(?:@[\w.-]+\w)?")


def _json(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json; charset=utf-8")


def _params(request: Request) -> dict:
    """Form data or a JSON body, as Mastodon accepts both (Mastodon.py sends JSON with a poll)."""
    if request.is_json:
        return request.get_json() or {}
    params = {key: request.form.get(key) for key in request.form if not key.endswith("[]")}
    return params


def _paginate(items: list[dict], args, limit: int) -> list[dict]:
    """Mastodon's id pagination: max_id/since_id from the newest, min_id forward; newest first."""
    def key(item):
        return int(item["id"])
    max_id, since_id, min_id = (int(args[k]) if args.get(k) else None for k in ("max_id", "since_id", "min_id"))
    selected = [i for i in items if (max_id is None or key(i) < max_id)
                and (since_id is None or key(i) > since_id) and (min_id is None or key(i) > min_id)]
    if min_id is not None:
        return list(reversed(sorted(selected, key=key)[:limit]))
    return sorted(selected, key=key, reverse=True)[:limit]


def _paragraph(content: str) -> str:
    content = content.strip()
    return content if content.startswith("<p>") else f"<p>{content}</p>"


class _MentionFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and "mention" in (attributes.get("class") or "").split():
            self.urls.append(attributes.get("href") or "")


def _mentioned_urls(content: str) -> list[str]:
    finder = _MentionFinder()
    finder.feed(content)
    return finder.urls


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _plain(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    return "".join(parser.parts)


def _counted_length(text: str) -> int:
    """Mastodon's count: a URL is 23 characters, a remote mention counts without its domain."""
    text = re.sub(r"https?://[^\s]*[^\s.,;:!?)\]}'\"]", "x" * 23, text)
    text = re.sub(r"(^|[^/\w])@(\w+)@[\w.-]+\w", r"\1@\2", text)
    return len(text)
