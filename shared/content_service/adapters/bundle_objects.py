"""The bundles bucket as the storage watch sees it: object digests, and tamper outbox rows."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from content_service.adapters.entities import entity_model
from content_service.correlation import stamped
from content_service.domain.events import DomainEvent
from content_service.service.storage_watch import ObjectChange

_CHUNK = 1024 * 1024


class S3ObjectDigests:
    """SHA-256 of an object's current bytes, streamed in 1 MiB chunks (constant memory)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def sha256(self, key: str) -> str | None:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            digest.update(chunk)
        return digest.hexdigest()


class DynamoStorageTamperLog:
    """Storage tamper records: pk = ``TENANT#{t}#BUNDLE#{id}``, sk = ``TAMPER#{record}``, with the event."""

    def __init__(self, table_name: str, region: str) -> None:
        self._model = entity_model(table_name, region)

    def add(self, tenant_id: str, bundle_id: str, change: ObjectChange, record_id: str) -> None:
        event = DomainEvent(
            "content.bundle.tampered.v1",
            tenant_id,
            bundle_id,
            change.at,
            {"source": "storage", "kind": change.event_name, "object_key": change.key, "corroborated": True},
        )
        item = self._model(
            f"TENANT#{tenant_id}#BUNDLE#{bundle_id}",
            f"TAMPER#{record_id}",
            entity="storage_tamper",
            tenant_id=tenant_id,
            body={"object_key": change.key, "event_name": change.event_name, "at": change.at.isoformat()},
            events=[stamped(event.as_dict())],
        )
        try:
            item.save(condition=self._model.pk.does_not_exist(), add_version_condition=False)
        except PutError as error:
            # S3 redelivered the notification: the row, and so its event, is already written.
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
