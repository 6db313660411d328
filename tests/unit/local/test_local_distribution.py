"""Deriving the local edge from a template: trusted keys, origin, headers and local CloudFront ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_service.crypto.cdn import local_key_pair_id
from content_service.local.distribution import (
    distributions,
    provide_cdn_key_pair,
    seed_cloudfront_ids,
    set_edge_domain,
)
from content_service.local.template import load_local_template

TEMPLATE = """
Parameters:
  Pem: {Type: String}
Resources:
  Origin:
    Type: AWS::S3::Bucket
  Key:
    Type: AWS::CloudFront::PublicKey
    Properties:
      PublicKeyConfig: {Name: k, CallerReference: k, EncodedKey: !Ref Pem}
  Group:
    Type: AWS::CloudFront::KeyGroup
    Properties:
      KeyGroupConfig: {Name: g, Items: [!Ref Key]}
  Headers:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: h
        SecurityHeadersConfig:
          ContentSecurityPolicy: {ContentSecurityPolicy: "default-src 'none'", Override: true}
          StrictTransportSecurity: {AccessControlMaxAgeSec: 60, IncludeSubdomains: true, Override: true}
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - {Id: o, DomainName: !GetAtt Origin.RegionalDomainName, S3OriginConfig: {OriginAccessIdentity: ""}}
        DefaultCacheBehavior:
          TargetOriginId: o
          ViewerProtocolPolicy: https-only
          TrustedKeyGroups: [!Ref Group]
          ResponseHeadersPolicyId: !Ref Headers
"""


@pytest.fixture
def template_path(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def test_the_edge_trusts_exactly_the_key_groups_public_keys(template_path: Path) -> None:
    local = load_local_template(template_path)
    pair = provide_cdn_key_pair(local)
    seed_cloudfront_ids(local)

    assert pair is not None
    (spec,) = distributions(local)
    assert spec.bucket_logical_id == "Origin"
    assert spec.trusted_keys == {local_key_pair_id(pair.public_key_pem): pair.public_key_pem}
    assert local.resolver.refs["Key"] == local_key_pair_id(pair.public_key_pem)
    assert spec.response_headers == {
        "Content-Security-Policy": "default-src 'none'",
        "Strict-Transport-Security": "max-age=60; includeSubDomains",
    }


def test_a_given_public_key_is_kept_and_no_pair_is_made(template_path: Path) -> None:
    local = load_local_template(template_path, parameter_overrides={"Pem": "PEM-FROM-AN-OPERATOR"})
    assert provide_cdn_key_pair(local) is None
    assert local.resolver.refs["Pem"] == "PEM-FROM-AN-OPERATOR"


def test_the_domain_looks_like_cloudfronts_until_an_edge_serves_it(template_path: Path) -> None:
    local = load_local_template(template_path)
    provide_cdn_key_pair(local)
    seed_cloudfront_ids(local)
    assert local.resolver.resolve({"Fn::GetAtt": ["Cdn", "DomainName"]}).endswith(".cloudfront.net")
    set_edge_domain(local, "Cdn", "127.0.0.1:8443")
    assert local.resolver.resolve({"Fn::GetAtt": ["Cdn", "DomainName"]}) == "127.0.0.1:8443"


def test_an_origin_that_is_not_a_template_bucket_is_refused(template_path: Path) -> None:
    template_path.write_text(
        TEMPLATE.replace("!GetAtt Origin.RegionalDomainName", "example.com"), encoding="utf-8"
    )
    local = load_local_template(template_path)
    provide_cdn_key_pair(local)
    seed_cloudfront_ids(local)
    with pytest.raises(ValueError, match="origin"):
        distributions(local)
