"""The local stack's view of template.yaml follows the region's role, as CloudFormation's would."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.local.stack import LocalStack, find_template
from content_service.local.template import load_local_template
from tests.infrastructure.conditions import SECONDARY

TEMPLATE = find_template()


def test_the_default_parameters_make_the_single_region_primary() -> None:
    local = load_local_template(TEMPLATE)
    assert set(local.tables) == {"Table", "IdempotencyTable"}
    assert "FanOutFunction" in local.functions
    assert "BundlesDistribution" in local.resources
    assert "SigningKeyReplica" not in local.resources
    config = local.resources["BundlesDistribution"]["Properties"]["DistributionConfig"]
    assert [origin["Id"] for origin in config["Origins"]] == ["bundles"]
    assert "OriginGroups" not in config


def test_a_secondary_has_no_table_keys_or_distribution_of_its_own() -> None:
    # Before its replica stream is named, a secondary runs no fan-out (and needs no stream locally).
    local = load_local_template(
        TEMPLATE, region="eu-central-1", parameter_overrides={**SECONDARY, "TableReplicaStreamLabel": ""}
    )
    assert set(local.tables) == {"IdempotencyTable"}
    assert "FanOutFunction" not in local.functions
    assert {"BundlesDistribution", "SigningKey", "ContentKey", "CdnSigningKeySecret"}.isdisjoint(
        local.resources
    )
    assert {"SigningKeyReplica", "ContentKeyReplica"} <= set(local.resources)
    environment = local.environment_for("ApiFunction")
    assert environment["TABLE_NAME"] == f"{local.stack_name}-table"
    assert environment["CDN_DOMAIN"] == SECONDARY["ZoneDistributionDomain"]
    assert environment["CDN_KEY_SECRET_ARN"] == f"{local.stack_name}/cdn-signing-key"


def test_a_primary_with_a_peer_fronts_both_buckets_with_an_origin_group() -> None:
    local = load_local_template(TEMPLATE, parameter_overrides={"PeerRegion": "eu-central-1"})
    config = local.resources["BundlesDistribution"]["Properties"]["DistributionConfig"]
    assert [origin["Id"] for origin in config["Origins"]] == ["bundles", "bundles-peer"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "bundles-failover"
    peer = local.resolver.resolve(config["Origins"][1]["DomainName"])
    assert peer == f"{local.stack_name}-bundles-{local.account_id}-eu-central-1.s3.eu-central-1.amazonaws.com"


def test_a_local_stack_refuses_a_peer_outside_its_zone(tmp_path: Path) -> None:
    # The default zone is eu; us-east-1 would put the zone's replicas in another zone.
    with pytest.raises(ValueError, match="not a pair of zone 'eu'"):
        LocalStack(home=tmp_path, peer_region="us-east-1", write_state_file=False).start()
