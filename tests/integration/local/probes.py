"""Throwaway handlers that record what the local Lambda service hands them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Probe:
    """A handler that records every (event, context) and answers with ``respond(event)``."""

    def __init__(self, respond: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []
        self.respond = respond or (lambda event: None)
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.calls.append((event, context))
        return self.respond(event)

    def events(self) -> list[dict[str, Any]]:
        """Every event delivered so far, in delivery order."""
        with self._lock:
            return [event for event, _ in self.calls]

    def records(self) -> list[dict[str, Any]]:
        """Every record of every batch delivered so far, in delivery order."""
        with self._lock:
            return [record for event, _ in self.calls for record in event.get("Records", [])]

    def wait_for(self, condition: Callable[[Probe], bool], timeout: float = 15.0) -> None:
        """Poll until ``condition(self)`` holds, or fail with what was recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met in {timeout}s; recorded {len(self.calls)} calls")
