"""Keep secrets out of logs that third-party libraries write.

Some HTTP clients log every request URL (httpx at INFO), and some APIs carry the
secret in the URL (the Telegram Bot API puts the bot token in the path). Rather
than silencing those loggers, `hide_in_logs` rewrites any record quoting a
registered secret, so the log stays useful and the secret never reaches it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "<token>") if secret else text


class _SecretFilter(logging.Filter):
    """Rewrites log records that quote a registered secret."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in self.secrets:
            cleaned = redact(cleaned, secret)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_SECRET_FILTER = _SecretFilter()


def hide_in_logs(secret: str, loggers: Iterable[str]) -> None:
    """From now on, records of `loggers` show `secret` as "<token>"."""
    if secret:
        _SECRET_FILTER.secrets.add(secret)
    for name in loggers:
        logger = logging.getLogger(name)
        if _SECRET_FILTER not in logger.filters:
            logger.addFilter(_SECRET_FILTER)
