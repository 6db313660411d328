"""Decode DynamoDB stream records (the Lambda event shape) into outbox rows.

Entity items carry ``events`` (a JSON list) and package items ``last_event`` (a JSON object);
both are stored as strings by pynamodb's JSONAttribute. Removals, rows without events (inbox
markers, feed entries, licence records) and rewrites that kept the revision decode to None.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from content_service.events.mapping import OutboxRow


def outbox_row(record: dict[str, Any]) -> OutboxRow | None:
    """The row a stream record wrote, with its domain events; None when it carries none."""
    if record.get("eventName") == "REMOVE":
        return None
    change = record.get("dynamodb", {})
    image = change.get("NewImage") or {}
    if _same_revision(change.get("OldImage"), image):
        # Every write of an aggregate moves its revision; one that did not (a migration stamping
        # the item's schema version) changed no state, and its events are the old write's.
        return None
    events = _events(image)
    if not events:
        return None
    keys = change["Keys"]
    written = change.get("ApproximateCreationDateTime")
    return OutboxRow(
        pk=keys["pk"]["S"],
        sk=keys["sk"]["S"],
        revision=int(image.get("revision", {}).get("N", "0")),
        events=tuple(events),
        written_at=datetime.fromtimestamp(float(written), UTC) if written is not None else None,
    )


def _events(image: dict[str, Any]) -> list[dict[str, Any]]:
    if "events" in image and "S" in image["events"]:
        return list(json.loads(image["events"]["S"]))
    if "last_event" in image and "S" in image["last_event"]:
        return [json.loads(image["last_event"]["S"])]
    return []


def _same_revision(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return bool(old) and "revision" in new and old.get("revision") == new["revision"]
