"""Every kind of item the service stores, and the one place that stamps its schema version.

An item names its kind in ``entity``. Two sorts of kind:

- **Migrated** kinds follow the table's schema version: the code writes :data:`SCHEMA_VERSION`
  and a migration run stamps each of their items with the version it moves to (down to version 1
  removes the stamp: an item without one was written before versions existed, version 1). That is
  every aggregate and every projection row (sync feeds and user indexes, inbox markers, the holder
  index, withdrawal progress and chunk counters): a projection can be rebuilt from events, but
  rebuilding a table's projections is not a migration anyone wants to run, so a migration whose
  change does not concern a kind is a no-op for it and only moves its stamp.
- **Fixed** kinds are written in one format that no table migration changes, and always carry
  version 1: the migration runner's own state record (it reads every format it ever wrote) and
  the idempotency records in their own table (Powertools' layout; they expire after 24 hours, so
  a change of their format waits out the expiry instead of migrating them).

Raw boto3 writes go through :func:`stamped` (puts) and :func:`versioned_update` (updates that may
create the item); the pynamodb models default their ``schema_version`` to :data:`SCHEMA_VERSION`.
The migration runner refuses an item of a kind it does not find here, so a new kind is added
here before anything writes it (a test on the local stack checks every item a realistic flow
writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from content_service.migrations import SCHEMA_VERSION

ATTRIBUTE = "schema_version"


@dataclass(frozen=True)
class ItemKind:
    name: str
    migrated: bool
    """True: the item follows the table's version; False: always version 1 (see the module doc)."""

    @property
    def version(self) -> int:
        """The version the code writes for this kind."""
        return SCHEMA_VERSION if self.migrated else 1


AGGREGATES = (
    "package",
    "device",
    "device_slots",
    "device_key",
    "bundle",
    "licence",
    "tamper_report",
    "storage_tamper",
    "export",
    "tenant_settings",
    "assistant_config",
    "assistant_generation",
    "tenant_migration",
    "tenant_migration_lock",
)
PROJECTIONS = (
    "sync_device",
    "sync_bundle",
    "feed_entry",
    "feed_claim",
    "inbox",
    "package_holder",
    "withdrawal",
    "withdrawal_chunk",
)
#: Kinds the code no longer writes but a table may still hold, so a migration still knows them:
#: the feed's claim items (a feed append was two puts until it learnt to find an event in its tail).
RETIRED = ("feed_claim",)
FIXED = ("migrations", "idempotency")

ITEM_KINDS: dict[str, ItemKind] = {
    **{name: ItemKind(name, migrated=True) for name in (*AGGREGATES, *PROJECTIONS)},
    **{name: ItemKind(name, migrated=False) for name in FIXED},
}


class UnknownItemKind(ValueError):
    """An item whose ``entity`` names no kind above: nothing may write it, no migration knows it."""


def kind_of(item: dict[str, Any]) -> ItemKind:
    """The kind of a stored item (as boto3 returns it); UnknownItemKind if it names none."""
    name = item.get("entity", {}).get("S")
    if name not in ITEM_KINDS:
        where = f"{item.get('pk', {}).get('S')} / {item.get('sk', {}).get('S')}"
        raise UnknownItemKind(
            f"item {where} is of kind {name!r}, which content_service.migrations.kinds does not list"
        )
    return ITEM_KINDS[name]


def version_of(item: dict[str, Any]) -> int:
    """The schema version an item carries (1 if it has no stamp: written before versions)."""
    return int(item.get(ATTRIBUTE, {}).get("N", "1"))


def stamped(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (a boto3 put's ``Item``) with the schema version its kind is written at."""
    return {**item, ATTRIBUTE: {"N": str(kind_of(item).version)}}


def versioned_update(kind: str, expression: str, values: dict[str, Any]) -> dict[str, Any]:
    """The ``UpdateExpression`` and values of an update that may create its item, stamping it.

    An item that exists keeps its stamp (``if_not_exists``): an update changes only the attributes
    it names, so the rest of the item is still in the format its stamp says, and a migration moves
    it on. ``expression`` is one ``SET`` and/or one ``ADD`` clause, as DynamoDB allows.
    """
    clause = f"{ATTRIBUTE} = if_not_exists({ATTRIBUTE}, :schema_version)"
    if "SET " in expression:
        head, tail = expression.split("SET ", 1)
        updated = f"{head}SET {clause}, {tail}"
    else:
        updated = f"{expression} SET {clause}"
    return {
        "UpdateExpression": updated,
        "ExpressionAttributeValues": {**values, ":schema_version": {"N": str(ITEM_KINDS[kind].version)}},
    }
