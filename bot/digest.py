"""The officers' daily digest: what is overdue, what came in, what waits.

Once per UTC day (the first pass of `datacall run` that day, whichever process
wins the day's mark) it writes one log line, and, when `[digest] smtp_url` and
`recipients` are set and something is overdue or new, e-mails the digest.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import DigestConfig
from bot.overdue import OverdueRule, overdue_requests
from bot.schedule_marks import claim_day
from storage.models import Request

log = logging.getLogger(__name__)

MARK_KEY = "digest_last_day"
SMTP_TIMEOUT = 30.0


class DigestError(Exception):
    """The e-mail could not be sent; the log line was written anyway."""


@dataclass(frozen=True)
class Digest:
    day: date
    overdue: list[tuple[int, str, str]]  # (request id, why, title)
    new: int
    waiting: int

    @property
    def worth_mailing(self) -> bool:
        return bool(self.overdue or self.new)

    def line(self) -> str:
        ids = ", ".join(f"#{request_id}" for request_id, _, _ in self.overdue[:20])
        more = "…" if len(self.overdue) > 20 else ""
        return (
            f"digest {self.day}: {len(self.overdue)} overdue request(s){': ' + ids + more if ids else ''}; "
            f"{self.new} new since yesterday; {self.waiting} waiting for a decision"
        )

    def body(self, public_url: str = "") -> str:
        lines = [f"datacall digest for {self.day}", ""]
        lines.append(f"{self.new} new request(s) since yesterday, {self.waiting} waiting for a decision.")
        lines.append("")
        if self.overdue:
            lines.append(f"Overdue ({len(self.overdue)}):")
            for request_id, why, title in self.overdue:
                link = f" {public_url.rstrip('/')}/queue/requests/{request_id}" if public_url else ""
                lines.append(f"- #{request_id} {title} ({why}){link}")
        else:
            lines.append("Nothing is overdue.")
        lines += ["", "Decide with `datacall queue` or the web queue."]
        return "\n".join(lines) + "\n"


def build_digest(session: Session, rule: OverdueRule, *, today: date) -> Digest:
    start = datetime.combine(today, time(), tzinfo=UTC)
    overdue = [
        (request.id, _why(request, rule), request.title)
        for request in overdue_requests(session, rule, today=today)
    ]
    new = session.scalar(
        select(func.count()).select_from(Request).where(
            Request.created_at >= start - timedelta(days=1), Request.created_at < start
        )
    )
    waiting = session.scalar(
        select(func.count()).select_from(Request).where(Request.status.in_(("received", "under_review")))
    )
    return Digest(today, overdue, new or 0, waiting or 0)


def _why(request: Request, rule: OverdueRule) -> str:
    if request.status == "accepted":
        return f"accepted, expected {request.expected_at}"  # a date prints as YYYY-MM-DD
    return f"received {request.created_at.date().isoformat()}, no answer after {rule.working_days} working days"


def send_email(settings: DigestConfig, subject: str, body: str) -> None:
    """One plain-text e-mail to the recipients through the configured SMTP server."""
    url = urlsplit(settings.smtp_url)
    host, port = url.hostname or "localhost", url.port
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(body)
    client: smtplib.SMTP
    try:
        if url.scheme == "smtps":
            client = smtplib.SMTP_SSL(host, port or 465, timeout=SMTP_TIMEOUT)
        else:
            client = smtplib.SMTP(host, port or 25, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if url.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
            if settings.username:
                client.login(settings.username, os.environ.get(settings.password_env, ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestError(f"digest e-mail to {host}:{port} failed: {exc}") from exc


def run_digest(
    sessions: sessionmaker[Session], rule: OverdueRule, settings: DigestConfig, *,
    today: date, public_url: str = "",
) -> Digest | None:
    """The day's digest, if nobody made it yet today: logged, and mailed when configured."""
    if not claim_day(sessions, MARK_KEY, today=today):
        return None
    with sessions() as session:
        digest = build_digest(session, rule, today=today)
    log.info(digest.line())
    if settings.smtp_url and settings.recipients and digest.worth_mailing:
        subject = f"datacall: {len(digest.overdue)} overdue, {digest.new} new ({digest.day})"
        send_email(settings, subject, digest.body(public_url))
    return digest
