"""Device use cases: enroll (within the per-user cap), read, list, revoke."""

from __future__ import annotations

import uuid
from typing import Any

from content_service.domain.device import Device, check_device_cap
from content_service.domain.errors import Forbidden, InvalidTransition
from content_service.domain.principal import Principal
from content_service.service.access import device_for
from content_service.service.ports import Clock, DevicePage, DeviceRepository


def enroll_device(
    tenant_id: str,
    user_id: str,
    public_key: dict[str, Any],
    name: str,
    *,
    devices: DeviceRepository,
    clock: Clock,
    device_cap: int,
) -> Device:
    """Enroll a device of the caller with its X25519 public key; refused past the user's device cap."""
    check_device_cap(devices.count_active(tenant_id, user_id), device_cap)
    device = Device.enroll(
        tenant_id=tenant_id,
        device_id=f"dev_{uuid.uuid4().hex}",
        user_id=user_id,
        name=name,
        public_key=public_key,
        now=clock.now(),
    )
    return devices.add(device)


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
    principal: Principal, device_id: str, reason: str, *, devices: DeviceRepository, clock: Clock
) -> Device:
    """Revoke a device (its owner, or an admin); revoking it again returns it unchanged (idempotent)."""
    device = device_for(principal, device_id, devices)
    try:
        return devices.save(device.revoke(reason, clock.now()))
    except InvalidTransition:
        return device
