"""template.yaml per region of a zone: replicas and key replicas stay in the zone, failover is wired.

Each test looks at one deployed shape through :func:`for_parameters`: the default single-region
primary, a primary with a peer (eu-west-1 → eu-central-1) and its secondary (in eu-central-1).
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from content_service.domain.zones import DEFAULT_ZONES, Zones
from tests.infrastructure.conditions import PRIMARY_WITH_PEER, SECONDARY, Evaluator, for_parameters

ROOT = Path(__file__).resolve().parents[2]
ZONES = Zones.parse(DEFAULT_ZONES)
ALL_REGIONS = [region for zone in ZONES.zones for region in zone.regions]


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    template, errors = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not errors
    return json.loads(json.dumps(template))


@pytest.fixture(scope="module")
def transformed(sam: dict[str, Any]) -> dict[str, Any]:
    packaged = copy.deepcopy(sam)
    for logical_id, resource in packaged["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{logical_id}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged, {}, _NoManagedPolicies())


@pytest.fixture(scope="module")
def single(transformed: dict[str, Any]) -> dict[str, Any]:
    return for_parameters(transformed)


@pytest.fixture(scope="module")
def primary(transformed: dict[str, Any]) -> dict[str, Any]:
    return for_parameters(transformed, PRIMARY_WITH_PEER)


@pytest.fixture(scope="module")
def secondary(transformed: dict[str, Any]) -> dict[str, Any]:
    return for_parameters(transformed, SECONDARY, region="eu-central-1")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _region_refs(value: Any) -> set[str]:
    """Which regions a value names: ``AWS::Region``, ``PeerRegion`` or a literal region."""
    text = json.dumps(value)
    found = {name for name in ("AWS::Region", "PeerRegion") if name in text}
    return found | {region for region in ALL_REGIONS if region in text}


# ------------------------------------------------------------------ the zone rules
@pytest.mark.parametrize(("zone", "region", "peer"), itertools.product(ZONES.names, ALL_REGIONS, ALL_REGIONS))
def test_the_rules_refuse_every_stack_or_peer_outside_its_zone(
    sam: dict[str, Any], zone: str, region: str, peer: str
) -> None:
    broken = Evaluator(sam, {"ResidencyZone": zone, "PeerRegion": peer}, region=region).broken_rules()
    regions = ZONES.get(zone).regions
    assert (broken == []) == (region in regions and peer in regions)


def test_a_single_region_stack_needs_no_peer(sam: dict[str, Any]) -> None:
    assert Evaluator(sam, {}).broken_rules() == []
    assert Evaluator(sam, {"ResidencyZone": "us"}, region="us-west-2").broken_rules() == []


def test_a_secondary_without_its_primary_keys_and_distribution_is_refused(sam: dict[str, Any]) -> None:
    assert Evaluator(sam, SECONDARY, region="eu-central-1").broken_rules() == []
    for missing in ("PeerRegion", "PrimarySigningKeyId", "ZoneDistributionDomain"):
        parameters = {**SECONDARY, missing: ""}
        assert Evaluator(sam, parameters, region="eu-central-1").broken_rules(), missing


def test_the_peer_region_choices_are_the_zones_regions(sam: dict[str, Any]) -> None:
    assert sorted(sam["Parameters"]["PeerRegion"]["AllowedValues"]) == sorted(["", *ALL_REGIONS])


# ---------------------------------------------------------------- table and keys
def test_the_global_table_has_replicas_only_here_and_in_the_peer(
    single: dict[str, Any], primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    assert [r["Region"] for r in single["Resources"]["Table"]["Properties"]["Replicas"]] == [
        {"Ref": "AWS::Region"}
    ]
    replicas = primary["Resources"]["Table"]["Properties"]["Replicas"]
    assert [r["Region"] for r in replicas] == [{"Ref": "AWS::Region"}, {"Ref": "PeerRegion"}]
    assert all(r["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for r in replicas)
    # A global table needs a stream of both images to replicate; the fan-out reads it too.
    assert primary["Resources"]["Table"]["Properties"]["StreamSpecification"] == {
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    }
    assert "Table" not in secondary["Resources"], "the secondary must not own a second table"


def test_the_secondary_uses_its_replica_of_the_primarys_table(secondary: dict[str, Any]) -> None:
    api = secondary["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["TABLE_NAME"] == {"Fn::Sub": "${AWS::StackName}-table"}
    stream = _of_type(secondary, "AWS::Lambda::EventSourceMapping")
    fan_out = [m for m in stream.values() if m["Properties"]["FunctionName"] == {"Ref": "FanOutFunction"}]
    (mapping,) = fan_out
    arn = mapping["Properties"]["EventSourceArn"]["Fn::Sub"]
    assert arn.startswith("arn:${AWS::Partition}:dynamodb:${AWS::Region}:")
    assert arn.endswith(":table/${AWS::StackName}-table/stream/${TableReplicaStreamLabel}")


def test_a_secondary_runs_no_fan_out_until_its_replica_stream_is_named(transformed: dict[str, Any]) -> None:
    waiting = for_parameters(transformed, {**SECONDARY, "TableReplicaStreamLabel": ""}, "eu-central-1")
    assert "FanOutFunction" not in waiting["Resources"]


def test_keys_are_multi_region_primaries_with_replicas_only_in_the_peer(
    primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    keys = _of_type(primary, "AWS::KMS::Key")
    assert set(keys) == {"SigningKey", "ContentKey"}
    assert all(k["Properties"]["MultiRegion"] is True for k in keys.values())
    assert _of_type(primary, "AWS::KMS::ReplicaKey") == {}
    assert _of_type(secondary, "AWS::KMS::Key") == {}
    replicas = _of_type(secondary, "AWS::KMS::ReplicaKey")
    assert set(replicas) == {"SigningKeyReplica", "ContentKeyReplica"}
    for name, replica in replicas.items():
        arn = replica["Properties"]["PrimaryKeyArn"]["Fn::Sub"]
        # The primary key lives in PeerRegion (in the zone, by the rules) and nowhere else.
        assert arn.startswith("arn:${AWS::Partition}:kms:${PeerRegion}:${AWS::AccountId}:key/"), name
        primary_policy = primary["Resources"][name.removesuffix("Replica")]["Properties"]["KeyPolicy"]
        assert replica["Properties"]["KeyPolicy"] == primary_policy, "a replica's policy is its own"


def test_the_secondary_signs_and_unwraps_with_its_replicas(secondary: dict[str, Any]) -> None:
    api = secondary["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["SIGNING_KEY_IDS"] == {"Ref": "SigningKeyReplica"}
    assert api["CONTENT_KEY_ID"] == {"Ref": "ContentKeyReplica"}
    role = secondary["Resources"]["ApiFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    kms = {json.dumps(s["Resource"]) for s in statements if any(a.startswith("kms:") for a in s["Action"])}
    assert kms == {
        json.dumps({"Fn::GetAtt": ["SigningKeyReplica", "Arn"]}),
        json.dumps({"Fn::GetAtt": ["ContentKeyReplica", "Arn"]}),
    }


def test_the_cdn_key_secret_is_replicated_only_to_the_peer(
    single: dict[str, Any], primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    assert "ReplicaRegions" not in single["Resources"]["CdnSigningKeySecret"]["Properties"]
    assert primary["Resources"]["CdnSigningKeySecret"]["Properties"]["ReplicaRegions"] == [
        {"Region": {"Ref": "PeerRegion"}}
    ]
    assert _of_type(secondary, "AWS::SecretsManager::Secret") == {}
    api = secondary["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["CDN_KEY_SECRET_ARN"] == {"Fn::Sub": "${AWS::StackName}/cdn-signing-key"}


def test_nothing_names_a_region_but_this_one_and_the_peer(
    primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    for stack in (primary, secondary):
        for name, resource in stack["Resources"].items():
            named = _region_refs(resource)
            if resource["Type"] == "AWS::CloudWatch::Dashboard" and "AWS/CloudFront" in json.dumps(resource):
                # CloudFront publishes its metrics in us-east-1 only; a widget reads them there and
                # nothing of a tenant is stored by it.
                named -= {"us-east-1"}
            assert named <= {"AWS::Region", "PeerRegion"}, (name, named)


# ------------------------------------------------------------------------ bucket
def test_the_primary_replicates_bundles_to_the_peer_with_rtc_and_keeps_deletes_local(
    single: dict[str, Any], primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    assert "ReplicationConfiguration" not in single["Resources"]["BundlesBucket"]["Properties"]
    assert "ReplicationConfiguration" not in secondary["Resources"]["BundlesBucket"]["Properties"]
    bucket = primary["Resources"]["BundlesBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert secondary["Resources"]["BundlesBucket"]["Properties"]["VersioningConfiguration"] == {
        "Status": "Enabled"
    }
    (rule,) = bucket["ReplicationConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    destination = rule["Destination"]
    assert destination["Bucket"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-bundles-${AWS::AccountId}-${PeerRegion}"
    }
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"]["Status"] == "Enabled"
    # The replica's name is the secondary's bucket name: same stack name, the peer's region.
    assert secondary["Resources"]["BundlesBucket"]["Properties"]["BucketName"] == {
        "Fn::Sub": "${AWS::StackName}-bundles-${AWS::AccountId}-${AWS::Region}"
    }


def test_the_replication_role_reads_only_the_bundles_and_writes_only_the_peers(
    primary: dict[str, Any],
) -> None:
    role = primary["Resources"]["BundlesReplicationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    writes = [s for s in statements if "s3:ReplicateObject" in s["Action"]]
    assert [s["Resource"]["Fn::Sub"] for s in writes] == [
        "arn:${AWS::Partition}:s3:::${AWS::StackName}-bundles-${AWS::AccountId}-${PeerRegion}/*"
    ]
    assert not any("s3:ReplicateDelete" in s["Action"] for s in statements), "deletes stay local"


# ------------------------------------------------------------------ distribution
def test_one_distribution_per_zone_fails_over_to_the_peer_through_the_oac(
    single: dict[str, Any], primary: dict[str, Any], secondary: dict[str, Any]
) -> None:
    assert "BundlesDistribution" not in secondary["Resources"]
    assert (
        "OriginGroups" not in single["Resources"]["BundlesDistribution"]["Properties"]["DistributionConfig"]
    )
    config = primary["Resources"]["BundlesDistribution"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert set(origins) == {"bundles", "bundles-peer"}
    assert origins["bundles-peer"]["DomainName"] == {
        "Fn::Sub": "${AWS::StackName}-bundles-${AWS::AccountId}-${PeerRegion}.s3.${PeerRegion}.${AWS::URLSuffix}"
    }
    for origin in origins.values():
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["BundlesOriginAccessControl", "Id"]}
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (group,) = config["OriginGroups"]["Items"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["bundles", "bundles-peer"]
    codes = group["FailoverCriteria"]["StatusCodes"]
    assert sorted(codes["Items"]) == [403, 404, 500, 502, 503, 504]
    assert codes["Quantity"] == len(codes["Items"])


def test_the_secondary_bucket_is_read_only_by_the_zones_distribution(secondary: dict[str, Any]) -> None:
    statements = secondary["Resources"]["BundlesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ZoneDistributionId}"
    }
    api = secondary["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["CDN_DOMAIN"] == {"Ref": "ZoneDistributionDomain"}


def test_both_api_endpoints_reach_the_functions(primary: dict[str, Any]) -> None:
    api = primary["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api["PEER_API_URL"] == {"Ref": "PeerApiUrl"}


# -------------------------------------------------------------------------- lint
@pytest.mark.parametrize(
    ("parameters", "region"),
    [(PRIMARY_WITH_PEER, "eu-west-1"), (SECONDARY, "eu-central-1")],
    ids=["primary-with-peer", "secondary"],
)
def test_each_regions_stack_passes_cfn_lint(
    transformed: dict[str, Any], parameters: dict[str, str], region: str
) -> None:
    chosen = for_parameters(transformed, parameters, region)
    chosen.pop("Rules", None)  # the rules were evaluated above; what is left is one concrete stack
    chosen.pop("Conditions", None)
    for name, spec in chosen["Parameters"].items():
        if name in parameters:
            spec["Default"] = parameters[name]
    matches = [str(m) for m in lint(json.dumps(chosen), regions=[region])]
    # Parameters only the other roles use are unused in one role's stack; that is the point.
    assert [m for m in matches if not m.startswith("[W2001:")] == []
