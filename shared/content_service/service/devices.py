"""Device use cases: enroll (within the per-user cap), read, list, revoke."""

from __future__ import annotations

import uuid
from typing import Any

from content_service.domain.device import Device, check_device_cap
from content_service.domain.errors import InvalidTransition
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


def get_device(tenant_id: str, device_id: str, *, devices: DeviceRepository) -> Device:
    return devices.get(tenant_id, device_id)


def list_devices(
    tenant_id: str, user_id: str, *, devices: DeviceRepository, cursor: str | None, limit: int
) -> DevicePage:
    return devices.list_for_user(tenant_id, user_id, cursor, limit)


def revoke_device(
    tenant_id: str, device_id: str, reason: str, *, devices: DeviceRepository, clock: Clock
) -> Device:
    """Revoke a device; revoking it again returns it unchanged (idempotent)."""
    device = devices.get(tenant_id, device_id)
    try:
        return devices.save(device.revoke(reason, clock.now()))
    except InvalidTransition:
        return device
