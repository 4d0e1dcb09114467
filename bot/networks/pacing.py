"""Pacing per recipient for asyncio clients: at most N calls per period to each key.

Networks limit how fast a bot may write to one chat or one user, on top of
their global limits; going faster earns a 429 and, repeated, a ban. Clients'
own limiters rarely cover every such rule (python-telegram-bot paces groups but
not private chats), so a connector wraps its sends in `KeyedPacing.slot(key)`.
One `aiolimiter.AsyncLimiter` is kept per key, and idle ones are forgotten so a
long-running bot that wrote to many people does not keep one for each.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Hashable

from aiolimiter import AsyncLimiter


class KeyedPacing:
    """At most `rate` calls per `period` seconds for each key; calls with no key (None) are not paced."""

    def __init__(self, rate: float, period: float = 1.0, *, remember: int = 512):
        self.rate = rate
        self.period = period
        self.remember = remember  # above this many keys, idle ones are forgotten
        self._limiters: dict[Hashable, AsyncLimiter] = {}

    @contextlib.asynccontextmanager
    async def slot(self, key: Hashable | None) -> AsyncIterator[None]:
        """Wait until a call to `key` is allowed, then hold the slot while the call runs."""
        if key is None:
            yield
            return
        async with self._limiter(key):
            yield

    def _limiter(self, key: Hashable) -> AsyncLimiter:
        if len(self._limiters) > self.remember:
            for known, limiter in list(self._limiters.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._limiters[known]
        if key not in self._limiters:
            self._limiters[key] = AsyncLimiter(self.rate, self.period)
        return self._limiters[key]
