"""Migration 2: every device takes its slot in its user's device-slots record.

Devices enrolled before the per-user slots record existed (the atomic device cap) hold no slot, so
the cap let such a user enrol ``device_cap`` devices more. Up walks the device items and adds each
one's slot to its user's record, creating the record if there is none: an active device holds
its slot; a revoked one until the latest moment its last licence could still play
(``updated_at`` + licence validity + offline grace), as a revocation records it today.

Down removes exactly the slots this migration added, and the records it created if nothing
else was added to them since; it knows them by ``migration_2_added`` (the device ids it added)
and ``migration_2_created`` on the record. Every write is conditional on the record's revision,
and bumps it, so an enrolment racing the migration re-reads and applies the cap to the merged
record, as it does against another enrolment.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from content_service.domain.licence import LicenceTerms

ADDED = "migration_2_added"
CREATED = "migration_2_created"


class DeviceSlotsMigration:
    version = 2
    description = "every device takes its slot in its user's device-slots record"

    def __init__(self, terms: LicenceTerms | None = None) -> None:
        self._terms = terms or LicenceTerms()

    def up(self, client: Any, table: str, item: dict[str, Any]) -> bool:
        if item.get("entity", {}).get("S") != "device":
            return False
        tenant = item["tenant_id"]["S"]
        device = json.loads(item["body"]["S"])
        key = _slots_key(tenant, device["user_id"])
        for _ in range(5):
            record = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            body = json.loads(record["body"]["S"]) if record else {"user_id": device["user_id"], "slots": []}
            if any(slot["device_id"] == device["device_id"] for slot in body["slots"]):
                return False
            body["slots"].append({"device_id": device["device_id"], "release_at": self._release_at(device)})
            added = sorted({*_added(record), device["device_id"]})
            new = {
                **key,
                "entity": {"S": "device_slots"},
                "tenant_id": {"S": tenant},
                "revision": {"N": str(_revision(record) + 1)},
                "body": {"S": json.dumps(body)},
                ADDED: {"SS": added},
                CREATED: {"BOOL": True},
                "schema_version": {"N": str(self.version)},
            }
            if record is not None:
                # A record that existed keeps everything it had, its version stamp included.
                new = {**record, **{k: v for k, v in new.items() if k not in (CREATED, "schema_version")}}
            if _put_if_unchanged(client, table, new, record):
                return True
        raise RuntimeError(f"the device slots of {key['pk']['S']} kept changing; run the migration again")

    def down(self, client: Any, table: str, item: dict[str, Any]) -> bool:
        if item.get("entity", {}).get("S") != "device_slots" or ADDED not in item:
            return False
        for _ in range(5):
            record = client.get_item(TableName=table, Key=_key_of(item), ConsistentRead=True).get("Item")
            if record is None or ADDED not in record:
                return False
            added = set(_added(record))
            body = json.loads(record["body"]["S"])
            body["slots"] = [slot for slot in body["slots"] if slot["device_id"] not in added]
            created = record.get(CREATED, {}).get("BOOL", False)
            if created and not body["slots"]:
                done = _delete_if_unchanged(client, table, record)
            else:
                restored = {k: v for k, v in record.items() if k not in (ADDED, CREATED)}
                restored["body"] = {"S": json.dumps(body)}
                restored["revision"] = {"N": str(_revision(record) + 1)}
                done = _put_if_unchanged(client, table, restored, record)
            if done:
                return True
        raise RuntimeError(f"the device slots of {item['pk']['S']} kept changing; run the migration again")

    def _release_at(self, device: dict[str, Any]) -> str | None:
        if device["state"] == "active":
            return None
        revoked_at = datetime.fromisoformat(device["updated_at"])
        return (revoked_at + self._terms.validity + self._terms.offline_grace).isoformat()


def _slots_key(tenant_id: str, user_id: str) -> dict[str, Any]:
    # The layout of DynamoDeviceRepository's slots record (adapters/entities.py).
    return {"pk": {"S": f"TENANT#{tenant_id}#USER#{user_id}#DEVICE_SLOTS"}, "sk": {"S": "DEVICE_SLOTS"}}


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _revision(record: dict[str, Any] | None) -> int:
    return 0 if record is None else int(record.get("revision", {}).get("N", "0"))


def _added(record: dict[str, Any] | None) -> list[str]:
    return [] if record is None else list(record.get(ADDED, {}).get("SS", []))


def _condition(record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "revision = :r", "ExpressionAttributeValues": {":r": record["revision"]}}


def _put_if_unchanged(client: Any, table: str, item: dict[str, Any], read: dict[str, Any] | None) -> bool:
    try:
        client.put_item(TableName=table, Item=item, **_condition(read))
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _delete_if_unchanged(client: Any, table: str, read: dict[str, Any]) -> bool:
    try:
        client.delete_item(TableName=table, Key=_key_of(read), **_condition(read))
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True
