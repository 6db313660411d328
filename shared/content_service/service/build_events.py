"""Reading upload notifications: S3 event records, delivered inside SQS messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

from content_service.domain.errors import ValidationFailed


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int


def uploaded_objects(message_body: str) -> list[UploadedObject]:
    """The objects an S3 notification announces (none for S3's test event).

    S3 event keys arrive URL-encoded (spaces as '+'), so they are decoded here, once.
    """
    try:
        payload = json.loads(message_body)
    except json.JSONDecodeError as error:
        raise ValidationFailed("the message is not an S3 event notification") from error
    if not isinstance(payload, dict):
        raise ValidationFailed("the message is not an S3 event notification")
    if payload.get("Event") == "s3:TestEvent":
        return []
    objects = []
    for record in payload.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        objects.append(
            UploadedObject(
                s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), int(s3["object"].get("size", 0))
            )
        )
    return objects
