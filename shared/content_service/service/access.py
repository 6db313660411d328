"""Ownership where a resource is loaded: the use cases' half of the policy table.

The resolver has already checked the caller's role. Here a user's device or bundle is loaded for a
principal: another tenant's, or (for a caller without a tenant-wide role) another user's, is not
found, exactly as if it did not exist, so neither its existence nor its state is revealed.
"""

from __future__ import annotations

from content_service.domain.bundle import Bundle
from content_service.domain.device import Device
from content_service.domain.errors import NotFound
from content_service.domain.principal import Principal
from content_service.service.ports import BundleRepository, DeviceRepository


def device_for(
    principal: Principal, device_id: str, devices: DeviceRepository, *, owner_only: bool = False
) -> Device:
    """The device if the caller may act on it (``owner_only``: only its owner may), else NotFound."""
    device = devices.get(principal.tenant_id, device_id)
    if not _allowed(principal, device.user_id, owner_only):
        raise NotFound(f"device {device_id} not found")
    return device


def bundle_for(
    principal: Principal, bundle_id: str, bundles: BundleRepository, *, owner_only: bool = False
) -> Bundle:
    """The bundle if the caller may act on it (``owner_only``: only its user may), else NotFound."""
    bundle = bundles.get(principal.tenant_id, bundle_id)
    if not _allowed(principal, bundle.user_id, owner_only):
        raise NotFound(f"bundle {bundle_id} not found")
    return bundle


def _allowed(principal: Principal, owner: str, owner_only: bool) -> bool:
    if owner_only:
        return owner == principal.principal_id
    return principal.may_act_for(owner)
