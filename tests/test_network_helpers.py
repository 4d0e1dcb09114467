"""The asyncio helpers shared by connectors: the loop thread, pacing per key, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from bot.networks.asyncio_thread import LoopThread
from bot.networks.log_redaction import hide_in_logs, redact
from bot.networks.pacing import KeyedPacing


def test_loop_thread_runs_coroutines_on_one_named_thread_until_stopped():
    loop_thread = LoopThread("helper-test-loop")
    assert not loop_thread.running

    async def where() -> tuple[str, asyncio.AbstractEventLoop]:
        return threading.current_thread().name, asyncio.get_running_loop()

    first = loop_thread.run(where(), timeout=5)
    second = loop_thread.run(where(), timeout=5)
    assert first[0] == "helper-test-loop" and first[1] is second[1]  # one loop for every call
    assert loop_thread.running

    closed = []

    async def last() -> None:
        closed.append(threading.current_thread().name)

    loop_thread.stop(last, timeout=5)
    assert closed == ["helper-test-loop"] and not loop_thread.running
    assert "helper-test-loop" not in {t.name for t in threading.enumerate()}
    loop_thread.stop(last, timeout=5)  # stopping twice does nothing
    assert closed == ["helper-test-loop"]


def test_loop_thread_cancels_a_call_that_times_out():
    loop_thread = LoopThread("helper-test-timeout")
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        loop_thread.run(forever(), timeout=0.1)
    assert cancelled.wait(5)
    loop_thread.stop(timeout=5)


def test_keyed_pacing_waits_per_key_only():
    pacing = KeyedPacing(rate=1, period=0.4)

    async def stamps(keys: list[object]) -> dict[object, list[float]]:
        seen: dict[object, list[float]] = {}

        async def call(key: object) -> None:
            async with pacing.slot(key):
                seen.setdefault(key, []).append(time.monotonic())

        await asyncio.gather(*(call(key) for key in keys))
        return seen

    seen = asyncio.run(stamps([1, 1, 2, None, None]))
    assert seen[1][1] - seen[1][0] >= 0.3  # the second call to key 1 waited for the period
    assert abs(seen[2][0] - seen[1][0]) < 0.2  # key 2 did not wait for key 1
    assert abs(seen[None][1] - seen[None][0]) < 0.2  # no key, no pacing


def test_keyed_pacing_forgets_idle_keys():
    pacing = KeyedPacing(rate=5, period=0.01, remember=3)

    async def touch(keys: range) -> None:
        for key in keys:
            async with pacing.slot(key):
                pass
            await asyncio.sleep(0.02)  # the key's limiter drains: idle

    asyncio.run(touch(range(10)))
    assert len(pacing._limiters) <= 5


def test_secrets_are_rewritten_in_the_named_loggers_only(caplog):
    hide_in_logs("123:SECRET", ["helper-test.http"])
    with caplog.at_level(logging.INFO):
        logging.getLogger("helper-test.http").info("GET https://api/bot%s/getMe", "123:SECRET")
        logging.getLogger("helper-test.other").info("plain %s", "text")
    assert [r.getMessage() for r in caplog.records] == ["GET https://api/bot<token>/getMe", "plain text"]
    assert redact("a 123:SECRET b", "123:SECRET") == "a <token> b" and redact("text", "") == "text"
