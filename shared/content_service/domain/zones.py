"""Residency zones: a named, ordered set of regions (primary first) a tenant's data never leaves."""

from __future__ import annotations

import re
from dataclasses import dataclass

from content_service.domain.errors import ValidationFailed

ZONE_NAME = re.compile(r"^[a-z]{2,8}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
DEFAULT_ZONES = "eu=eu-west-1,eu-central-1;us=us-east-1,us-west-2"


@dataclass(frozen=True)
class Zone:
    name: str
    regions: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.regions[0]


@dataclass(frozen=True)
class Zones:
    """The deployment's zones; parsed once from configuration (``RESIDENCY_ZONES``)."""

    zones: tuple[Zone, ...]

    @classmethod
    def parse(cls, text: str) -> Zones:
        """``eu=eu-west-1,eu-central-1;us=us-east-1,us-west-2``; a malformed entry is a ValueError."""
        zones: list[Zone] = []
        for entry in filter(None, (part.strip() for part in text.split(";"))):
            name, _, regions_text = entry.partition("=")
            regions = tuple(r.strip() for r in regions_text.split(",") if r.strip())
            if not ZONE_NAME.fullmatch(name.strip()) or not regions or not all(REGION.fullmatch(r) for r in regions):
                raise ValueError(f"RESIDENCY_ZONES: {entry!r} is not zone=region[,region...]")
            zones.append(Zone(name.strip(), regions))
        names = [zone.name for zone in zones]
        regions_seen = [region for zone in zones for region in zone.regions]
        if len(set(names)) != len(names) or len(set(regions_seen)) != len(regions_seen):
            raise ValueError("RESIDENCY_ZONES: a zone or region appears twice (a region is in one zone)")
        if not zones:
            raise ValueError("RESIDENCY_ZONES names no zone")
        return cls(tuple(zones))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(zone.name for zone in self.zones)

    def get(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise ValidationFailed(f"unknown residency zone {name!r}; zones are {', '.join(self.names)}")
