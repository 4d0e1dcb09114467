"""The networks of the crash harness: the X and Telegram HTTP fakes, with sends that can be held.

Like the real X and Telegram, neither fake drops a repeated send: every reply
the bot makes is kept, so a reply sent twice is counted twice. The harness
holds one chosen send for a few seconds, so that a SIGKILL lands between the
claim and the answer, in one of two ways (`SendGate.arm`):

- "late-answer": the network takes the reply at once and answers late; the
  worker dies without knowing it was delivered.
- "slow-accept": the network takes the reply only at the end of the wait, and
  not at all if the caller hung up meanwhile (a proxy that aborts the upstream
  request when its client goes); the worker dies without it being delivered.
"""

from __future__ import annotations

import io
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from werkzeug.exceptions import ClientDisconnected

from tests.fakes.telegram import FakeTelegram
from tests.fakes.twitter import FakeX

LATE_ANSWER = "late-answer"
SLOW_ACCEPT = "slow-accept"

# Citizens' words, written for this harness: data requests in English and French, and some chatter.
ASKS = [
    "Could you publish the bike counter data per hour as CSV? (ref {n})",
    "Please open the list of public toilets with their opening hours, ref {n}",
    "Would it be possible to publish school canteen menus as open data? #{n}",
    "Pourriez-vous publier les horaires des piscines municipales en open data ? n°{n}",
    "Où trouver la liste des arbres de la ville avec leur essence ? ({n})",
    "Merci de publier les comptages de vélos par heure au format CSV, réf {n}",
    "Publish bus punctuality per line please, as a machine readable file #{n}",
    "Pourriez-vous mettre en ligne le budget détaillé des quartiers ? {n}",
]
CHATTER = [
    "The bus was late again this morning ({n})",
    "Les poubelles ne sont pas ramassées rue des Lilas depuis une semaine #{n}",
    "Thanks for the great work on the parks! {n}",
]


@dataclass(frozen=True)
class Fed:
    """One citizen message put on a network, by the id datacall stores it under."""

    network: str  # "twitter" or "telegram"
    external_id: str


