"""Residency migration: move a tenant's objects and items to another zone, resumably.

The flow (docs/regions.md "Residency migration" has the why; docs/runbook.md how to operate it)::

    admin --POST /v1/tenant/migrations {target_zone}--> TenantMigration requested (+ active lock)
        --> MigrationQueue (SQS) --> migrate fn: :meth:`Migrations.run`, batch after batch:
    copy     every object (bundles, packages, exports buckets) and item (the table) of the tenant
    verify   read both copies back, compare SHA-256; a mismatch or a missing copy is copied again
    switch   one transaction: the tenant's settings move to the target zone only while they are
             still in the source zone at the revision read, and the migration is ``verified``
    notify   catch up what changed in the source since its verification (never over a newer
             target write), then ``tenant.migrated`` with the target's API endpoints in every
             device's feed, in both zones; devices re-point
    clean    once the grace period is over: delete the source zone's copies, in every region

Every batch ends with one conditional save of the migration (its cursor and counters), so a
worker that dies anywhere resumes from the last saved batch; whatever it did after that save is
done again, and every piece of work is idempotent (a copy writes the same bytes, a feed append is
once per event id, a delete of something gone is a no-op).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, BinaryIO, Protocol

from content_service.domain.errors import ConcurrencyConflict, Forbidden, InvalidTransition
from content_service.domain.migration import (
    MIGRATED_FEED_TYPE,
    MigrationState,
    TenantMigration,
    device_event_id,
)
from content_service.domain.principal import Principal, Role
from content_service.domain.tenant import TenantSettings
from content_service.domain.zones import Zones
from content_service.service.outbox_ports import FeedChange, Metrics, SyncStore
from content_service.service.ports import Clock, TenantSettingsRepository

logger = logging.getLogger(__name__)

OBJECTS_COPIED = "MigrationObjectsCopied"
ITEMS_COPIED = "MigrationItemsCopied"
RECOPIED = "MigrationRecopied"


# ------------------------------------------------------------------ ports
@dataclass(frozen=True)
class StoredObject:
    """One object of a tenant: ``name`` is ``{bucket role}/{key}``, the same in every zone."""

    name: str
    size: int


class ObjectStore(Protocol):
    """A zone's buckets, seen as one namespace of tenant objects."""

    def page(self, tenant_id: str, after: str | None, limit: int) -> list[StoredObject]:
        """The tenant's objects with a name after ``after``, in name order."""
        ...

    def open(self, name: str) -> BinaryIO | None:
        """The current version's bytes (None if absent)."""
        ...

    def digest(self, name: str) -> str | None:
        """SHA-256 (hex) of the current version, read in full (None if absent)."""
        ...

    def write(self, name: str, body: BinaryIO) -> tuple[str, int]:
        """Store ``body`` under ``name``; returns the SHA-256 and the size of what was written."""
        ...

    def delete(self, name: str) -> int:
        """Delete every version of ``name`` in every region of the zone; returns versions deleted."""
        ...


@dataclass(frozen=True)
class StoredItem:
    """One item of a tenant: its key (``pk``, ``sk``), the digest of its data and the data itself."""

    key: tuple[str, str]
    digest: str
    data: Any = field(compare=False, repr=False)
    revision: int | None = None


class ItemStore(Protocol):
    """A zone's table, seen as the tenant's items (without the migration's own records)."""

    def page(self, tenant_id: str, after: str | None, limit: int) -> tuple[list[StoredItem], str | None]:
        """Up to ``limit`` items after the cursor ``after``, and the next cursor (None: the end)."""
        ...

    def get(self, key: tuple[str, str]) -> StoredItem | None: ...

    def put(self, item: StoredItem, *, only_if_newer: bool = False) -> bool:
        """Write the item; with ``only_if_newer`` only over nothing or a lower revision. True if written."""
        ...

    def delete(self, key: tuple[str, str]) -> bool: ...

    def devices(self, tenant_id: str) -> list[tuple[str, str]]:
        """(device id, state) of every device of the tenant."""
        ...

    def pointer_key(self, tenant_id: str) -> tuple[str, str]:
        """The key of the tenant's settings item, which a clean-up keeps (it names the new zone)."""
        ...


@dataclass(frozen=True)
class ZoneData:
    """Where one zone keeps a tenant: its objects, its items, its device feeds, its API."""

    zone: str
    objects: ObjectStore
    items: ItemStore
    feeds: SyncStore
    api_endpoints: tuple[str, ...] = ()


