"""A few seconds of memory for the counts that read every row (todo total, dashboard counts, filter choices).

Per app (one per `datacall serve` process), emptied by every decision made
through this app, so an officer sees their own change at once; changes made
elsewhere (the pipeline, another process) show within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class ShortCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]  # a key holds what its own compute() returned
        value = compute()
        with self._lock:
            self._values[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
