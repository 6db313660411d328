"""A user's device slots: the rule that bounds how many of their devices can play at once.

Every enrolled device takes a slot. An active device holds its slot indefinitely. A revoked
device still holds it until its ``release_at``: the expiry of its last licence plus the offline
grace, because until then it can go on playing offline whatever the server says. So the cap
(``device_cap``) bounds how many devices can play content at the same moment, not merely how
many are marked active; revoking a lost phone does not free its slot while the phone could
still play. Slots whose release time has passed are pruned when the user next enrols a device.

Why one record per (tenant, user) with a revision, rather than counting device items: the
count-then-put this replaces let twelve parallel enrolments make eleven devices against a
cap of five, because each counted before any had written. Here an enrolment reads the slots,
applies :meth:`DeviceSlots.take` (prune, then check the cap), and stores the result in the same
transaction as the new device, on condition that the record's revision is still the one it
read. Of two racing enrolments only one can write that revision; the other re-reads and applies
the rule again to what the winner wrote. The cap is thus checked against the state that is
actually replaced, which is what makes it hold under any interleaving.

Pure: no I/O and no clock; times are parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from content_service.domain.device import check_device_cap
from content_service.domain.errors import ConcurrencyConflict, InvariantViolated


class DeviceSlotsChanged(ConcurrencyConflict):
    """The slots record changed between read and write (another enrolment or revocation won).

    Callers re-read and apply the rule again; past their retry budget it is an ordinary 409.
    """


@dataclass(frozen=True)
class DeviceSlot:
    """One device's claim on a slot; ``release_at`` is None while the device is active."""

    device_id: str
    release_at: datetime | None = None

    def held_at(self, now: datetime) -> bool:
        """Whether the device can still play at ``now`` (active, or revoked but not yet released)."""
        return self.release_at is None or now < self.release_at


@dataclass(frozen=True)
class DeviceSlots:
    """The slots of one user in one tenant, as stored at ``revision`` (0: never stored)."""

    tenant_id: str
    user_id: str
    slots: tuple[DeviceSlot, ...] = ()
    revision: int = 0

    @classmethod
    def first(cls, tenant_id: str, user_id: str, active_device_ids: Iterable[str]) -> DeviceSlots:
        """The record of a user who has none yet: one held slot per device already active.

        Devices enrolled before slots existed are counted this way, so the cap does not start
        from zero for a user who already has devices.
        """
        return cls(tenant_id, user_id, tuple(DeviceSlot(d) for d in sorted(set(active_device_ids))))

    def held(self, now: datetime) -> tuple[DeviceSlot, ...]:
        """The slots still taken at ``now``."""
        return tuple(slot for slot in self.slots if slot.held_at(now))

    def take(self, device_id: str, now: datetime, cap: int) -> DeviceSlots:
        """Prune released slots and give ``device_id`` a slot; DeviceLimitReached if none is free."""
        held = self.held(now)
        if any(slot.device_id == device_id for slot in held):
            raise InvariantViolated(f"device {device_id} already holds a slot")
        check_device_cap(len(held), cap)
        return replace(self, slots=(*held, DeviceSlot(device_id)))

    def release(self, device_id: str, release_at: datetime) -> DeviceSlots:
        """The slots with ``device_id``'s slot freed at ``release_at``: the device was revoked.

        A release time only ever moves later (a second revocation that learns of a later licence
        extends it, an earlier one never shortens it). A device without a slot is left alone: its
        slot was never taken (it predates slots and was revoked before the record existed).
        """
        slots = tuple(
            replace(slot, release_at=release_at)
            if slot.device_id == device_id and (slot.release_at is None or slot.release_at < release_at)
            else slot
            for slot in self.slots
        )
        return replace(self, slots=slots)
