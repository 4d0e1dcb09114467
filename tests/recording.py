"""A connector that records what it is asked to publish, for scheduling tests.

Unlike the sandbox it never drops a repeated idempotency key, so a post sent
twice shows up twice: the tests can see that nothing is published twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.networks.base import Batch, Connector, NetworkError, PollResult, PostRef, ReplyTarget


@dataclass
class Published:
    kind: str  # "post" or "poll"
    text: str
    options: tuple[str, ...] = ()
    duration_seconds: int = 0


class RecordingConnector(Connector):
    idempotent_sends = False

    def __init__(self, name: str = "sandbox", *, max_length: int = 500, poll_options: int = 0,
                 poll_option_length: int = 25, max_poll_seconds: int | None = None):
        self.name = name
        self.max_length = max_length
        self.poll_options = poll_options
        self.poll_option_length = poll_option_length
        self.max_poll_seconds = max_poll_seconds
        self.published: list[Published] = []
        self.failures = 0
        self.votes: dict[str, tuple[int, ...]] = {}
        self.results_asked: list[str] = []
        self.results_error: Exception | None = None

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        return self._publish(Published("post", text))

    def post_poll(self, question: str, options: Sequence[str], *, duration_seconds: int,
                  idempotency_key: str) -> PostRef:
        if not self.poll_options:
            raise NotImplementedError
        assert 2 <= len(options) <= self.poll_options
        assert all(len(option) <= self.poll_option_length for option in options)
        return self._publish(Published("poll", question, tuple(options), duration_seconds))

    def poll_results(self, external_id: str) -> PollResult:
        self.results_asked.append(external_id)
        if self.results_error is not None:
            raise self.results_error
        return PollResult(votes=self.votes.get(external_id, ()), closed=True)

    def fetch(self, cursor, *, state, watched=()) -> Batch:
        return Batch((), cursor)

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        raise AssertionError("no replies in these tests")

    def _publish(self, item: Published) -> PostRef:
        if self.failures:
            self.failures -= 1
            raise NetworkError(f"{self.name} is down")
        self.published.append(item)
        number = len(self.published)
        return PostRef(f"{self.name}-{number}", f"https://{self.name}.example/{number}")

    def texts(self) -> list[str]:
        return [item.text for item in self.published]
