"""A stateful Telegram Bot API server on 127.0.0.1, for driving the real python-telegram-bot.

It answers POST /bot<token>/<method> the way api.telegram.org does
(https://core.telegram.org/bots/api): {"ok": true, "result": ...} or
{"ok": false, "error_code": ..., "description": ..., "parameters": ...}, with
getUpdates offsets confirming updates. The bot, chats and error bodies come from
tests/data/telegram/. Tests play the citizens with `private_message`,
`group_mention`, `channel_comment` and `command`, read what the bot sent with
`sent_messages`, and switch error modes with `fail` and `block`.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.server import LocalServer

DATA = Path(__file__).resolve().parents[1] / "data" / "telegram"
TOKEN = "7000000001:AAFakeTokenForTestsOnly-x9"
START_DATE = 1767261600  # 2026-01-01 10:00 UTC, then one second per message

# How PTB and other clients encode each parameter in a form body.
JSON_PARAMS = {"reply_parameters", "allowed_updates", "options", "entities", "reply_markup", "link_preview_options"}
INT_PARAMS = {"offset", "limit", "timeout", "open_period", "reply_to_message_id", "message_thread_id", "close_date"}
BOOL_PARAMS = {"is_anonymous", "allow_sending_without_reply", "disable_notification", "protect_content",
               "allows_multiple_answers"}


def sample(name: str) -> Any:
    """A documented payload from tests/data/telegram/<name>.json."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


class ApiError(Exception):
    def __init__(self, body: dict):
        super().__init__(body["description"])
        self.body = body


@dataclass
class Failure:
    status: int
    method: str | None
    times: int
    retry_after: int | None
    body: str | None


