"""`datacall ARGS...` with every sandbox reply slowed down, to stop the process in the middle of a send.

    python tests/slow_send.py SECONDS run --config FILE

Test-only: the real command in a real process, with the sandbox connector's
`reply` wrapped to take SECONDS before it publishes (a slow network), and to
fail, as an HTTP client would, if its connector was closed meanwhile. Each
step is printed, so a test knows when a send is in flight.
"""

from __future__ import annotations

import sys
import time

from bot.cli.app import main
from bot.networks.base import Connector
from bot.networks.sandbox import SandboxConnector

STARTED = "slow send started:"
FINISHED = "slow send finished:"
CLOSED = "sandbox connector closed"


def say(line: str) -> None:
    """One line in one write: the log lines of other threads share the output and never land inside it."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def slow_down(delay: float) -> None:
    real_reply = SandboxConnector.reply

    def reply(self, target, text, *, idempotency_key):
        say(f"{STARTED} {idempotency_key}")
        time.sleep(delay)
        if getattr(self, "closed", False):
            raise ConnectionError("connector closed during the send")
        ref = real_reply(self, target, text, idempotency_key=idempotency_key)
        say(f"{FINISHED} {idempotency_key}")
        return ref

    def close(self):
        self.closed = True
        say(CLOSED)

    SandboxConnector.reply = reply
    SandboxConnector.reply_all = Connector.reply_all  # each reply through the slowed `reply`
    SandboxConnector.close = close


if __name__ == "__main__":
    slow_down(float(sys.argv[1]))
    sys.argv = ["datacall", *sys.argv[2:]]
    main()
