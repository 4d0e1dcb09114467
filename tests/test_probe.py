"""A network that polling paused is asked "who am I" on every probe pass and resumes as soon as it answers."""

from __future__ import annotations

from datetime import timedelta

from bot.networks.base import NetworkError
from bot.networks.sandbox import SandboxConnector
from bot.pipeline.probe import probe_paused
from storage.models import NetworkCursor, utcnow


class Flaky(SandboxConnector):
    """The sandbox, down until `up` is set; counts the probes it gets."""

    up = False

    def __init__(self, sessions):
        super().__init__(sessions)
        self.probes = 0

    def whoami(self) -> str:
        self.probes += 1
        if not self.up:
            raise NetworkError("503 Service Unavailable")
        return super().whoami()


def paused(sessions, *, failures: int, hours: float = 1) -> None:
    with sessions() as session, session.begin():
        session.add(NetworkCursor(network="sandbox", state={}, consecutive_failures=failures,
                                  paused_until=utcnow() + timedelta(hours=hours)))


def paused_until(sessions):
    with sessions() as session:
        return session.get(NetworkCursor, "sandbox").paused_until


def test_a_paused_network_resumes_as_soon_as_it_answers_a_probe(sessions):
    paused(sessions, failures=5)
    network = Flaky(sessions)
    assert probe_paused(sessions, {"sandbox": network}) == 0
    assert paused_until(sessions) is not None  # still down: the pause goes on
    network.up = True
    assert probe_paused(sessions, {"sandbox": network}) == 1
    assert paused_until(sessions) is None and network.probes == 2
    assert probe_paused(sessions, {"sandbox": network}) == 0 and network.probes == 2  # not paused: no probe


def test_a_wait_the_network_asked_for_is_not_cut_short(sessions):
    """A 429 after one failed poll pauses for the network's own reset time: no probe ends it."""
    paused(sessions, failures=1)
    network = Flaky(sessions)
    network.up = True
    assert probe_paused(sessions, {"sandbox": network}) == 0
    assert network.probes == 0 and paused_until(sessions) is not None


def test_the_probe_is_a_job_of_run_that_comes_before_polling(runtime):
    from bot.jobs import build_jobs

    names = [job.name for job in build_jobs(runtime)]
    assert names.index("probe") < names.index("poll:sandbox") < names.index("send")