class MigrationRepository(Protocol):
    """Migrations, and the one active migration per tenant."""

    def add(self, migration: TenantMigration) -> TenantMigration:
        """Store a new migration as the tenant's active one; InvalidTransition if another is active."""
        ...

    def get(self, tenant_id: str, migration_id: str) -> TenantMigration: ...

    def active(self, tenant_id: str) -> TenantMigration | None: ...

    def save(self, migration: TenantMigration) -> TenantMigration:
        """Write over the revision read (ConcurrencyConflict if it changed); a final migration
        releases the tenant's active lock in the same write."""
        ...

    def switch(self, migration: TenantMigration, settings: TenantSettings) -> TenantMigration:
        """One transaction: the migration (``verified`` → ``switched``, at its revision) and the
        settings (at the revision read, zone still the source) written together, or neither."""
        ...


class MigrationQueue(Protocol):
    def send(self, tenant_id: str, migration_id: str, delay_seconds: int = 0) -> None: ...


#: ``fault(point)`` is called at every checkpoint of a run; a test raises from it to crash there.
Fault = Callable[[str], None]


def _no_fault(point: str) -> None:
    return None


# -------------------------------------------------------------- API cases
def request_migration(
    principal: Principal,
    target_zone: str,
    *,
    migrations: MigrationRepository,
    settings: TenantSettingsRepository,
    queue: MigrationQueue,
    zones: Zones,
    served_zone: str,
    clock: Clock,
    grace: timedelta,
    configured: Collection[str] | None = None,
) -> TenantMigration:
    """Start moving the caller's tenant to ``target_zone`` (admins). Asking again for the same zone
    while that migration runs returns it; another zone while one runs is a 409."""
    if not principal.has_any({Role.ADMIN}):
        raise Forbidden("a residency migration needs the admin role")
    tenant = principal.tenant_id
    # Which zones are targets is this deployment's configuration, not the request's shape: a
    # well-formed zone that cannot be a target is a conflict with that state (409), not a 422.
    if target_zone not in zones.names:
        raise InvalidTransition(f"zone {target_zone} is not a residency zone; zones are {', '.join(zones.names)}")
    if target_zone == served_zone:
        raise InvalidTransition(f"tenant {tenant} is in zone {served_zone} already", zone=served_zone)
    if configured is not None and target_zone not in configured:
        raise InvalidTransition(f"zone {target_zone} is not configured as a migration target (MIGRATION_TARGETS)")
    active = migrations.active(tenant)
    if active is not None:
        if active.target_zone != target_zone:
            raise InvalidTransition(
                f"migration {active.migration_id} to zone {active.target_zone} is running",
                migration_id=active.migration_id,
            )
        queue.send(tenant, active.migration_id)
        return active
    current = settings.get(tenant) or TenantSettings.defaults(tenant, served_zone)
    if current.zone != served_zone:
        raise InvalidTransition(
            f"tenant {tenant} is in zone {current.zone}; migrations start where the tenant lives",
            zone=current.zone,
        )
    migration = migrations.add(
        TenantMigration.request(
            tenant_id=tenant,
            source_zone=current.zone,
            target_zone=target_zone,
            zones=zones,
            by=principal.principal_id,
            now=clock.now(),
            grace=grace,
        )
    )
    queue.send(tenant, migration.migration_id)
    return migration


def migration_of(principal: Principal, migration_id: str, *, migrations: MigrationRepository) -> TenantMigration:
    if not principal.has_any({Role.ADMIN}):
        raise Forbidden("reading a residency migration needs the admin role")
    return migrations.get(principal.tenant_id, migration_id)


# ------------------------------------------------------------- the worker
@dataclass(frozen=True)
class RunOutcome:
    migration: TenantMigration
    #: Seconds until the worker should run this migration again; None: it is final.
    again_in: int | None


