"""A tenant's residency migration: a resumable state machine that moves its data to another zone.

::

    requested -> copying -> verifying -> verified -> switched -> cleaning -> done
         \\__________\\___________\\__________\\-> failed     (only before the switch)

Every step works in batches and records where it got to (``cursor``) and what it did (the
counters), so a worker that crashes mid-step resumes from the last recorded batch: re-copying an
object or item that was already copied writes the same bytes again, so a batch repeated after a
crash is harmless. The switch is the only step that changes what the tenant is: one conditional
write that moves the tenant's zone only while it is still in the source zone and this migration
is ``verified``. Until then the source zone serves everything; after it the source copies stay
for ``grace`` (devices holding old signed URLs and endpoints finish what they were doing), and
only then are they deleted.

The aggregate does no I/O; each transition returns a new value with the event it records.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from content_service.domain.errors import InvalidTransition, ValidationFailed
from content_service.domain.events import DomainEvent
from content_service.domain.zones import Zones


class MigrationState(enum.StrEnum):
    #: Recorded; no data has moved yet.
    REQUESTED = "requested"
    #: Copying every object and item of the tenant to the target zone.
    COPYING = "copying"
    #: Reading every copy back and comparing its SHA-256 with the source's (re-copying a mismatch).
    VERIFYING = "verifying"
    #: Every copy matched; the switch may happen.
    VERIFIED = "verified"
    #: The tenant's zone is the target; devices are being told; the source copies wait for the grace.
    SWITCHED = "switched"
    #: Deleting the source zone's copies.
    CLEANING = "cleaning"
    DONE = "done"
    #: Given up before the switch: the tenant never left the source zone.
    FAILED = "failed"


FINAL = frozenset({MigrationState.DONE, MigrationState.FAILED})

#: The order of the states a migration goes through (``failed`` aside).
ORDER = (
    MigrationState.REQUESTED,
    MigrationState.COPYING,
    MigrationState.VERIFYING,
    MigrationState.VERIFIED,
    MigrationState.SWITCHED,
    MigrationState.CLEANING,
    MigrationState.DONE,
)

#: How long the source zone keeps its copies after the switch, by default.
DEFAULT_GRACE = timedelta(days=7)

MIGRATED_FEED_TYPE = "tenant.migrated"


def migration_id(tenant_id: str, source_zone: str, target_zone: str, requested_at: datetime) -> str:
    """A stable id for one request (the same request replayed names the same migration)."""
    material = f"{tenant_id}\x00{source_zone}\x00{target_zone}\x00{requested_at.isoformat()}".encode()
    return "mig_" + hashlib.sha256(material).hexdigest()[:32]


def device_event_id(migration: str, device_id: str) -> str:
    """The event id of a migration's ``tenant.migrated`` change in one device's feed."""
    return "evt_" + hashlib.sha256(f"{migration}\x00{device_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Counters:
    """What a migration has done so far; every count is of distinct objects or items."""

    objects_copied: int = 0
    items_copied: int = 0
    bytes_copied: int = 0
    objects_verified: int = 0
    items_verified: int = 0
    recopied: int = 0
    devices_notified: int = 0
    objects_deleted: int = 0
    items_deleted: int = 0

    def add(self, **counts: int) -> Counters:
        for name, value in counts.items():
            if value < 0:
                raise ValueError(f"{name} cannot go down")
        return replace(self, **{name: getattr(self, name) + value for name, value in counts.items()})

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TenantMigration:
    tenant_id: str
    migration_id: str
    source_zone: str
    target_zone: str
    state: MigrationState
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    grace: timedelta = DEFAULT_GRACE
    #: Where the current step got to (the last key it finished); None: at the step's start.
    cursor: str | None = None
    counters: Counters = field(default_factory=Counters)
    objects_total: int | None = None
    items_total: int | None = None
    switched_at: datetime | None = None
    notified_at: datetime | None = None
    clean_after: datetime | None = None
    completed_at: datetime | None = None
    failure: str | None = None
    revision: int = 0
    events: tuple[DomainEvent, ...] = ()

    # ----------------------------------------------------------- creation
    @classmethod
    def request(
        cls,
        *,
        tenant_id: str,
        source_zone: str,
        target_zone: str,
        zones: Zones,
        by: str,
        now: datetime,
        grace: timedelta = DEFAULT_GRACE,
    ) -> TenantMigration:
        """A new migration of the tenant from its zone to ``target_zone`` (a known, other zone)."""
        zones.get(target_zone)
        zones.get(source_zone)
        if target_zone == source_zone:
            raise ValidationFailed(f"tenant {tenant_id} is already in zone {target_zone}")
        if grace < timedelta(0):
            raise ValidationFailed("the grace period cannot be negative")
        ident = migration_id(tenant_id, source_zone, target_zone, now)
        migration = cls(
            tenant_id=tenant_id,
            migration_id=ident,
            source_zone=source_zone,
            target_zone=target_zone,
            state=MigrationState.REQUESTED,
            requested_by=by,
            requested_at=now,
            updated_at=now,
            grace=grace,
        )
        return migration._record("content.tenant.migration_requested.v1", now)

    # -------------------------------------------------------- transitions
    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    @property
    def step(self) -> str:
        """The work the migration is waiting for (what the worker runs next)."""
        if self.state is MigrationState.SWITCHED:
            return "notify" if self.notified_at is None else "clean"
        return {
            MigrationState.REQUESTED: "copy",
            MigrationState.COPYING: "copy",
            MigrationState.VERIFYING: "verify",
            MigrationState.VERIFIED: "switch",
            MigrationState.CLEANING: "clean",
        }.get(self.state, "none")

    def start_copying(self, now: datetime) -> TenantMigration:
        self._require(MigrationState.REQUESTED)
        return replace(self, state=MigrationState.COPYING, cursor=None, updated_at=now)._record(
            "content.tenant.migration_copying.v1", now
        )

    def copied(self, *, objects: int, items: int, size: int, cursor: str, now: datetime) -> TenantMigration:
        """One batch copied, up to and including ``cursor``."""
        self._require(MigrationState.COPYING)
        return replace(
            self,
            cursor=cursor,
            counters=self.counters.add(objects_copied=objects, items_copied=items, bytes_copied=size),
            updated_at=now,
        )

    def copy_finished(self, now: datetime) -> TenantMigration:
        """Every object and item is copied; the totals are what was copied."""
        self._require(MigrationState.COPYING)
        return replace(
            self,
            state=MigrationState.VERIFYING,
            cursor=None,
            objects_total=self.counters.objects_copied,
            items_total=self.counters.items_copied,
            updated_at=now,
        )._record("content.tenant.migration_verifying.v1", now)

    def verified_batch(
        self, *, objects: int, items: int, recopied: int, cursor: str, now: datetime
    ) -> TenantMigration:
        """One batch of copies read back and found equal (``recopied`` of them only after a re-copy)."""
        self._require(MigrationState.VERIFYING)
        return replace(
            self,
            cursor=cursor,
            counters=self.counters.add(objects_verified=objects, items_verified=items, recopied=recopied),
            updated_at=now,
        )

    def verification_finished(self, now: datetime) -> TenantMigration:
        """Every copy is verified. What the source holds now is the total: writes made while copying
        are in the verification's count (it reads the source again), so the totals follow it."""
        self._require(MigrationState.VERIFYING)
        return replace(
            self,
            state=MigrationState.VERIFIED,
            cursor=None,
            objects_total=self.counters.objects_verified,
            items_total=self.counters.items_verified,
            updated_at=now,
        )._record("content.tenant.migration_verified.v1", now)

    def switch(self, now: datetime) -> TenantMigration:
        """The tenant is in the target zone from now on; the source copies stay for the grace."""
        self._require(MigrationState.VERIFIED)
        return replace(
            self,
            state=MigrationState.SWITCHED,
            cursor=None,
            switched_at=now,
            clean_after=now + self.grace,
            updated_at=now,
        )._record("content.tenant.migrated.v1", now)

    def devices_told(self, *, devices: int, cursor: str, now: datetime) -> TenantMigration:
        self._require(MigrationState.SWITCHED)
        if self.notified_at is not None:
            raise InvalidTransition(f"migration {self.migration_id} has told every device already")
        return replace(self, cursor=cursor, counters=self.counters.add(devices_notified=devices), updated_at=now)

    def notify_finished(self, now: datetime) -> TenantMigration:
        self._require(MigrationState.SWITCHED)
        if self.notified_at is not None:
            return self
        return replace(self, cursor=None, notified_at=now, updated_at=now)

    def start_cleaning(self, now: datetime) -> TenantMigration:
        """Begin deleting the source copies: only once every device was told and the grace is over."""
        self._require(MigrationState.SWITCHED)
        if self.notified_at is None:
            raise InvalidTransition(f"migration {self.migration_id} has not told every device yet")
        if self.clean_after is None or now < self.clean_after:
            raise InvalidTransition(
                f"migration {self.migration_id} keeps the source copies until {self.clean_after}"
            )
        return replace(self, state=MigrationState.CLEANING, cursor=None, updated_at=now)._record(
            "content.tenant.migration_cleaning.v1", now
        )

    def cleaned(self, *, objects: int, items: int, cursor: str, now: datetime) -> TenantMigration:
        self._require(MigrationState.CLEANING)
        return replace(
            self,
            cursor=cursor,
            counters=self.counters.add(objects_deleted=objects, items_deleted=items),
            updated_at=now,
        )

    def finish(self, now: datetime) -> TenantMigration:
        self._require(MigrationState.CLEANING)
        return replace(self, state=MigrationState.DONE, cursor=None, completed_at=now, updated_at=now)._record(
            "content.tenant.migration_done.v1", now
        )

    def fail(self, reason: str, now: datetime) -> TenantMigration:
        """Give up; only before the switch (afterwards the tenant lives in the target: go forward)."""
        if self.state in FINAL or ORDER.index(self.state) >= ORDER.index(MigrationState.SWITCHED):
            raise InvalidTransition(
                f"migration {self.migration_id} is {self.state.value}: it can no longer fail", state=self.state.value
            )
        return replace(
            self, state=MigrationState.FAILED, failure=reason[:500], completed_at=now, updated_at=now
        )._record("content.tenant.migration_failed.v1", now)

    # ------------------------------------------------------------ helpers
    def progress(self) -> dict[str, Any]:
        """Counters and totals as one dict (the GET route's ``progress``)."""
        return {**self.counters.as_dict(), "objects_total": self.objects_total, "items_total": self.items_total}

    def cleared_events(self) -> TenantMigration:
        return replace(self, events=())

    def _require(self, state: MigrationState) -> None:
        if self.state is not state:
            raise InvalidTransition(
                f"migration {self.migration_id} is {self.state.value}, not {state.value}", state=self.state.value
            )

    def _record(self, name: str, now: datetime) -> TenantMigration:
        event = DomainEvent(
            name=name,
            tenant_id=self.tenant_id,
            subject_id=self.migration_id,
            occurred_at=now,
            data={"source_zone": self.source_zone, "target_zone": self.target_zone, "state": self.state.value},
        )
        return replace(self, events=(*self.events, event))
