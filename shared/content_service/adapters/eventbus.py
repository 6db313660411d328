"""Publish integration events to an EventBridge bus with PutEvents."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from content_service.events.models import SOURCE, Envelope

logger = logging.getLogger(__name__)

#: PutEvents takes at most 10 entries and 256 KiB per call.
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024


class EventBridgeBus:
    """EventBus on EventBridge: batches of ≤ 10 entries, failed entries retried, the rest reported."""

    def __init__(self, client: Any, bus_name: str, attempts: int = 3) -> None:
        self._client = client
        self._bus_name = bus_name
        self._attempts = attempts

    def publish(self, events: Sequence[Envelope]) -> set[str]:
        failed: set[str] = set()
        for chunk in _chunks([self._entry(event) for event in events]):
            failed |= self._put(chunk)
        return failed

    def _entry(self, event: Envelope) -> tuple[str, dict[str, Any]]:
        return event.id, {
            "Source": SOURCE,
            "DetailType": event.subject,
            "Detail": event.model_dump_json(),
            "EventBusName": self._bus_name,
            "Time": event.occurred_at,
        }

    def _put(self, chunk: list[tuple[str, dict[str, Any]]]) -> set[str]:
        pending = chunk
        for _ in range(self._attempts):
            response = self._client.put_events(Entries=[entry for _, entry in pending])
            if not response.get("FailedEntryCount"):
                return set()
            # Results come back in request order; only the entries with an ErrorCode are retried.
            pending = [
                item
                for item, result in zip(pending, response["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            logger.warning("PutEvents refused %d entries; retrying them", len(pending))
        return {event_id for event_id, _ in pending}


def _chunks(entries: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    chunks: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for item in entries:
        entry_size = len(item[1]["Detail"]) + len(item[1]["DetailType"]) + len(SOURCE) + 64
        if not chunks or len(chunks[-1]) >= MAX_ENTRIES or size + entry_size > MAX_REQUEST_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += entry_size
    return chunks
