"""Residency migration on AWS: a zone's buckets and table as the tenant's data, the migration records.

Keys:
  migration     pk = ``TENANT#{t}#MIGRATION#{id}``    sk = ``MIGRATION``  (revision, body)
  active lock   pk = ``TENANT#{t}#MIGRATION_ACTIVE``  sk = ``MIGRATION``  (migration_id)

The lock is written with the first migration record in one transaction (absent → present) and
deleted with its final save, so a tenant has at most one migration running. Neither item is copied
nor cleaned: they are how the source zone remembers what it did.

Items are copied without their outbox attributes (``events``, ``last_event``): the target's table
stream must not publish again what the source published once. Their digest is SHA-256 over the
canonical JSON of every other attribute, so a copy is equal exactly when its digest is.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from content_service import correlation
from content_service.domain.errors import ConcurrencyConflict, InvalidTransition, NotFound
from content_service.domain.migration import Counters, MigrationState, TenantMigration
from content_service.domain.tenant import TenantSettings
from content_service.migrations.kinds import stamped
from content_service.service.migration import StoredItem, StoredObject, sha256_of

OUTBOX_ATTRIBUTES = frozenset({"events", "last_event"})
MIGRATION_ENTITIES = frozenset({"tenant_migration", "tenant_migration_lock"})
_CHUNK = 1024 * 1024


# ------------------------------------------------------------------ objects
class S3ZoneObjects:
    """ObjectStore over a zone's buckets: ``roles`` maps a role (bundles, packages, exports) to the
    primary region's bucket; ``replicas`` lists, per role, the same bucket in the zone's other regions
    (deletes are made there too: S3 replication does not carry delete markers)."""

    def __init__(
        self,
        client: Any,
        roles: dict[str, str],
        replicas: dict[str, Sequence[tuple[Any, str]]] | None = None,
    ) -> None:
        self._s3 = client
        self._roles = dict(sorted(roles.items()))
        self._replicas = replicas or {}

    def page(self, tenant_id: str, after: str | None, limit: int) -> list[StoredObject]:
        found: list[StoredObject] = []
        for role, bucket in self._roles.items():
            if after is not None and role < after.split("/", 1)[0]:
                continue
            arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": f"tenants/{tenant_id}/", "MaxKeys": limit}
            if after is not None and after.split("/", 1)[0] == role:
                arguments["StartAfter"] = after.split("/", 1)[1]
            response = self._s3.list_objects_v2(**arguments)
            found.extend(StoredObject(f"{role}/{o['Key']}", int(o["Size"])) for o in response.get("Contents", []))
            if len(found) >= limit:
                return found[:limit]
        return found

    def open(self, name: str) -> BinaryIO | None:
        bucket, key = self._where(name)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def digest(self, name: str) -> str | None:
        body = self.open(name)
        if body is None:
            return None
        with body:
            return sha256_of(iter(lambda: body.read(_CHUNK), b""))[0]

    def write(self, name: str, body: BinaryIO) -> tuple[str, int]:
        bucket, key = self._where(name)
        data = body.read()
        digest = hashlib.sha256(data).hexdigest()
        # S3 checks the body against this checksum on arrival, so a copy corrupted on the way is
        # refused here already; the verification reads it back as well.
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
            Metadata={"migrated-sha256": digest},
        )
        return digest, len(data)

    def delete(self, name: str) -> int:
        bucket, key = self._where(name)
        role = name.split("/", 1)[0]
        deleted = self._delete_versions(self._s3, bucket, key)
        for client, replica in self._replicas.get(role, ()):
            deleted += self._delete_versions(client, replica, key)
        return deleted

    @staticmethod
    def _delete_versions(client: Any, bucket: str, key: str) -> int:
        # Every version and delete marker: a versioned bucket keeps the bytes of a plain delete.
        deleted = 0
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if version["Key"] == key:
                    client.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
                    deleted += 1
        return deleted

    def _where(self, name: str) -> tuple[str, str]:
        role, _, key = name.partition("/")
        if role not in self._roles or not key.startswith("tenants/"):
            raise ValueError(f"{name!r} is not a tenant object of this zone")
        return self._roles[role], key


# -------------------------------------------------------------------- items
def item_digest(item: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an item's attributes, outbox attributes left out."""
    kept = {name: value for name, value in item.items() if name not in OUTBOX_ATTRIBUTES}
    return hashlib.sha256(json.dumps(_canonical(kept), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(v) for v in value]
        # String, number and binary sets have no order.
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    return value


class DynamoZoneItems:
    """ItemStore over a zone's table: every item whose partition starts with the tenant."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def page(self, tenant_id: str, after: str | None, limit: int) -> tuple[list[StoredItem], str | None]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :tenant) AND NOT (entity IN (:m1, :m2))",
            "ExpressionAttributeValues": {
                ":tenant": {"S": f"TENANT#{tenant_id}#"},
                ":m1": {"S": "tenant_migration"},
                ":m2": {"S": "tenant_migration_lock"},
            },
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after:
            arguments["ExclusiveStartKey"] = json.loads(after)
        response = self._client.scan(**arguments)
        items = [self._stored(item) for item in response.get("Items", [])]
        following = response.get("LastEvaluatedKey")
        return items, None if following is None else json.dumps(following, sort_keys=True)

    def get(self, key: tuple[str, str]) -> StoredItem | None:
        item = self._client.get_item(TableName=self._table, Key=_key(key), ConsistentRead=True).get("Item")
        return None if item is None else self._stored(item)

    def put(self, item: StoredItem, *, only_if_newer: bool = False) -> bool:
        data = {name: value for name, value in item.data.items() if name not in OUTBOX_ATTRIBUTES}
        arguments: dict[str, Any] = {"TableName": self._table, "Item": data}
        if only_if_newer:
            if item.revision is None:
                arguments["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                arguments["ConditionExpression"] = "attribute_not_exists(pk) OR revision < :revision"
                arguments["ExpressionAttributeValues"] = {":revision": {"N": str(item.revision)}}
        try:
            self._client.put_item(**arguments)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def delete(self, key: tuple[str, str]) -> bool:
        response = self._client.delete_item(TableName=self._table, Key=_key(key), ReturnValues="ALL_OLD")
        return "Attributes" in response

    def devices(self, tenant_id: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for item in self._scan(
            "begins_with(pk, :devices) AND entity = :device",
            {":devices": {"S": f"TENANT#{tenant_id}#DEVICE#"}, ":device": {"S": "device"}},
        ):
            body = json.loads(item["body"]["S"])
            found.append((str(body["device_id"]), str(body["state"])))
        return sorted(found)

    def pointer_key(self, tenant_id: str) -> tuple[str, str]:
        return f"TENANT#{tenant_id}#SETTINGS", "SETTINGS"

    def _scan(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            response = self._client.scan(**arguments)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _stored(item: dict[str, Any]) -> StoredItem:
        revision = int(item["revision"]["N"]) if "N" in item.get("revision", {}) else None
        return StoredItem((item["pk"]["S"], item["sk"]["S"]), item_digest(item), item, revision)


def _key(key: tuple[str, str]) -> dict[str, Any]:
    return {"pk": {"S": key[0]}, "sk": {"S": key[1]}}


# ---------------------------------------------------------------- records
def _migration_pk(tenant_id: str, migration_id: str) -> str:
    return f"TENANT#{tenant_id}#MIGRATION#{migration_id}"


def _lock_key(tenant_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#{tenant_id}#MIGRATION_ACTIVE"}, "sk": {"S": "MIGRATION"}}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class DynamoMigrationRepository:
    """MigrationRepository on the (source zone's) table; writes are conditional on the revision."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, migration: TenantMigration) -> TenantMigration:
        stored = migration.cleared_events()
        stored = replace(stored, revision=1)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": stamped(
                                {
                                    **_lock_key(migration.tenant_id),
                                    "entity": {"S": "tenant_migration_lock"},
                                    "tenant_id": {"S": migration.tenant_id},
                                    "migration_id": {"S": migration.migration_id},
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": self._put(stored, "attribute_not_exists(pk)")},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise InvalidTransition(
                    f"tenant {migration.tenant_id} has a migration running already"
                ) from error
            raise
        return stored

    def get(self, tenant_id: str, migration_id: str) -> TenantMigration:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": _migration_pk(tenant_id, migration_id)}, "sk": {"S": "MIGRATION"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise NotFound(f"migration {migration_id} not found")
        return _migration(item)

    def active(self, tenant_id: str) -> TenantMigration | None:
        lock = self._client.get_item(TableName=self._table, Key=_lock_key(tenant_id), ConsistentRead=True).get(
            "Item"
        )
        return None if lock is None else self.get(tenant_id, lock["migration_id"]["S"])

    def save(self, migration: TenantMigration) -> TenantMigration:
        stored = replace(migration.cleared_events(), revision=migration.revision + 1)
        items: list[dict[str, Any]] = [{"Put": self._put(stored, "revision = :read", migration.revision)}]
        if stored.is_final:
            items.append({"Delete": {"TableName": self._table, "Key": _lock_key(migration.tenant_id)}})
        self._transact(items, migration)
        return stored

    def switch(self, migration: TenantMigration, settings: TenantSettings) -> TenantMigration:
        if migration.state is not MigrationState.SWITCHED:
            raise InvalidTransition(f"migration {migration.migration_id} is not switching")
        # The migration's condition: still the revision read, which was ``verified``.
        stored = replace(migration.cleared_events(), revision=migration.revision + 1)
        settings_put = _settings_put(self._table, settings)
        self._transact(
            [{"Put": self._put(stored, "revision = :read AND #state = :verified", migration.revision)}, {"Put": settings_put}],
            migration,
            extra_values={":verified": {"S": MigrationState.VERIFIED.value}},
        )
        return stored

    def _transact(
        self, items: list[dict[str, Any]], migration: TenantMigration, extra_values: dict[str, Any] | None = None
    ) -> None:
        if extra_values:
            put = items[0]["Put"]
            put["ExpressionAttributeValues"] = {**put.get("ExpressionAttributeValues", {}), **extra_values}
            put["ExpressionAttributeNames"] = {"#state": "state"}
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise ConcurrencyConflict(
                    f"migration {migration.migration_id} or its tenant's settings changed concurrently"
                ) from error
            raise

    def _put(self, migration: TenantMigration, condition: str, read: int | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": stamped(
                {
                    "pk": {"S": _migration_pk(migration.tenant_id, migration.migration_id)},
                    "sk": {"S": "MIGRATION"},
                    "entity": {"S": "tenant_migration"},
                    "tenant_id": {"S": migration.tenant_id},
                    "state": {"S": migration.state.value},
                    "revision": {"N": str(migration.revision)},
                    "body": {"S": json.dumps(_body(migration))},
                }
            ),
            "ConditionExpression": condition,
        }
        if read is not None:
            put["ExpressionAttributeValues"] = {":read": {"N": str(read)}}
        return put


def _settings_put(table: str, settings: TenantSettings) -> dict[str, Any]:
    """The tenant settings item as ``DynamoTenantSettings`` writes it, conditional on the revision read."""
    from content_service.adapters.entities import settings_item

    item = settings_item(table, settings)
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if settings.revision == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "revision = :settings_read"
        put["ExpressionAttributeValues"] = {":settings_read": {"N": str(settings.revision)}}
    return put


def _body(m: TenantMigration) -> dict[str, Any]:
    return {
        "migration_id": m.migration_id,
        "source_zone": m.source_zone,
        "target_zone": m.target_zone,
        "requested_by": m.requested_by,
        "requested_at": _iso(m.requested_at),
        "updated_at": _iso(m.updated_at),
        "grace_seconds": int(m.grace.total_seconds()),
        "cursor": m.cursor,
        "counters": m.counters.as_dict(),
        "objects_total": m.objects_total,
        "items_total": m.items_total,
        "switched_at": _iso(m.switched_at),
        "notified_at": _iso(m.notified_at),
        "clean_after": _iso(m.clean_after),
        "completed_at": _iso(m.completed_at),
        "failure": m.failure,
    }


def _migration(item: dict[str, Any]) -> TenantMigration:
    body = json.loads(item["body"]["S"])
    return TenantMigration(
        tenant_id=item["tenant_id"]["S"],
        migration_id=body["migration_id"],
        source_zone=body["source_zone"],
        target_zone=body["target_zone"],
        state=MigrationState(item["state"]["S"]),
        requested_by=body["requested_by"],
        requested_at=datetime.fromisoformat(body["requested_at"]),
        updated_at=datetime.fromisoformat(body["updated_at"]),
        grace=timedelta(seconds=int(body["grace_seconds"])),
        cursor=body.get("cursor"),
        counters=Counters(**body.get("counters", {})),
        objects_total=body.get("objects_total"),
        items_total=body.get("items_total"),
        switched_at=_time(body.get("switched_at")),
        notified_at=_time(body.get("notified_at")),
        clean_after=_time(body.get("clean_after")),
        completed_at=_time(body.get("completed_at")),
        failure=body.get("failure"),
        revision=int(item["revision"]["N"]),
    )


class SqsMigrationQueue:
    """MigrationQueue on the migration queue: one message says "run this migration on"."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    def send(self, tenant_id: str, migration_id: str, delay_seconds: int = 0) -> None:
        message: dict[str, Any] = {
            "QueueUrl": self._queue_url,
            "MessageBody": json.dumps({"v": 1, "tenant_id": tenant_id, "migration_id": migration_id}),
            # SQS delays a message by at most 15 minutes; a longer wait is several hops.
            "DelaySeconds": max(0, min(900, delay_seconds)),
        }
        correlation_id = correlation.current()
        if correlation_id:
            message["MessageAttributes"] = {
                correlation.ATTRIBUTE: {"DataType": "String", "StringValue": correlation_id}
            }
        self._sqs.send_message(**message)
