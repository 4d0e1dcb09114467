"""The officers' daily digest: a log line always, an e-mail through a real SMTP server on 127.0.0.1, once a day."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.config import ConfigError, DigestConfig, load_config
from bot.digest import DigestError, run_digest
from bot.jobs import build_jobs
from bot.overdue import OverdueRule, WorkingDays
from storage.models import Request
from tests.web_support import add_message

TODAY = date(2027, 3, 1)


class Inbox:
    """aiosmtpd handler keeping what the server received."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def smtp_with_login():
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"digest" and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
        auth_require_tls=False, auth_required=True,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def seed_overdue(sessions, today: date = TODAY) -> int:
    with sessions() as session, session.begin():
        message = add_message(session, "@late_one", "Publish the tree inventory")
        request = Request(title="Tree inventory", status="received",
                          created_at=datetime.combine(today - timedelta(days=60), time(9), tzinfo=UTC))
        session.add(request)
        session.flush()
        message.request_id = request.id
        return request.id


RULE = OverdueRule(20, WorkingDays("FR"))


def test_digest_is_logged_and_mailed_once_a_day(sessions, smtp, caplog):
    controller, inbox = smtp
    late = seed_overdue(sessions)
    settings = DigestConfig(
        smtp_url=f"smtp://127.0.0.1:{controller.port}", recipients=["opendata@city.example", "lead@city.example"],
        sender="datacall@city.example",
    )
    with caplog.at_level(logging.INFO, logger="bot.digest"):
        digest = run_digest(sessions, RULE, settings, today=TODAY, public_url="https://data.city.example")
    assert [row[0] for row in digest.overdue] == [late]
    assert f"digest 2027-03-01: 1 overdue request(s): #{late}" in caplog.text
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "datacall@city.example"
    assert sorted(envelope.rcpt_tos) == ["lead@city.example", "opendata@city.example"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "datacall: 1 overdue, 0 new (2027-03-01)"
    body = mail.get_payload(decode=True).decode()
    assert f"#{late} Tree inventory" in body
    assert f"https://data.city.example/queue/requests/{late}" in body

    # The same day again (another pass, another process): nothing more.
    assert run_digest(sessions, RULE, settings, today=TODAY) is None
    assert len(inbox.envelopes) == 1
    # The next day: a new digest.
    assert run_digest(sessions, RULE, settings, today=TODAY + timedelta(days=1)) is not None
    assert len(inbox.envelopes) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a local test server, no TLS
def test_digest_logs_in_with_the_password_from_the_environment(sessions, smtp_with_login, monkeypatch):
    controller, inbox = smtp_with_login
    seed_overdue(sessions)
    monkeypatch.setenv("DIGEST_PW", "s3cret")
    settings = DigestConfig(smtp_url=f"smtp://127.0.0.1:{controller.port}", username="digest",
                            password_env="DIGEST_PW", recipients=["opendata@city.example"])
    run_digest(sessions, RULE, settings, today=TODAY)
    assert len(inbox.envelopes) == 1

    monkeypatch.setenv("DIGEST_PW", "wrong")
    with pytest.raises(DigestError, match="digest e-mail to 127.0.0.1"):
        run_digest(sessions, RULE, settings, today=TODAY + timedelta(days=1))
    assert len(inbox.envelopes) == 1


def test_nothing_to_say_is_logged_but_not_mailed(sessions, smtp, caplog):
    controller, inbox = smtp
    settings = DigestConfig(smtp_url=f"smtp://127.0.0.1:{controller.port}", recipients=["opendata@city.example"])
    with caplog.at_level(logging.INFO, logger="bot.digest"):
        digest = run_digest(sessions, RULE, settings, today=TODAY)
    assert digest.overdue == [] and "0 overdue request(s)" in caplog.text
    assert inbox.envelopes == []


def test_unreachable_server_is_one_clear_error(sessions):
    seed_overdue(sessions)
    settings = DigestConfig(smtp_url=f"smtp://127.0.0.1:{free_port()}", recipients=["opendata@city.example"])
    with pytest.raises(DigestError, match=r"digest e-mail to 127\.0\.0\.1:\d+ failed"):
        run_digest(sessions, RULE, settings, today=TODAY)


def test_run_has_a_digest_job_that_mails_through_the_configured_server(write_config, db_url, smtp):
    controller, inbox = smtp
    from bot.runtime import Runtime
    from storage.migrate import upgrade

    config = load_config(write_config(
        f'[database]\nurl = "{db_url}"\n[digest]\nsmtp_url = "smtp://127.0.0.1:{controller.port}"\n'
        'recipients = ["opendata@city.example"]\n'
    ))
    runtime = Runtime.from_config(config, say=lambda text: None)
    try:
        upgrade(runtime.engine)
        seed_overdue(runtime.sessions, datetime.now(UTC).date())
        job = next(job for job in build_jobs(runtime) if job.name == "digest")
        assert job.run() == 1
        assert job.run() == 0  # once a day
        assert len(inbox.envelopes) == 1
    finally:
        runtime.close()


@pytest.mark.parametrize("text, key", [
    ('[digest]\nsmtp_url = "http://mail.example"\n', "digest.smtp_url"),
    ('[digest]\nrecipients = ["not an address"]\n', "digest.recipients"),
])
def test_bad_digest_settings_are_one_line(write_config, text, key):
    with pytest.raises(ConfigError, match=key):
        load_config(write_config(text))
