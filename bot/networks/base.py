"""The connector interface: what datacall needs from any network.

A connector is one file implementing `Connector`. Platform objects (tweepy,
Mastodon.py, python-telegram-bot) are turned into the frozen dataclasses below
inside the connector, so the pipeline never sees them. The interface is
blocking; asyncio libraries are driven from inside their connector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.config import NetworkConfig


@dataclass(frozen=True)
class Incoming:
    """One message a citizen sent: a reply, a mention or a private message."""

    external_id: str
    author_id: str
    author_handle: str
    text: str
    sent_at: datetime | None = None
    in_reply_to_id: str | None = None
    conversation_id: str | None = None
    # The language the network states, if any; datacall detects it otherwise.
    lang: str | None = None
    url: str | None = None
    is_private: bool = False
    # The network's own audience setting (Mastodon: public, unlisted, private, direct).
    visibility: str | None = None

    def __post_init__(self):
        # JSON may carry what no database stores: a lone surrogate escape (\ud800) or NUL.
        for name, value in vars(self).items():
            if isinstance(value, str):
                object.__setattr__(self, name, storable(value))


def storable(text: str) -> str:
    """`text` without NUL characters, lone surrogates replaced by U+FFFD (valid pairs joined)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass(frozen=True)
class Batch:
    """What one fetch returned, and the cursor to store with it in one transaction."""

    messages: tuple[Incoming, ...]
    cursor: str | None
    state: dict = field(default_factory=dict)
    # The network says more is waiting after this page, and its rate budget allows
    # asking now: the poll fetches again from the new cursor (up to a page cap).
    more: bool = False


@dataclass(frozen=True)
class PostRef:
    """Where something datacall published lives on the network."""

    external_id: str
    url: str | None = None


@dataclass(frozen=True)
class ReplyTarget:
    """The message to answer, with what a network needs to thread and address it."""

    external_id: str
    author_id: str
    author_handle: str
    is_private: bool = False
    conversation_id: str | None = None
    visibility: str | None = None


@dataclass(frozen=True)
class OutgoingReply:
    """One reply to send: `Connector.reply`'s arguments."""

    target: ReplyTarget
    text: str
    idempotency_key: str


@dataclass(frozen=True)
class PollResult:
    """Votes per option of a native poll, in option order, as the network counted them."""

    votes: tuple[int, ...]
    closed: bool


@dataclass(frozen=True)
class Lookup:
    """What the network says about a reply or post that may have gone out: `checked` False when it cannot tell."""

    checked: bool
    found: PostRef | None = None


CANNOT_TELL = Lookup(checked=False)
NOT_FOUND = Lookup(checked=True)


