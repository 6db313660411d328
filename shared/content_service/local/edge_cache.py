"""The local edge's object cache and the byte-range arithmetic it serves ranges with.

Like a CloudFront edge, the cache keeps whole objects (keyed by object key, remembering the ETag
it was filled with), answers repeated reads without asking the origin, and evicts the least
recently used objects once its byte budget is spent. Objects bigger than ``max_object_bytes``
are never cached: the edge streams them from the origin chunk by chunk instead.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class RangeNotSatisfiable(Exception):
    """The Range header names no byte of the object (416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a ``Range`` header asks for, or None for the whole object.

    Follows RFC 9110: ``a-b``, ``a-`` and ``-n`` (the last n bytes); a ``b`` past the end is cut to
    the end. A header that is not a single well-formed byte range is ignored (the whole object is
    served), as the RFC allows; a well-formed range that starts past the end is unsatisfiable.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    if last_text and not last_text.isdigit():
        return None
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(header)
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


@dataclass(frozen=True)
class CachedObject:
    """One object as the edge keeps it: its bytes and the origin's validators."""

    key: str
    etag: str
    last_modified: str
    content_type: str
    body: bytes
    stored_at: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> int:
        """The object's length in bytes."""
        return len(self.body)


class EdgeCache:
    """An LRU of whole objects bounded by bytes, with a time to live like a cache policy's."""

    def __init__(
        self,
        max_bytes: int = 256 * 1024 * 1024,
        max_object_bytes: int = 32 * 1024 * 1024,
        ttl_seconds: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_object_bytes = min(max_object_bytes, max_bytes)
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._objects: OrderedDict[str, CachedObject] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._fill_locks: dict[str, threading.Lock] = {}

    @property
    def bytes_used(self) -> int:
        """How many object bytes the cache holds now."""
        return self._bytes

    def cacheable(self, size: int) -> bool:
        """Whether an object of ``size`` bytes is kept (bigger ones are streamed through)."""
        return size <= self.max_object_bytes

    def get(self, key: str) -> CachedObject | None:
        """The fresh cached object for ``key``, most recently used from now on; None if absent or stale."""
        with self._lock:
            cached = self._objects.get(key)
            if cached is None:
                return None
            if self._clock() - cached.stored_at >= self.ttl_seconds:
                self._drop(key)
                return None
            self._objects.move_to_end(key)
            return cached

    def put(self, cached: CachedObject) -> None:
        """Keep ``cached`` (replacing an older copy, say with another ETag), evicting the oldest."""
        if not self.cacheable(cached.size):
            return
        with self._lock:
            if cached.key in self._objects:
                self._drop(cached.key)
            self._objects[cached.key] = cached
            self._bytes += cached.size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._objects)))

    @contextmanager
    def filling(self, key: str) -> Iterator[None]:
        """Serialise origin fetches of one key, so a burst of misses makes one origin request."""
        with self._lock:
            lock = self._fill_locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def _drop(self, key: str) -> None:
        dropped = self._objects.pop(key)
        self._bytes -= dropped.size
