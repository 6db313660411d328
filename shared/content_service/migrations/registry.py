"""Every migration, in order. A new one is appended with the next number; none is ever edited."""

from __future__ import annotations

from content_service.domain.licence import LicenceTerms
from content_service.migrations.m0002_device_slots import DeviceSlotsMigration
from content_service.migrations.runner import Migration


def migrations(terms: LicenceTerms | None = None) -> list[Migration]:
    return [DeviceSlotsMigration(terms)]