class SendGate:
    """Holds the next send (on either network) once, when armed; says when one is held; counts what it saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: tuple[str, float] | None = None
        self.held = threading.Event()
        self.counts: Counter = Counter()  # "late-answer", "slow-accept", "dropped", "cut"

    def arm(self, mode: str, seconds: float) -> None:
        with self._lock:
            self._armed = (mode, seconds)
            self.held.clear()

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def take(self) -> tuple[str, float] | None:
        with self._lock:
            armed, self._armed = self._armed, None
        if armed is not None:
            self.counts[armed[0]] += 1
        return armed

    def serve(self, environ, start_response, handle, *, is_send: bool):
        """Serve one request through `handle`: a send held as armed; one cut by a kill, answered quietly."""
        try:
            return self._hold(environ, start_response, handle) if is_send else handle(environ, start_response)
        except ClientDisconnected:  # the process died while its request was still being uploaded
            self.counts["cut"] += 1
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"client went away"]

    def _hold(self, environ, start_response, handle):
        armed = self.take()
        if armed is None:
            return handle(environ, start_response)
        mode, seconds = armed
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))  # read before waiting
        if mode == LATE_ANSWER:
            answer = handle(environ, start_response)  # done now; werkzeug writes the answer when we return
            self.held.set()
            time.sleep(seconds)
            return answer
        self.held.set()
        time.sleep(seconds)
        if hung_up(environ.get("werkzeug.socket")):
            self.counts["dropped"] += 1
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [b"client went away"]
        return handle(environ, start_response)


def hung_up(sock: socket.socket | None) -> bool:
    """True when the caller closed its end (a SIGKILL closes every socket of the process)."""
    if sock is None:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class HarnessX(FakeX):
    """FakeX whose POST /2/tweets goes through the gate, with rate limits out of the way."""

    gate: SendGate

    def start(self):
        super().start()
        for endpoint in ("GET /2/users/:id/mentions", "POST /2/tweets", "GET /2/users/me"):
            self.set_limit(endpoint, 1_000_000)  # the harness measures crashes, not X's 15-minute windows
        return self

    def _wsgi(self, environ, start_response):
        is_send = environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO") == "/2/tweets"
        return self.gate.serve(environ, start_response, super()._wsgi, is_send=is_send)

    def replies_per_target(self) -> Counter:
        """How many replies the bot made to each tweet, by tweet id."""
        counts: Counter = Counter()
        for tweet in self.posts_by_bot():
            for ref in tweet.get("referenced_tweets", []):
                if ref["type"] == "replied_to":
                    counts[ref["id"]] += 1
        return counts


class HarnessTelegram(FakeTelegram):
    """FakeTelegram whose sendMessage goes through the gate."""

    gate: SendGate

    def _wsgi(self, environ, start_response):
        is_send = environ.get("PATH_INFO", "").endswith("/sendMessage")
        return self.gate.serve(environ, start_response, super()._wsgi, is_send=is_send)

    def replies_per_target(self) -> Counter:
        """How many messages the bot sent in reply to each message, by "<chat id>:<message id>"."""
        counts: Counter = Counter()
        for sent in self.sent_messages():
            replied = sent.get("reply_to_message")
            if replied:
                counts[f"{sent['chat']['id']}:{replied['message_id']}"] += 1
        return counts


@dataclass
class Networks:
    """Both fakes, started in this process, sharing one gate; and what citizens said on them."""

    rng: random.Random
    gate: SendGate = field(default_factory=SendGate)
    fed: list[Fed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.x = HarnessX()
        self.x.gate = self.gate
        self.telegram = HarnessTelegram()
        self.telegram.gate = self.gate

    def __enter__(self) -> Networks:
        self.x.start()
        self.telegram.start()
        return self

    def __exit__(self, *exc) -> None:
        self.gate.disarm()
        self.telegram.stop()
        self.x.stop()

    def environment(self) -> dict[str, str]:
        """The secrets, by the environment variable names the default config reads."""
        return {
            "DATACALL_TWITTER_CONSUMER_KEY": self.x.consumer_key,
            "DATACALL_TWITTER_CONSUMER_SECRET": self.x.consumer_secret,
            "DATACALL_TWITTER_ACCESS_TOKEN": self.x.access_token,
            "DATACALL_TWITTER_ACCESS_TOKEN_SECRET": self.x.access_token_secret,
            "DATACALL_TELEGRAM_TOKEN": self.telegram.token,
        }

    def config(self) -> str:
        """The [networks] part of a datacall config aimed at the fakes."""
        return f"""
[networks.sandbox]
enabled = false
[networks.twitter]
enabled = true
api_base_url = "{self.x.url}"
[networks.telegram]
enabled = true
base_url = "{self.telegram.base_url}"
"""

    def wave(self, count: int, *, chatter_share: float = 0.2) -> None:
        """`count` new citizens each write once, half on X (mentions), half on Telegram (private messages)."""
        for _ in range(count):
            n = len(self.fed) + 1
            text = self.rng.choice(CHATTER if self.rng.random() < chatter_share else ASKS).format(n=n)
            if n % 2:
                tweet_id = self.x.citizen_mention(f"citizen_{n}", text)
                self.fed.append(Fed("twitter", tweet_id))
            else:
                message = self.telegram.private_message(f"citizen_{n}", text)
                self.fed.append(Fed("telegram", f"{message['chat']['id']}:{message['message_id']}"))

    def replies_per_target(self) -> dict[tuple[str, str], int]:
        """Every reply the bot made on either network, counted per (network, message answered)."""
        counts = {("twitter", target): n for target, n in self.x.replies_per_target().items()}
        counts.update({("telegram", target): n for target, n in self.telegram.replies_per_target().items()})
        return counts