class FakeTelegram(LocalServer):
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.bot_user = sample("get_me")["result"]
        chats = sample("chats")
        self.channel, self.discussion_group, self.group = chats["channel"], chats["discussion_group"], chats["group"]
        self.service_user = chats["service_user"]
        self.errors = sample("errors")
        self.calls: list[tuple[str, dict]] = []  # every API call, for assertions
        self._cond = threading.Condition()
        self._updates: list[dict] = []
        self._next_update_id = 734000001
        self._allowed: list[str] | None = None
        self._allowed_from = 0  # allowed_updates applies to updates created after it was set
        self._chats = {chat["id"]: chat for chat in (self.channel, self.discussion_group, self.group)}
        self._messages: dict[tuple[int, int], dict] = {}
        self._message_ids: dict[int, itertools.count] = {
            self.channel["id"]: itertools.count(41),
            self.discussion_group["id"]: itertools.count(71),
            self.group["id"]: itertools.count(301),
        }
        self._forwards: dict[int, dict] = {}  # channel message id -> its automatic forward
        self._sent: list[dict] = []
        self._users: dict[str, dict] = {}
        self._blocked: set[int] = set()
        self._failures: list[Failure] = []
        self._slow: dict[str, float] = {}  # method -> seconds to wait before answering, after doing it
        self._clock = itertools.count(START_DATE)
        self._server = None
        self._thread: threading.Thread | None = None

    # -- server lifecycle --------------------------------------------------------------------

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()  # wake long polls so the server can shut down
        super().stop()

    @property
    def base_url(self) -> str:
        """What python-telegram-bot takes as base_url (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- citizens ---------------------------------------------------------------------------

    def user(self, username: str, *, first_name: str | None = None, has_username: bool = True,
             language_code: str = "en") -> dict:
        """The same Telegram user for the same name, created on first use."""
        if username not in self._users:
            user = {"id": 100000101 + len(self._users), "is_bot": False,
                    "first_name": first_name or username.split("_")[0].capitalize()}
            if has_username:
                user["username"] = username
            user["language_code"] = language_code
            self._users[username] = user
        return self._users[username]

    def private_message(self, user: str | dict, text: str, *, reply_to: int | None = None) -> dict:
        user = self._user(user)
        chat = self._private_chat(user)
        return self._incoming(chat, user, text, reply_to=reply_to)

    def group_mention(self, user: str | dict, text: str) -> dict:
        """A message in a group naming the bot (prefixed with @botname unless the text has it)."""
        mention = f"@{self.bot_user['username']}"
        if mention not in text:
            text = f"{mention} {text}"
        entity = {"offset": _utf16_len(text[: text.index(mention)]), "length": _utf16_len(mention), "type": "mention"}
        return self._incoming(self.group, self._user(user), text, entities=[entity])

    def group_message(self, user: str | dict, text: str, *, reply_to: int | None = None) -> dict:
        """Group chatter; addressed to the bot only if `reply_to` is one of the bot's messages."""
        return self._incoming(self.group, self._user(user), text, reply_to=reply_to)

    def channel_comment(self, user: str | dict, text: str, on_channel_message_id: int, *,
                        reply_to: int | None = None) -> dict:
        """A comment under a channel post: a reply, in the discussion group, to the post's automatic forward.

        `reply_to` answers another comment of the same thread instead.
        """
        forward = self._forward_of(on_channel_message_id)
        return self._incoming(
            self.discussion_group, self._user(user), text,
            reply_to=reply_to or forward["message_id"], thread_id=forward["message_id"],
        )

    def command(self, user: str | dict, command: str, *, in_group: bool = False) -> dict:
        """/start, /status...: in a group, addressed as /command@botname."""
        user = self._user(user)
        if in_group:
            command = f"{command}@{self.bot_user['username']}"
        entity = {"offset": 0, "length": _utf16_len(command.split()[0]), "type": "bot_command"}
        chat = self.group if in_group else self._private_chat(user)
        return self._incoming(chat, user, command, entities=[entity])

    def push_updates(self, updates: list[dict]) -> None:
        """Queue recorded updates (e.g. tests/data/telegram/updates.json) as they are."""
        with self._cond:
            for update in updates:
                update = copy.deepcopy(update)
                self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
                for value in update.values():
                    if isinstance(value, dict) and "message_id" in value and "chat" in value:
                        self._messages[(value["chat"]["id"], value["message_id"])] = value
                self._updates.append(update)
            self._cond.notify_all()

    # -- what the bot did, and error modes ----------------------------------------------------

    def sent_messages(self) -> list[dict]:
        """Every message the bot sent (channel posts, replies, polls), oldest first."""
        with self._cond:
            return copy.deepcopy(self._sent)

    def replies_to(self, message: dict) -> list[dict]:
        """What the bot sent in reply to `message` (a dict returned by a citizen helper)."""
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        return [
            sent for sent in self.sent_messages()
            if sent["chat"]["id"] == chat_id and sent.get("reply_to_message", {}).get("message_id") == message_id
        ]

    def pending_updates(self) -> list[int]:
        """Ids of the updates not confirmed yet by an offset."""
        with self._cond:
            return [update["update_id"] for update in self._updates]

    def fail(self, status: int, *, method: str | None = None, times: int = 1,
             retry_after: int | None = None, body: str | None = None) -> None:
        """The next `times` calls (of `method`, or any) answer with this HTTP error (or raw `body`)."""
        with self._cond:
            self._failures.append(Failure(status, method and method.lower(), times, retry_after, body))

    def answer_late(self, method: str, seconds: float) -> None:
        """Do the call at once but answer only after `seconds`: the client times out after delivery."""
        with self._cond:
            self._slow[method.lower()] = seconds

    def vote(self, message_id: int, option_index: int, voters: int = 1) -> None:
        """Channel members vote in the bot's poll posted as `message_id` (anonymous: only counts)."""
        with self._cond:
            poll = next(m["poll"] for m in self._sent if m["message_id"] == message_id and "poll" in m)
            poll["options"][option_index]["voter_count"] += voters
            poll["total_voter_count"] += voters

    def block(self, user: str | dict) -> None:
        """The user blocks the bot: sending to them answers 403."""
        self._blocked.add(self._user(user)["id"])

    # -- HTTP --------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        match = re.fullmatch(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", request.path)
        if match is None:
            return _json(404, self.errors["404"])
        if match["token"] != self.token:
            return _json(401, self.errors["401"])
        method, params = match["method"], _params(request)
        with self._cond:
            self.calls.append((method, params))
            failure = self._take_failure(method.lower())
        if failure is not None:
            return self._failure_response(failure)
        handler = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendpoll": self._send_poll,
            "stoppoll": self._stop_poll,
        }.get(method.lower())
        if handler is None:
            return _json(404, self.errors["404"])
        try:
            response = _json(200, {"ok": True, "result": handler(params)})
        except ApiError as exc:
            return _json(exc.body["error_code"], exc.body)
        late = self._slow.get(method.lower())
        if late:
            time.sleep(late)
        return response

    def _take_failure(self, method: str) -> Failure | None:
        for failure in self._failures:
            if failure.method in (None, method):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _failure_response(self, failure: Failure) -> Response:
        if failure.body is not None:
            return Response(failure.body, status=failure.status, content_type="text/html")
        body = copy.deepcopy(self.errors.get(str(failure.status)) or {
            "ok": False, "error_code": failure.status, "description": f"Error {failure.status}"})
        if failure.retry_after is not None:
            body["description"] = f"Too Many Requests: retry after {failure.retry_after}"
            body["parameters"] = {"retry_after": failure.retry_after}
        return _json(failure.status, body)

    # -- methods -----------------------------------------------------------------------------

    def _get_me(self, params: dict) -> dict:
        return self.bot_user

    def _get_updates(self, params: dict) -> list[dict]:
        offset = params.get("offset")
        limit = min(max(params.get("limit") or 100, 1), 100)
        deadline = time.monotonic() + min(params.get("timeout") or 0, 5)
        with self._cond:
            if params.get("allowed_updates") is not None:
                self._allowed, self._allowed_from = list(params["allowed_updates"]), self._next_update_id
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset is not None:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
            while True:
                result = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if result or remaining <= 0 or self._server is None:
                    return copy.deepcopy(result)
                self._cond.wait(remaining)

    def _send_message(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        text = params.get("text") or ""
        if not text.strip():
            raise ApiError(_bad_request("message text is empty"))
        if _utf16_len(text) > 4096:
            raise ApiError(_bad_request("message is too long"))
        reply = self._reply_target(chat, params)
        return self._bot_message(chat, {"text": text}, reply)

    def _send_poll(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        question = params.get("question") or ""
        options = [o["text"] if isinstance(o, dict) else str(o) for o in params.get("options") or []]
        if not 1 <= len(question) <= 300:
            raise ApiError(_bad_request("poll question length must be 1-300 characters"))
        if not 1 <= len(options) <= 12 or any(not 1 <= len(o) <= 100 for o in options):
            raise ApiError(_bad_request("poll options must be 1-12 texts of 1-100 characters"))
        anonymous = params.get("is_anonymous", True)
        if chat["type"] == "channel" and not anonymous:
            raise ApiError(_bad_request("non-anonymous polls can't be sent to channel chats"))
        poll = {
            "id": str(5000000000000000000 + len(self._sent)),
            "question": question,
            "options": [{"persistent_id": str(i), "text": o, "voter_count": 0} for i, o in enumerate(options)],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": anonymous,
            "type": params.get("type") or "regular",
            "allows_multiple_answers": bool(params.get("allows_multiple_answers")),
            "allows_revoting": False,
            "members_only": False,
        }
        if params.get("open_period"):
            poll["open_period"] = params["open_period"]
        return self._bot_message(chat, {"poll": poll}, self._reply_target(chat, params))

    def _stop_poll(self, params: dict) -> dict:
        """stopPoll: the bot's own poll, closed, with its final counts; a closed one cannot be stopped."""
        chat = self._chat(params.get("chat_id"))
        message_id = int(params.get("message_id") or 0)
        with self._cond:
            message = next(
                (m for m in self._sent if m["chat"]["id"] == chat["id"] and m["message_id"] == message_id), None
            )
            if message is None or "poll" not in message:
                raise ApiError(_bad_request("message with poll to stop not found"))
            if message["poll"]["is_closed"]:
                raise ApiError(_bad_request("poll has already been closed"))
            message["poll"]["is_closed"] = True
            return copy.deepcopy(message["poll"])

    # -- state -------------------------------------------------------------------------------

    def _user(self, user: str | dict) -> dict:
        return self.user(user) if isinstance(user, str) else user

    def _private_chat(self, user: dict) -> dict:
        chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
        if "username" in user:
            chat["username"] = user["username"]
        with self._cond:
            self._chats.setdefault(chat["id"], chat)
            self._message_ids.setdefault(chat["id"], itertools.count(11))
        return chat

    def _chat(self, chat_id: Any) -> dict:
        with self._cond:
            if isinstance(chat_id, str) and chat_id.startswith("@"):
                for chat in self._chats.values():
                    if chat.get("username", "").lower() == chat_id[1:].lower() and chat["type"] != "private":
                        return chat
            elif chat_id is not None and int(chat_id) in self._chats:
                if int(chat_id) in self._blocked:
                    raise ApiError(self.errors["403_blocked"])
                return self._chats[int(chat_id)]
        raise ApiError(self.errors["400_chat_not_found"])

    def _reply_target(self, chat: dict, params: dict) -> dict | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") or params.get("reply_to_message_id")
        if not message_id:
            return None
        target = self._messages.get((chat["id"], int(message_id)))
        allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply", False))
        if target is None and not allow:
            raise ApiError(self.errors["400_reply_not_found"])
        return target

    def _new_message(self, chat: dict, sender: dict | None, content: dict, *, reply_to: dict | None = None,
                     thread_id: int | None = None) -> dict:
        with self._cond:
            message = {"message_id": next(self._message_ids[chat["id"]])}
            if sender is not None:
                message["from"] = sender
            message.update({"chat": chat, "date": next(self._clock)})
            if thread_id is not None:
                message["message_thread_id"] = thread_id
            if reply_to is not None:
                message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
            message.update(content)
            self._messages[(chat["id"], message["message_id"])] = message
            return message

    def _bot_message(self, chat: dict, content: dict, reply: dict | None) -> dict:
        if chat["type"] == "channel":  # channel posts carry the channel as sender, no user
            with self._cond:
                message = self._new_message(chat, None, {"sender_chat": chat, **content})
                self._sent.append(message)
                self._forward_of(message["message_id"])  # Telegram copies it to the discussion group
                return copy.deepcopy(message)
        thread = None
        if reply is not None and chat["type"] == "supergroup":
            forwarded = reply["message_id"] if reply.get("is_automatic_forward") else None
            thread = reply.get("message_thread_id") or forwarded
        message = self._new_message(chat, self.bot_user, content, reply_to=reply, thread_id=thread)
        with self._cond:
            self._sent.append(message)
        return copy.deepcopy(message)

    def _incoming(self, chat: dict, user: dict, text: str, *, reply_to: int | None = None,
                  thread_id: int | None = None, entities: list[dict] | None = None) -> dict:
        target = self._messages.get((chat["id"], reply_to)) if reply_to else None
        if reply_to and target is None:
            raise KeyError(f"no message {reply_to} in chat {chat['id']}")
        if thread_id is None and target is not None:
            thread_id = target.get("message_thread_id")
        content = {"text": text, **({"entities": entities} if entities else {})}
        message = self._new_message(chat, user, content, reply_to=target, thread_id=thread_id)
        self._push("message", message)
        return copy.deepcopy(message)

    def _forward_of(self, channel_message_id: int) -> dict:
        """The automatic forward of a channel post into the discussion group, made on first need."""
        with self._cond:
            if channel_message_id in self._forwards:
                return self._forwards[channel_message_id]
            post = self._messages.get((self.channel["id"], channel_message_id), {"date": START_DATE, "text": "..."})
            content = {k: v for k, v in post.items() if k in ("text", "poll", "entities")}
            forward = self._new_message(
                self.discussion_group, self.service_user,
                {
                    "sender_chat": self.channel,
                    "forward_origin": {"type": "channel", "chat": self.channel,
                                       "message_id": channel_message_id, "date": post["date"]},
                    "is_automatic_forward": True,
                    **content,
                },
            )
            self._forwards[channel_message_id] = forward
            self._push("message", forward)
            return forward

    def _push(self, kind: str, payload: dict) -> None:
        with self._cond:
            self._updates.append({"update_id": self._next_update_id, kind: copy.deepcopy(payload)})
            self._next_update_id += 1
            self._cond.notify_all()

    def _is_allowed(self, update: dict) -> bool:
        if not self._allowed or update["update_id"] < self._allowed_from:
            return True
        return any(kind in update for kind in self._allowed)


def _params(request: Request) -> dict:
    """Bot API parameters from a form, multipart or JSON body (or the query string)."""
    if request.is_json:
        return dict(request.get_json(silent=True) or {})
    params: dict[str, Any] = {}
    for source in (request.args, request.form):
        for key, value in source.items():
            params[key] = _decode(key, value)
    return params


def _decode(key: str, value: str) -> Any:
    if key in JSON_PARAMS:
        return json.loads(value)
    if key in INT_PARAMS:
        return int(value)
    if key in BOOL_PARAMS:
        return value.lower() in ("true", "1")
    if key == "chat_id" and value.lstrip("-").isdigit():
        return int(value)
    return value


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _bad_request(reason: str) -> dict:
    return {"ok": False, "error_code": 400, "description": f"Bad Request: {reason}"}


def _utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
