"""`datacall run` as a real process: a failing job never stops the others; SIGTERM stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.config import load_config
from bot.networks.sandbox import timeline
from storage.models import Message, Reply, utcnow
from tests.helpers import citizens_reply

FAST = """
[scheduler]
poll_interval_seconds = 0.2
classify_interval_seconds = 0.2
send_interval_seconds = 0.2
post_interval_seconds = 0.2
"""


SLOW_SEND = Path(__file__).parent / "slow_send.py"
# After `[scheduler] stop_timeout_seconds`, what a loaded machine may take to close and exit.
EXIT_MARGIN = 15.0
# What a loaded machine may take to start `datacall run`, load the model and reach the first send.
START_WAIT = 180.0
# What a loaded machine may take to hand the last lines of an exited process to the reader thread.
READ_WAIT = 30.0


def start(config_path, *, send_delay: float | None = None):
    """`datacall run` in a child process (its sandbox sends slowed down if asked); output lines collected."""
    command = ["-m", "bot"] if send_delay is None else [str(SLOW_SEND), str(send_delay)]
    process = subprocess.Popen(
        [sys.executable, *command, "run", "--config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
    )
    process.lines = []
    process.exit_wait = load_config(Path(config_path)).scheduler.stop_timeout_seconds + EXIT_MARGIN
    process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True)
    process.reader.start()
    return process


def stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=process.exit_wait)  # the running jobs get the stop timeout, then the process exits
    # Every line it wrote: the reader reaches the end of its output once it has exited (on a loaded
    # machine a fixed pause was sometimes too short, and the last lines were missing).
    process.reader.join(timeout=READ_WAIT)
    assert not process.reader.is_alive(), "the process's output did not end"
    return "".join(process.lines)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def count(sessions, query):
    with sessions() as session:
        return session.scalar(query)


@pytest.fixture
def initialised(cli):
    cli("init")


def test_loop_serves_until_sigterm_then_stops_cleanly(initialised, sessions, write_config, db_url):
    config = write_config(f'[database]\nurl = "{db_url}"\n{FAST}', "fast.toml")
    process = start(config)
    try:
        citizens_reply(sessions, to=None)
        sent = select(func.count()).select_from(Reply).where(Reply.state == "sent")
        assert wait_for(lambda: count(sessions, sent) == 2), "replies were not sent by the loop"
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "SIGTERM" in output and "datacall stopped" in output


def test_a_failing_job_is_logged_and_retried_while_the_others_go_on(
    initialised, sessions, write_config, db_url, tmp_path
):
    broken_model = tmp_path / "broken-model"
    broken_model.mkdir()
    (broken_model / "meta.json").write_text("{not json")
    config = write_config(
        f'[database]\nurl = "{db_url}"\n[classifier]\nmodel_path = "{broken_model}"\n{FAST}', "broken.toml"
    )
    process = start(config)
    try:
        citizens_reply(sessions, to=None)
        stored = select(func.count()).select_from(Message)
        assert wait_for(lambda: count(sessions, stored) == 3), "polling stopped because classify fails"
        failures = lambda: sum("job classify failed" in line for line in process.lines)  # noqa: E731
        assert wait_for(lambda: failures() >= 3), "classify was not retried"
        assert process.poll() is None, "the loop died"
    finally:
        stop(process)
    assert process.returncode == 0
    unclassified = select(func.count()).select_from(Message).where(Message.classified_at.is_(None))
    assert count(sessions, unclassified) == 3  # nothing lost: still waiting for a working model


def in_flight(process) -> str | None:
    """The idempotency key of the first send the slowed-down sandbox started."""
    # The key is the word after the marker: a log line of another thread may end up on the same line.
    started = [line.split()[3] for line in process.lines if line.startswith("slow send started:")]
    return started[0] if started else None


def sends_per_reply(sessions) -> dict[str, int]:
    with sessions() as session:
        keys = [entry.idempotency_key for entry in timeline(session, from_bot=True)]
    return {key: keys.count(key) for key in keys}


def test_sigterm_during_a_send_lets_it_finish_then_closes_the_connectors(
    initialised, sessions, write_config, db_url
):
    config = write_config(f'[database]\nurl = "{db_url}"\n{FAST}', "slow.toml")
    citizens_reply(sessions, to=None)  # two data requests: two acknowledgements to send
    process = start(config, send_delay=3)
    try:
        assert wait_for(lambda: in_flight(process), timeout=START_WAIT), "no send started"
    finally:
        output = stop(process)  # SIGTERM while the first acknowledgement is on its way
    assert process.returncode == 0, output
    assert "finishing running jobs" in output and "datacall stopped" in output
    key = in_flight(process)
    # The send in flight finished before the connectors were closed, and was recorded.
    assert f"slow send finished: {key}" in output and "sandbox connector closed" in output, output
    assert output.index(f"slow send finished: {key}") < output.index("sandbox connector closed")
    with sessions() as session:
        replies = {reply.idempotency_key: reply.state for reply in session.scalars(select(Reply))}
    assert len(replies) == 2 and replies[key] == "sent"
    assert set(replies.values()) <= {"sent", "pending"}  # never lost, never left `sending`
    assert sends_per_reply(sessions) == {k: 1 for k, state in replies.items() if state == "sent"}


def test_a_send_longer_than_the_stop_timeout_is_left_to_recovery_not_cut(
    initialised, sessions, write_config, db_url, cli
):
    config = write_config(
        f'[database]\nurl = "{db_url}"\n{FAST}stop_timeout_seconds = 1\n', "impatient.toml"
    )
    citizens_reply(sessions, to=None, citizens=[("@camille_velo", "Could you publish the bike counts per hour?")])
    process = start(config, send_delay=60)
    try:
        assert wait_for(lambda: in_flight(process), timeout=START_WAIT), "no send started"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=process.exit_wait)  # the stop timeout (1 s), not the send (60 s)
    finally:
        if process.poll() is None:
            process.kill()
        output = stop(process)
    assert process.returncode == 1, output
    assert "still running after 1 s" in output
    assert "sandbox connector closed" not in output  # not closed under the send
    with sessions() as session, session.begin():
        reply = session.scalars(select(Reply)).one()
        assert reply.state == "sending"  # claimed, as a crash leaves it: nothing was sent
        # Ten minutes later the claim is stale: the next run takes it back (the sandbox drops repeats).
        session.execute(update(Reply).values(claimed_at=utcnow() - timedelta(minutes=11)))
    assert sends_per_reply(sessions) == {}
    cli("run --once")
    with sessions() as session:
        assert session.scalars(select(Reply)).one().state == "sent"
    assert sends_per_reply(sessions) == {in_flight(process): 1}


def test_a_signal_in_the_middle_of_the_scheduler_s_own_pass_stops_it_cleanly(
    initialised, write_config, db_url, monkeypatch
):
    """SIGTERM handled while the scheduler's loop is updating its job list (its handler runs on that
    same thread): the loop ends cleanly instead of failing on a job list emptied under it."""
    from apscheduler.jobstores.memory import MemoryJobStore

    from bot.runtime import Runtime
    from bot.scheduler import run_forever

    real_update = MemoryJobStore.update_job
    signalled = []

    def update_then_signal(self, job):
        if not signalled:
            signalled.append(job.id)
            os.kill(os.getpid(), signal.SIGTERM)  # handled here, in the middle of the loop's pass
            time.sleep(0.1)
        return real_update(self, job)

    monkeypatch.setattr(MemoryJobStore, "update_job", update_then_signal)
    runtime = Runtime.from_config(load_config(write_config(f'[database]\nurl = "{db_url}"\n{FAST}')), say=print)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert run_forever(runtime) is True  # every job finished, nothing raised
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        runtime.close()
    assert signalled and runtime.stopping.is_set()
