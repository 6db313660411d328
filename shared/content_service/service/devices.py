"""Device use cases: enroll (within the per-user cap, atomically), read, list, revoke."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from content_service.crypto.device_keys import enrollable_device_key
from content_service.domain.device import Device
from content_service.domain.device_slots import DeviceSlotsChanged
from content_service.domain.errors import Forbidden
from content_service.domain.principal import Principal
from content_service.service.access import device_for
from content_service.service.ports import Clock, DevicePage, DeviceRepository, LicenceRecords

T = TypeVar("T")

ENROL_ATTEMPTS = 10
"""Tries of a slots write that keeps losing races: far more than one user's enrolments contend for."""


def enroll_device(
    tenant_id: str,
    user_id: str,
    public_key: dict[str, Any],
    name: str,
    *,
    devices: DeviceRepository,
    clock: Clock,
    device_cap: int,
    attempts: int = ENROL_ATTEMPTS,
    pause: Callable[[int], None] | None = None,
) -> Device:
    """Enroll a device of the caller with its X25519 public key, within the user's device cap.

    The cap is kept by the slots record (``domain.device_slots``): read it, take a slot, and write
    the device, the slots and the key claim in one transaction conditional on the slots' revision.
    A lost race re-reads and tries again, up to ``attempts`` times with jittered pauses; each
    conflict means another writer changed the slots, so with no revocations a caller can lose
    at most ``device_cap`` times before it sees the cap reached.

    Raises ValidationFailed or InvalidKey (422) for a key that is not a public X25519 JWK,
    WeakDeviceKey (422) for one of small order, DeviceLimitReached (409) past the cap,
    DeviceKeyAlreadyEnrolled (409) for a key the tenant already has, DeviceSlotsChanged (409)
    if every attempt lost a race.
    """
    device = Device.enroll(
        tenant_id=tenant_id,
        device_id=f"dev_{uuid.uuid4().hex}",
        user_id=user_id,
        name=name,
        public_key=public_key,
        now=clock.now(),
    )
    thumbprint = enrollable_device_key(device.public_key)

    def attempt() -> Device:
        slots = devices.slots(tenant_id, user_id).take(device.device_id, clock.now(), device_cap)
        return devices.enroll(device, slots, thumbprint)

    return _retrying_slot_races(attempt, attempts, pause or jittered_pause)


def get_device(principal: Principal, device_id: str, *, devices: DeviceRepository) -> Device:
    """One device: a learner's own, or any of the tenant for catalog and admin."""
    return device_for(principal, device_id, devices)


def list_devices(
    principal: Principal,
    *,
    devices: DeviceRepository,
    cursor: str | None,
    limit: int,
    user_id: str | None = None,
) -> DevicePage:
    """A user's devices: the caller's own, or (catalog and admin) the named user's.

    A service client has no devices of its own: without ``user_id`` its list is empty.
    """
    owner = user_id or principal.principal_id
    if not principal.may_act_for(owner):
        raise Forbidden("listing another user's devices needs the catalog or admin role")
    return devices.list_for_user(principal.tenant_id, owner, cursor, limit)


def revoke_device(
    principal: Principal,
    device_id: str,
    reason: str,
    *,
    devices: DeviceRepository,
    clock: Clock,
    records: LicenceRecords,
    offline_grace: timedelta,
    attempts: int = ENROL_ATTEMPTS,
    pause: Callable[[int], None] | None = None,
) -> Device:
    """Revoke a device (its owner, or an admin); revoking it again returns it unchanged (idempotent).

    The device's slot is freed only when it can no longer play offline: at the latest expiry of
    its licences plus the offline grace (or the revocation plus the grace, if it never had one).
    The revocation and the release are two writes; the release is repeated by every revocation
    of the device, so a revocation that stopped between them is completed by the next one, and
    until then the slot stays held, which errs on the side of the cap.

    Known limit: a licence issued in the same moment as the revocation (its record written after
    the release time was computed) is not counted; closing that needs the licence issue to write
    its record only while the device is still active.
    """
    device = device_for(principal, device_id, devices)
    tenant_id = principal.tenant_id
    if device.is_active:
        device = devices.save(device.revoke(reason, clock.now()))
    revoked_at = device.updated_at
    release_at = max(records.latest_expiry(tenant_id, device_id) or revoked_at, revoked_at) + offline_grace

    def attempt() -> None:
        slots = devices.slots(tenant_id, device.user_id)
        released = slots.release(device_id, release_at)
        if released != slots:
            devices.save_slots(released)

    _retrying_slot_races(attempt, attempts, pause or jittered_pause)
    return device


def _retrying_slot_races(operation: Callable[[], T], attempts: int, pause: Callable[[int], None]) -> T:
    """Run ``operation`` (which reads the slots afresh) until it does not lose a race, ``attempts`` at most."""
    for attempt in range(1, attempts):
        try:
            return operation()
        except DeviceSlotsChanged:
            pause(attempt)
    return operation()


def jittered_pause(attempt: int) -> None:
    """The default pause after a lost race: up to 20 ms, 40 ms, ... capped at 200 ms."""
    # Full jitter (a random pause up to an exponentially growing ceiling) spreads the retries of
    # writers that collided, so they do not collide again in lock step.
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))  # noqa: S311 (not a secret)