class NetworkError(Exception):
    """A call to the network failed; `retry_after` says when trying again makes sense.

    `outcome_unknown`: the request left but no answer came back (a read
    timeout), so the network may have taken it. On a network without
    idempotency keys the outbox then does not resend: an officer checks.
    `transient`: an outage (5xx, timeout, 429) that a later try may not meet;
    it does not use up a reply's attempts. By default every error that is not
    permanent is; a refusal that would repeat (a 4xx) passes False.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        outcome_unknown: bool = False,
        transient: bool | None = None,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.outcome_unknown = outcome_unknown
        self.transient = (not permanent) if transient is None else transient


class Connector(ABC):
    """One network. Build it with its client (or session factory) so tests can aim it at a fake.

    A network is found by its `datacall.networks` entry point (`bot.networks.installed`);
    `config_model` checks its `[networks.NAME]` table and `from_config` builds it from one.
    """

    name: str
    max_length: int
    # The `[networks.NAME]` table: a NetworkConfig subclass with this network's keys and defaults.
    config_model: ClassVar[type[NetworkConfig]]
    # True when the network itself drops a second send with the same idempotency key,
    # so a send interrupted by a crash can be retried safely.
    idempotent_sends: bool = False
    # Native polls: most options per poll (0: none, the survey becomes a numbered text
    # post), longest option text, and longest time a poll may stay open (None: until closed).
    poll_options: int = 0
    poll_option_length: int = 25
    max_poll_seconds: int | None = None
    # True when `find_own_reply` can look the account's recent replies up (X, the sandbox).
    finds_own_replies: bool = False
    # True when `find_own_post` can look the account's recent posts and polls up (X, the sandbox).
    finds_own_posts: bool = False

    @classmethod
    def from_config(
        cls, settings: NetworkConfig, environ: Mapping[str, str], *, sessions: sessionmaker[Session] | None = None
    ) -> Connector:
        """The connector for the validated table `settings`; secrets come from `environ` via its `*_env` keys.

        `sessions` is datacall's database, for a network that keeps its state there (the sandbox).
        Contacts nobody: the first call does.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be built from a config table")

    @abstractmethod
    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        """Publish a call, reminder or note on the account's public timeline."""

    @abstractmethod
    def fetch(self, cursor: str | None, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        """Messages newer than `cursor`, oldest first; `watched` are our posts whose replies count."""

    @abstractmethod
    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        """Answer `target` in its thread, privately if it was private."""

    def reply_all(
        self, replies: Sequence[OutgoingReply], *, stop: Callable[[], bool] = lambda: False
    ) -> list[PostRef | Exception]:
        """Send `replies` in order, as `reply` does; each one's outcome (its PostRef, or what `reply` raised).

        Shorter than `replies` when it stopped early, leaving the rest untried: `stop()` said so
        between two sends, or the network said slow down. A network that can take several replies
        in one call overrides this.
        """
        outcomes: list[PostRef | Exception] = []
        for outgoing in replies:
            if outcomes and stop():
                break
            try:
                outcomes.append(self.reply(outgoing.target, outgoing.text, idempotency_key=outgoing.idempotency_key))
            except Exception as exc:  # noqa: BLE001 - the caller records every failure on its row
                outcomes.append(exc)
                if isinstance(exc, NetworkError) and exc.retry_after:
                    break
        return outcomes

    def post_poll(
        self, question: str, options: Sequence[str], *, duration_seconds: int, idempotency_key: str
    ) -> PostRef:
        """Publish a native poll (the relevance survey); networks without polls raise."""
        raise NotImplementedError(f"{self.name} has no native polls")

    def poll_results(self, external_id: str) -> PollResult:
        """Votes of the poll posted as `external_id`; closes it first where the network needs that."""
        raise NotImplementedError(f"{self.name} has no native polls")

    def text_length(self, text: str) -> int:
        """Length as the network counts it against `max_length`."""
        return len(text)

    def mention(self, handle: str) -> str:
        """What a reply starts with to reach `handle`; empty where answering in the thread reaches them."""
        return ""

    def addressed(self, handle: str, text: str) -> str:
        """`text` as `reply` sends it to `handle`: after the mention, unless it already starts with it."""
        mention = self.mention(handle)
        if not mention or text.startswith(f"{mention} "):
            return text
        return f"{mention} {text}"

    def reply_length(self, handle: str, text: str) -> int:
        """Length of `text` sent in reply to `handle`, mention included: what the reply writer fits."""
        return self.text_length(self.addressed(handle, text))

    def whoami(self) -> str:
        """The account's handle, proving the credentials work (for `datacall doctor`)."""
        raise NotImplementedError

    def probe(self) -> None:
        """One cheap call (who am I) that raises if the network does not answer; ends a pause early."""
        self.whoami()

    def find_own_reply(self, target: ReplyTarget, *, since: datetime, known: Collection[str] = ()) -> Lookup:
        """Our reply to `target` posted since `since`, other than the `known` ids, if the network can list them.

        The outbox asks this before resending a reply whose send may have happened
        (its worker died, or no answer came back). The default cannot tell.
        """
        return CANNOT_TELL

    def find_own_post(
        self, text: str, *, since: datetime, known: Collection[str] = (), poll_options: Sequence[str] = ()
    ) -> Lookup:
        """Our post of `text` made since `since` (not a reply), other than the `known` ids, if the network can
        list them; with `poll_options`, a native poll asking `text` with exactly those options.

        The outbox asks this before resending a post (a call, a reminder, a survey) whose send
        may have happened. The default cannot tell.
        """
        return CANNOT_TELL

    def close(self) -> None:  # noqa: B027 - an optional hook: most connectors hold nothing to release
        """Release connections; the default has none."""
