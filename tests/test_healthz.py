"""`/healthz` and `--log-format json`: what a load balancer and a log collector read."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from bot.cli.app import app as cli_app
from bot.logs import JsonFormatter
from bot.pipeline import ingest
from bot.web import create_app
from storage.database import make_engine
from storage.models import NetworkCursor, utcnow
from tests.web_support import TestClient


def test_healthz_reports_the_database_and_each_network_s_last_poll(client, runtime):
    before = client.get("/healthz")
    assert before.status_code == 200 and before.headers["cache-control"] == "no-store"
    assert before.json() == {"status": "ok", "database": {"ok": True}, "networks": {
        "sandbox": {"last_poll_at": None, "last_success_at": None, "consecutive_failures": 0, "paused": False}}}
    ingest.poll(runtime.connectors["sandbox"], runtime.sessions)
    with runtime.sessions() as session, session.begin():
        row = session.get(NetworkCursor, "sandbox")
        row.consecutive_failures, row.paused_until = 3, utcnow() + timedelta(minutes=5)
    sandbox = client.get("/healthz").json()["networks"]["sandbox"]
    assert sandbox["last_poll_at"] and sandbox["last_success_at"]
    assert sandbox["consecutive_failures"] == 3 and sandbox["paused"] is True


def test_healthz_is_503_when_the_database_does_not_answer(runtime):
    app = create_app(runtime)
    runtime.sessions = sessionmaker(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/datacall"))
    with TestClient(app) as down:
        response = down.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"]["ok"] is False
    assert "OperationalError" in body["database"]["error"] and "\n" not in body["database"]["error"]
    assert "sandbox" in body["networks"]


def test_json_log_lines_are_one_object_each_even_with_a_traceback():
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        record = logging.LogRecord("bot.jobs", logging.ERROR, __file__, 1, "job %s failed", ("send",), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["logger"] == "bot.jobs" and entry["message"] == "job send failed"
    assert "ValueError: first line\nsecond line" in entry["exception"]


def test_log_format_is_a_global_option(cli):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        cli(["--log-format", "json", "init"])  # accepted before any command
        assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert cli_app.registered_callback is not None
