"""Derive the local CloudFront edge's configuration from the template's distribution.

The edge serves the bucket the distribution's origin names, trusts exactly the public keys of
the key groups its default cache behavior lists, and adds the security headers of its response
headers policy. CloudFront ids (distribution, key group, public key, OAC) get local values: a
public key's id is derived from the key itself, so it is stable for one key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from content_service.crypto.cdn import CdnKeyPair, generate_key_pair, local_key_pair_id
from content_service.local.intrinsics import logical_id_of
from content_service.local.template import LocalTemplate

# An S3 origin named by its regional domain, as an origin group's peer bucket is.
_S3_REGIONAL_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]+)\.s3\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$"
)

_CLOUDFRONT_ID_PREFIX = {
    "AWS::CloudFront::Distribution": "E",
    "AWS::CloudFront::KeyGroup": "kg-",
    "AWS::CloudFront::OriginAccessControl": "oac-",
    "AWS::CloudFront::ResponseHeadersPolicy": "rhp-",
}


@dataclass(frozen=True)
class DistributionSpec:
    """What the local edge needs from one ``AWS::CloudFront::Distribution``."""

    logical_id: str
    bucket_logical_id: str
    trusted_keys: dict[str, str]
    """Key pair id → PEM public key, for every key in the behavior's trusted key groups."""
    response_headers: dict[str, str] = field(default_factory=dict)
    failover: tuple[tuple[str, str], ...] = ()
    """The origin group's next origins, as (bucket name, region), in failover order."""
    failover_statuses: frozenset[int] = frozenset()


def provide_cdn_key_pair(template: LocalTemplate) -> CdnKeyPair | None:
    """Make the CDN key pair an operator would, if a public key's parameter has no value yet.

    The template takes the public key as a parameter (``CdnPublicKeyPem``); locally nobody passes
    one, so a fresh RSA-2048 pair stands in. Its private half must then go into the CDN key secret
    (:func:`content_service.local.keys.put_cdn_private_key`). Returns None when nothing was made.
    """
    made: CdnKeyPair | None = None
    for resource in template.of_type("AWS::CloudFront::PublicKey").values():
        parameter = logical_id_of(resource["Properties"]["PublicKeyConfig"]["EncodedKey"])
        if parameter is None or parameter in template.resolver.refs:
            continue
        made = made or generate_key_pair()
        template.resolver.refs[parameter] = made.public_key_pem
    return made


def seed_cloudfront_ids(template: LocalTemplate) -> None:
    """Give CloudFront resources local ids before anything refers to them (the CDN secret does)."""
    refs, attributes = template.resolver.refs, template.resolver.attributes
    for logical_id, resource in template.resources.items():
        kind = resource.get("Type", "")
        if kind == "AWS::CloudFront::PublicKey":
            encoded = template.resolver.resolve(resource["Properties"]["PublicKeyConfig"]["EncodedKey"])
            refs[logical_id] = local_key_pair_id(str(encoded))
        elif kind in _CLOUDFRONT_ID_PREFIX:
            refs[logical_id] = f"{_CLOUDFRONT_ID_PREFIX[kind]}local{logical_id}".upper()[:32]
        else:
            continue
        attributes[(logical_id, "Id")] = refs[logical_id]
        if kind == "AWS::CloudFront::Distribution":
            # Until a local edge serves it (and set_edge_domain says where), it looks like AWS's.
            attributes[(logical_id, "DomainName")] = f"{refs[logical_id].lower()}.cloudfront.net"


def set_edge_domain(template: LocalTemplate, logical_id: str, domain: str) -> None:
    """Record where the local edge answers as the distribution's ``DomainName`` (host:port)."""
    template.resolver.attributes[(logical_id, "DomainName")] = domain


def distributions(template: LocalTemplate) -> list[DistributionSpec]:
    """Every distribution whose origin is a bucket of this template."""
    specs = []
    for logical_id, resource in template.of_type("AWS::CloudFront::Distribution").items():
        config = resource["Properties"]["DistributionConfig"]
        behavior = config["DefaultCacheBehavior"]
        members, statuses = _origin_group(config, behavior["TargetOriginId"])
        origins = {o["Id"]: o for o in config["Origins"]}
        origin = origins[members[0]]
        bucket = logical_id_of(origin["DomainName"])
        if bucket is None or bucket not in template.buckets:
            raise ValueError(
                f"{logical_id}: the local edge needs an origin of !GetAtt <Bucket>.RegionalDomainName"
            )
        specs.append(
            DistributionSpec(
                logical_id=logical_id,
                bucket_logical_id=bucket,
                trusted_keys=_trusted_keys(template, behavior.get("TrustedKeyGroups", [])),
                response_headers=_response_headers(template, behavior.get("ResponseHeadersPolicyId")),
                failover=tuple(_s3_origin(template, origins[member]) for member in members[1:]),
                failover_statuses=statuses,
            )
        )
    return specs


def _origin_group(config: dict[str, Any], target: str) -> tuple[list[str], frozenset[int]]:
    """The origin ids a behavior's target stands for, in order, and the group's failover statuses."""
    for group in config.get("OriginGroups", {}).get("Items", []):
        if group["Id"] == target:
            members = [m["OriginId"] for m in group["Members"]["Items"]]
            statuses = frozenset(int(s) for s in group["FailoverCriteria"]["StatusCodes"]["Items"])
            return members, statuses
    return [target], frozenset()


def _s3_origin(template: LocalTemplate, origin: dict[str, Any]) -> tuple[str, str]:
    domain = str(template.resolver.resolve(origin["DomainName"]))
    match = _S3_REGIONAL_DOMAIN.fullmatch(domain)
    if match is None:
        raise ValueError(f"the local edge needs an S3 regional domain as a failover origin, not {domain!r}")
    return match["bucket"], match["region"]


def _trusted_keys(template: LocalTemplate, groups: list[Any]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for group in groups:
        group_id = logical_id_of(group)
        if group_id is None:
            raise ValueError("the local edge needs TrustedKeyGroups as !Ref <KeyGroup>")
        items = template.resources[group_id]["Properties"]["KeyGroupConfig"]["Items"]
        for item in items:
            key_id = logical_id_of(item)
            if key_id is None:
                raise ValueError("the local edge needs key group items as !Ref <PublicKey>")
            config = template.resources[key_id]["Properties"]["PublicKeyConfig"]
            keys[template.resolver.refs[key_id]] = str(template.resolver.resolve(config["EncodedKey"]))
    return keys


def _response_headers(template: LocalTemplate, policy_ref: Any) -> dict[str, str]:
    policy_id = logical_id_of(policy_ref)
    if policy_id is None:
        return {}
    config = template.resolver.resolve(template.resources[policy_id]["Properties"])[
        "ResponseHeadersPolicyConfig"
    ]
    security = config.get("SecurityHeadersConfig", {})
    headers: dict[str, str] = {}
    if "ContentSecurityPolicy" in security:
        headers["Content-Security-Policy"] = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    if "FrameOptions" in security:
        headers["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    if "ReferrerPolicy" in security:
        headers["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        if hsts.get("IncludeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("Preload"):
            value += "; preload"
        headers["Strict-Transport-Security"] = value
    return headers
