"""How ``local up`` plans its zones from the template, before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from content_service.domain.errors import ValidationFailed
from content_service.local.stack import find_template
from content_service.local.template import DEFAULT_STACK_NAME
from content_service.local.zones import PICKED_PORTS, plan_zones

TEMPLATE = find_template(Path(__file__).parent)


def test_every_zone_runs_with_its_peer_and_names_the_others_as_migration_targets() -> None:
    eu, us = plan_zones(TEMPLATE, port=8080)

    assert (eu.zone, eu.region, eu.peer_region, eu.stack_name, eu.port) == (
        "eu",
        "eu-west-1",
        "eu-central-1",
        DEFAULT_STACK_NAME,
        8080,
    )
    assert (us.zone, us.region, us.peer_region, us.stack_name) == (
        "us",
        "us-east-1",
        "us-west-2",
        f"{DEFAULT_STACK_NAME}-us",
    )
    assert us.port in PICKED_PORTS
    assert eu.parameters["ResidencyZone"] == "eu" and us.parameters["ResidencyZone"] == "us"
    to_us = json.loads(eu.parameters["MigrationTargets"])
    assert to_us == {
        "us": {
            "region": "us-east-1",
            "table_name": f"{DEFAULT_STACK_NAME}-us-table",
            "buckets": {
                "bundles": f"{DEFAULT_STACK_NAME}-us-bundles-123456789012-us-east-1",
                "packages": f"{DEFAULT_STACK_NAME}-us-packagesbucket",
                "exports": f"{DEFAULT_STACK_NAME}-us-exportsbucket",
            },
            "api_endpoints": [f"http://127.0.0.1:{us.port}/prod"],
        }
    }
    to_eu = json.loads(us.parameters["MigrationTargets"])
    assert list(to_eu) == ["eu"] and to_eu["eu"]["api_endpoints"] == ["http://127.0.0.1:8080/prod"]
    assert to_eu["eu"]["table_name"] == f"{DEFAULT_STACK_NAME}-table"


def test_one_zone_runs_as_local_up_always_did() -> None:
    (eu,) = plan_zones(TEMPLATE, ["eu"])
    assert (eu.region, eu.peer_region, eu.stack_name, eu.port) == ("eu-west-1", None, DEFAULT_STACK_NAME, 0)
    assert eu.parameters == {"ResidencyZone": "eu"}
    (us,) = plan_zones(TEMPLATE, ["us"], peer_region="us-west-2")
    assert (us.region, us.peer_region, us.stack_name) == (
        "us-east-1",
        "us-west-2",
        f"{DEFAULT_STACK_NAME}-us",
    )


def test_a_peer_region_with_several_zones_an_unknown_or_a_repeated_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="--peer-region needs one --zone"):
        plan_zones(TEMPLATE, peer_region="eu-central-1")
    with pytest.raises(ValidationFailed, match="unknown residency zone 'mars'"):
        plan_zones(TEMPLATE, ["mars"])
    with pytest.raises(ValueError, match="named twice"):
        plan_zones(TEMPLATE, ["eu", "eu"])
