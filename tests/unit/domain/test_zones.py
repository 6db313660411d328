"""Residency zones parsed from RESIDENCY_ZONES: spacing tolerated, every other mistake refused."""

from __future__ import annotations

import re

import pytest

from content_service.domain.errors import ValidationFailed
from content_service.domain.zones import Zone, Zones


def test_zones_parse_with_spaces_and_empty_entries_and_keep_their_order() -> None:
    zones = Zones.parse(" eu = eu-west-1 , eu-central-1 ;; us=us-east-1, ;")
    assert zones == Zones((Zone("eu", ("eu-west-1", "eu-central-1")), Zone("us", ("us-east-1",))))
    assert zones.names == ("eu", "us")
    assert zones.get("eu").primary == "eu-west-1"
    assert zones.get("us") == Zone("us", ("us-east-1",))


@pytest.mark.parametrize(
    "entry", ["eu", "eu=", "eu=,", "e=eu-west-1", "europeans=eu-west-1", "eu=eu-west-1,EU-west-2", "eu=euwest-1"]
)
def test_a_malformed_entry_is_named_in_the_error(entry: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(f"RESIDENCY_ZONES: {entry!r} is not zone=region[,region...]") + "$"):
        Zones.parse(f"us=us-east-1;{entry}")


@pytest.mark.parametrize("text", ["eu=eu-west-1;eu=eu-central-1", "eu=eu-west-1;us=eu-west-1", "eu=eu-west-1,eu-west-1"])
def test_a_zone_or_region_named_twice_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^RESIDENCY_ZONES: a zone or region appears twice \(a region is in one zone\)$"):
        Zones.parse(text)


@pytest.mark.parametrize("text", ["", " ; ;"])
def test_a_configuration_without_zones_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="^RESIDENCY_ZONES names no zone$"):
        Zones.parse(text)


def test_an_unknown_zone_lists_the_known_ones() -> None:
    with pytest.raises(ValidationFailed, match=r"^unknown residency zone 'ap'; zones are eu, us$"):
        Zones.parse("eu=eu-west-1;us=us-east-1").get("ap")