@dataclass
class Migrations:
    """Runs migrations step by step; every step resumes from the migration's saved progress."""

    migrations: MigrationRepository
    settings: TenantSettingsRepository
    source: ZoneData
    targets: Callable[[str], ZoneData]
    metrics: Metrics
    clock: Clock
    batch_size: int = 100
    fault: Fault = _no_fault

    def run(self, tenant_id: str, migration_id: str, *, max_batches: int = 50) -> RunOutcome:
        """Advance the migration by up to ``max_batches`` saved batches.

        Returns when it is final, when the budget is spent (run again at once) or when it waits
        for the grace period (run again after ``again_in`` seconds).
        """
        migration = self.migrations.get(tenant_id, migration_id)
        target = self.targets(migration.target_zone)
        for _ in range(max_batches):
            if migration.is_final:
                return RunOutcome(migration, None)
            step = migration.step
            if step == "clean" and migration.state is MigrationState.SWITCHED:
                assert migration.clean_after is not None
                wait = (migration.clean_after - self.clock.now()).total_seconds()
                if wait > 0:
                    return RunOutcome(migration, int(wait) + 1)
            migration = getattr(self, f"_{step}")(migration, target)
            self.fault(f"{step}:saved")
        return RunOutcome(migration, None if migration.is_final else 0)

    # Each step below does one batch of work, then one conditional save.
    def _copy(self, migration: TenantMigration, target: ZoneData) -> TenantMigration:
        if migration.state is MigrationState.REQUESTED:
            return self._save(migration.start_copying(self.clock.now()))
        phase, at = _split(migration.cursor)
        now = self.clock.now()
        if phase == "objects":
            batch = self.source.objects.page(migration.tenant_id, at, self.batch_size)
            if not batch:
                return self._save(migration.copied(objects=0, items=0, size=0, cursor="items:", now=now))
            size = 0
            for stored in batch:
                size += self._copy_object(stored.name, target)
            self.fault("copy:worked")
            self.metrics.count(OBJECTS_COPIED, len(batch))
            return self._save(
                migration.copied(objects=len(batch), items=0, size=size, cursor=f"objects:{batch[-1].name}", now=now)
            )
        items, following = self.source.items.page(migration.tenant_id, at or None, self.batch_size)
        for item in items:
            target.items.put(item)
        self.fault("copy:worked")
        self.metrics.count(ITEMS_COPIED, len(items))
        copied = migration.copied(objects=0, items=len(items), size=0, cursor=f"items:{following or ''}", now=now)
        if following is None:
            copied = copied.copy_finished(now)
        return self._save(copied)

    def _verify(self, migration: TenantMigration, target: ZoneData) -> TenantMigration:
        phase, at = _split(migration.cursor)
        now = self.clock.now()
        recopied = 0
        if phase == "objects":
            batch = self.source.objects.page(migration.tenant_id, at, self.batch_size)
            if not batch:
                return self._save(
                    migration.verified_batch(objects=0, items=0, recopied=0, cursor="items:", now=now)
                )
            for stored in batch:
                recopied += self._verify_object(stored.name, target)
            self.metrics.count(RECOPIED, recopied)
            return self._save(
                migration.verified_batch(
                    objects=len(batch), items=0, recopied=recopied, cursor=f"objects:{batch[-1].name}", now=now
                )
            )
        items, following = self.source.items.page(migration.tenant_id, at or None, self.batch_size)
        for item in items:
            copy = target.items.get(item.key)
            if copy is None or copy.digest != item.digest:
                target.items.put(item)
                copy = target.items.get(item.key)
                if copy is None or copy.digest != item.digest:
                    raise VerificationFailed(f"item {item.key} differs in zone {target.zone} after a re-copy")
                recopied += 1
        self.metrics.count(RECOPIED, recopied)
        verified = migration.verified_batch(
            objects=0, items=len(items), recopied=recopied, cursor=f"items:{following or ''}", now=now
        )
        if following is None:
            verified = verified.verification_finished(now)
        return self._save(verified)

    def _switch(self, migration: TenantMigration, target: ZoneData) -> TenantMigration:
        now = self.clock.now()
        current = self.settings.get(migration.tenant_id) or TenantSettings.defaults(
            migration.tenant_id, migration.source_zone
        )
        if current.zone != migration.source_zone:
            raise InvalidTransition(
                f"tenant {migration.tenant_id} left zone {migration.source_zone} outside this migration"
            )
        moved = TenantSettings(
            tenant_id=current.tenant_id,
            zone=migration.target_zone,
            tamper_auto_revoke=current.tamper_auto_revoke,
            branding=current.branding,
            revision=current.revision,
            updated_at=now,
            updated_by=f"migration:{migration.migration_id}",
        )
        return self.migrations.switch(migration.switch(now).cleared_events(), moved)

    def _notify(self, migration: TenantMigration, target: ZoneData) -> TenantMigration:
        now = self.clock.now()
        if migration.cursor is None:
            # Catch up first: what changed in the source between its verification and the switch
            # (a revocation, a feed entry) reaches the target, never over a newer target write.
            # The switched settings item (its revision one up) is among it: from here on the
            # target's own settings say the tenant is in the target zone.
            caught = self._catch_up(migration, target)
            self.fault("notify:caught-up")
            return self._save(migration.devices_told(devices=0, cursor=f"caught-up:{caught}", now=now))
        told = 0
        for device_id, state in self.source.items.devices(migration.tenant_id):
            if state != "active":
                continue
            change = FeedChange(
                MIGRATED_FEED_TYPE,
                "",
                # Stable across runs: the feed finds an entry of this event by its time.
                migration.switched_at or migration.requested_at,
                device_event_id(migration.migration_id, device_id),
                detail={"zone": migration.target_zone, "api_endpoints": list(target.api_endpoints)},
            )
            # The target first: a device re-pointed by the source's entry finds it there.
            target.feeds.append(migration.tenant_id, device_id, change)
            self.source.feeds.append(migration.tenant_id, device_id, change)
            # Counted whether or not this run appended it: a run repeated after a crash finds its
            # entries there (once per event id) and still told the device.
            told += 1
        self.fault("notify:worked")
        return self._save(migration.devices_told(devices=told, cursor="told", now=now).notify_finished(now))

    def _clean(self, migration: TenantMigration, target: ZoneData) -> TenantMigration:
        now = self.clock.now()
        if migration.state is MigrationState.SWITCHED:
            return self._save(migration.start_cleaning(now))
        # Items first, objects after: the bucket watcher takes the removal of an object that a
        # record still names for tampering, and an object without its record for nothing.
        phase, at = _split(migration.cursor or "items:")
        if phase == "items":
            # A scan's position stays valid when the items before it are deleted. The settings
            # item stays: it says the tenant is in the target zone, so this zone never takes it for
            # a new tenant of its own.
            items, following = self.source.items.page(migration.tenant_id, at, self.batch_size)
            keep = self.source.items.pointer_key(migration.tenant_id)
            deleted = sum(1 for item in items if item.key != keep and self.source.items.delete(item.key))
            self.fault("clean:worked")
            cursor = "objects:" if following is None else f"items:{following}"
            return self._save(migration.cleaned(objects=0, items=deleted, cursor=cursor, now=now))
        batch = self.source.objects.page(migration.tenant_id, at, self.batch_size)
        if not batch:
            return self._save(migration.finish(now))
        for stored in batch:
            self.source.objects.delete(stored.name)
        self.fault("clean:worked")
        return self._save(
            migration.cleaned(objects=len(batch), items=0, cursor=f"objects:{batch[-1].name}", now=now)
        )

    # ------------------------------------------------------------ helpers
    def _copy_object(self, name: str, target: ZoneData) -> int:
        body = self.source.objects.open(name)
        if body is None:
            return 0  # Deleted since it was listed: nothing of it to move.
        with body:
            _, size = target.objects.write(name, body)
        return size

    def _verify_object(self, name: str, target: ZoneData) -> int:
        """0 if the target's copy has the source's SHA-256, 1 after a re-copy that made it so."""
        expected = self.source.objects.digest(name)
        if expected is None:
            return 0
        if target.objects.digest(name) == expected:
            return 0
        self._copy_object(name, target)
        if target.objects.digest(name) != expected:
            raise VerificationFailed(f"object {name} differs in zone {target.zone} after a re-copy")
        return 1

    def _catch_up(self, migration: TenantMigration, target: ZoneData) -> int:
        caught = 0
        after: str | None = None
        while True:
            items, after = self.source.items.page(migration.tenant_id, after, self.batch_size)
            caught += sum(1 for item in items if target.items.put(item, only_if_newer=True))
            if after is None:
                break
        objects_after: str | None = None
        while batch := self.source.objects.page(migration.tenant_id, objects_after, self.batch_size):
            for stored in batch:
                if target.objects.digest(stored.name) is None:
                    self._copy_object(stored.name, target)
                    caught += 1
            objects_after = batch[-1].name
        return caught

    def _save(self, migration: TenantMigration) -> TenantMigration:
        try:
            return self.migrations.save(migration.cleared_events())
        except ConcurrencyConflict:
            # Another worker saved first (a redelivered message ran alongside): its progress stands,
            # this batch's work was idempotent, and the queue runs the migration again.
            logger.info("a concurrent run moved the migration on", extra={"migration_id": migration.migration_id})
            raise


class VerificationFailed(RuntimeError):
    """A copy still differs after being copied again: the worker stops and the queue retries."""


def _split(cursor: str | None) -> tuple[str, str | None]:
    """``objects:{name}`` / ``items:{scan cursor}`` → (phase, position); None: the objects' start."""
    if not cursor:
        return "objects", None
    phase, _, at = cursor.partition(":")
    return phase, at or None


def sha256_of(chunks: Any) -> tuple[str, int]:
    """SHA-256 (hex) and length of a stream of byte chunks."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
