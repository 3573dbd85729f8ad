"""The last few results of a costly computation, kept by key: a thread-safe LRU of fixed size.

For results that are the same as long as their key is: a readout's pictures by the hash of
their data (``clinical.report``), a stored dataset by its hash (``clinical.datasets``), the
orders in flight by the audit trail's head (``identity.views.dashboard``). The key must name
everything the value depends on; nothing here expires a value by time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most ``size`` values by key; the least recently used is dropped first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("Kept needs room for at least one value")
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[K, threading.Lock] = {}  # one per key being made (``get_or_make``)

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._values:
                return None
            self._values.move_to_end(key)
            return self._values[key]

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` for ``key`` (dropping the least recently used beyond ``size``)."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, or ``make()``'s, kept. Threads asking for a missing key at
        once wait for the one that makes it (fifty readers of a list that has just changed make
        it once, not fifty times); other keys are neither made nor read under that wait. If
        ``make`` raises, the next waiter tries in turn."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            gate = self._making.setdefault(key, threading.Lock())
        with gate:
            found = self.get(key)
            if found is not None:
                return found
            try:
                return self.put(key, make())
            finally:
                with self._lock:
                    if self._making.get(key) is gate:
                        del self._making[key]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values
