"""`datacall run` as a real process: a failing job never stops the others; SIGTERM stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from storage.models import Message, Reply
from tests.helpers import citizens_reply

FAST = """
[scheduler]
poll_interval_seconds = 0.2
classify_interval_seconds = 0.2
send_interval_seconds = 0.2
post_interval_seconds = 0.2
"""


def start(config_path):
    """`datacall run` in a child process; its output lines are collected as they come."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
    )
    process.lines = []
    threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True).start()
    return process


def stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    time.sleep(0.2)  # let the reader thread take the last lines
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
        output = stop(process)
    assert process.returncode == 0
    unclassified = select(func.count()).select_from(Message).where(Message.classified_at.is_(None))
    assert count(sessions, unclassified) == 3  # nothing lost: still waiting for a working model
