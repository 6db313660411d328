"""Outbox rows → published events: the one place that turns stored domain events into envelopes.

Pure: the stream adapter decodes a DynamoDB stream record into an :class:`OutboxRow`; this module
decides which of its events are published and what they look like.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content_service.events.models import EVENT_MODELS, Envelope

_ID_FIELDS = {
    "bundle": "bundle_id",
    "device": "device_id",
    "licence": "licence_id",
    "assistant_config": "config_id",
}


@dataclass(frozen=True)
class OutboxRow:
    """One written table item's domain events, as the stream delivered them."""

    pk: str
    sk: str
    revision: int
    events: tuple[dict[str, Any], ...]
    written_at: datetime | None = None
    """The stream record's ApproximateCreationDateTime: when the write happened."""


def event_id(row: OutboxRow, index: int, name: str) -> str:
    """The same row, revision and position always give the same id, so redelivery is recognisable."""
    material = f"{row.pk}\x00{row.sk}\x00{row.revision}\x00{index}\x00{name}".encode()
    return "evt_" + hashlib.sha256(material).hexdigest()[:32]


def envelopes(row: OutboxRow) -> list[Envelope]:
    """The published events of a row, in the order they were recorded; internal events are skipped."""
    published = []
    for index, event in enumerate(row.events):
        model = EVENT_MODELS.get(event.get("name", ""))
        if model is None:
            continue
        published.append(
            model.model_validate(
                {
                    "id": event_id(row, index, event["name"]),
                    "tenant_id": event["tenant_id"],
                    "occurred_at": event["occurred_at"],
                    "data": _body(event),
                }
            )
        )
    return published


def _body(event: dict[str, Any]) -> dict[str, Any]:
    # Package events name their version at the top level; entity events name their aggregate's id
    # as subject_id, whose field name follows from the subject (content.<aggregate>.<verb>.v1).
    if "package_id" in event:
        return {"package_id": event["package_id"], "version": event["version"], **event.get("data", {})}
    aggregate = event["name"].split(".")[1]
    return {_ID_FIELDS[aggregate]: event["subject_id"], **event.get("data", {})}
